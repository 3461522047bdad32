"""``_bulk`` and the single-document APIs (``_doc``, ``_create``, ``_update``, ``_source``, ``_mget``).

The whole NDJSON body is parsed before anything is applied: a malformed action line fails the request
(400) and changes nothing, as in Elasticsearch. Document lines are parsed per item, so a bad document
fails only its item. Items rejected by fault injection (429 ``es_rejected_execution_exception``) are
not applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import EsError, illegal_argument, index_not_found, validation_failed
from samplerr.devserver.faults import rejected_execution
from samplerr.devserver.http import Request, Response, product_origin
from samplerr.devserver.mapping import DocumentRejectedError
from samplerr.devserver.source import parse_source as parse_source_filter
from samplerr.devserver.store import Doc, Index, auto_id
from samplerr.devserver.writes import Writer, item_error

JsonDict = dict[str, Any]
ACTIONS = ("index", "create", "update", "delete")
META_KEYS = frozenset(
    {
        "_index",
        "_id",
        "routing",
        "version",
        "version_type",
        "if_seq_no",
        "if_primary_term",
        "pipeline",
        "require_alias",
        "retry_on_conflict",
        "op_type",
        "_source",
        "dynamic_templates",
        "require_data_stream",
        "list_executed_pipelines",
    }
)
BULK_PARAMS = frozenset(
    {
        "refresh",
        "routing",
        "timeout",
        "wait_for_active_shards",
        "pipeline",
        "require_alias",
        "require_data_stream",
        "_source",
        "_source_includes",
        "_source_excludes",
        "list_executed_pipelines",
        "include_source_on_error",
    }
)
DELETE_DOC_PARAMS = frozenset(
    {
        "if_seq_no",
        "if_primary_term",
        "version",
        "version_type",
        "refresh",
        "routing",
        "timeout",
        "wait_for_active_shards",
    }
)
DOC_PARAMS = DELETE_DOC_PARAMS | {
    "op_type",
    "pipeline",
    "require_alias",
    "require_data_stream",
    "include_source_on_error",
    "list_executed_pipelines",
}
GET_PARAMS = frozenset(
    {
        "_source",
        "_source_includes",
        "_source_excludes",
        "realtime",
        "refresh",
        "routing",
        "preference",
        "stored_fields",
        "version",
        "version_type",
        "force_synthetic_source",
    }
)


# One bulk operation: (action, index name, id or None, metadata, source line or None, parsed source or None)
Op = tuple[str, str, str | None, JsonDict, bytes | None, Any]


def _action_line_error(line_no: int, detail: str) -> EsError:
    return illegal_argument(f"Malformed action/metadata line [{line_no}], {detail}")


def parse_bulk(body: bytes, default_index: str | None, params: dict[str, str]) -> list[Op]:
    """Every operation of a bulk body, or the Elasticsearch error that fails the whole request."""
    if not body.endswith(b"\n"):
        if not body.strip():
            raise validation_failed("no requests added")
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = body.split(b"\n")
    last = len(lines) - 1  # the empty string after the final newline
    everything = _parse_all(lines, last)
    ops: list[Op] = []
    append = ops.append
    problems: list[str] = []
    i = 0
    loads = orjson.loads
    known = META_KEYS.issuperset
    while i < last:
        line = lines[i]
        i += 1
        if everything is not None:
            action_obj = everything[i - 1]
        elif not line or line.isspace():
            continue
        else:
            try:
                action_obj = loads(line)
            except orjson.JSONDecodeError as exc:
                raise EsError(
                    400, "x_content_parse_exception", f"[{i}:{exc.pos + 1}] Unexpected character: {exc.msg}"
                ) from exc
        if type(action_obj) is not dict or len(action_obj) != 1:
            raise _bad_action_line(i, action_obj)
        ((action, meta),) = action_obj.items()
        if action not in ACTIONS or type(meta) is not dict:
            raise _bad_action_line(i, action_obj)
        if not known(meta):
            unknown = next(k for k in meta if k not in META_KEYS)
            raise illegal_argument(f"Action/metadata line [{i}] contains an unknown parameter [{unknown}]")
        name = meta.get("_index", default_index)
        doc_id = meta.get("_id")
        if doc_id is not None:
            if type(doc_id) is not str:
                doc_id = str(doc_id)
            if len(doc_id) > 128 and len(doc_id.encode()) > 512:
                problems.append(
                    f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: "
                    f"{len(doc_id.encode())}"
                )
        if name is None:
            problems.append("index is missing")
            name = ""
        elif type(name) is not str:
            name = str(name)
        if action == "index":
            if "op_type" in meta and meta["op_type"] == "create":
                action = "create"
        elif action == "delete":
            if doc_id is None:
                problems.append("id is missing")
            append((action, name, doc_id, meta, None, None))
            continue
        elif action == "update" and doc_id is None:
            problems.append("id is missing")
        if i >= last:
            raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
        i += 1
        parsed = everything[i - 1] if everything is not None else None
        append((action, name, doc_id, meta, lines[i - 1], parsed))
    if problems:
        raise validation_failed(*problems)
    if not ops:
        raise validation_failed("no requests added")
    return ops


def _parse_all(lines: list[bytes], last: int) -> list[Any] | None:
    """Every line parsed in a C-level loop (much less overhead than a Python one), or None.

    None when a line is blank or not JSON: the caller then parses line by line, so that a bad
    document fails its item only and a blank line is skipped.
    """
    try:
        return list(map(orjson.loads, lines[:last]))
    except orjson.JSONDecodeError:
        return None


def _bad_action_line(line_no: int, action_obj: Any) -> EsError:
    if type(action_obj) is not dict:
        return _action_line_error(line_no, "expected START_OBJECT or END_OBJECT but found [VALUE_STRING]")
    if len(action_obj) != 1:
        return _action_line_error(line_no, "expected END_OBJECT but found [FIELD_NAME]")
    ((action, _meta),) = action_obj.items()
    if action not in ACTIONS:
        return _action_line_error(
            line_no, f"expected field [create], [delete], [index] or [update] but found [{action}]"
        )
    return _action_line_error(line_no, "expected START_OBJECT but found [VALUE_STRING]")


def bulk_handler(ctx: Ctx, req: Request) -> Response:
    started = time.perf_counter()
    if req.params.get("pipeline"):
        raise illegal_argument(f"pipeline with id [{req.params['pipeline']}] does not exist")
    ops = parse_bulk(req.body, req.path_params.get("index"), req.params)
    require_alias = req.flag("require_alias")
    writer = Writer(
        ctx, require_alias=require_alias, refresh=req.params.get("refresh"), origin=product_origin(req)
    )
    faults = ctx.faults
    path = req.path
    items: list[JsonDict] = []
    append = items.append
    errors = 0
    index_plain = writer.index_plain
    may_reject = faults.rejects_items()
    with ctx.cluster.lock:
        for action, name, given_id, meta, source, parsed in ops:
            doc_id = given_id if given_id is not None or action not in {"index", "create"} else auto_id()
            if may_reject and faults.reject_item(path):
                append({action: item_error(name, doc_id, rejected_execution("primary operation"))})
                errors += 1
                continue
            if parsed is not None and len(meta) <= 2 and action in {"index", "create"}:
                fast = index_plain(name, doc_id, source, parsed, action == "create")  # type: ignore[arg-type]
                if fast is not None:
                    append({action: fast})
                    continue
            result = _one(writer, action, name, doc_id, meta, source, parsed)
            if result["status"] >= 400:
                errors += 1
            append({action: result})
            writer.require_alias = require_alias
        writer.finish()
    ctx.stats.count_bulk(len(ops), errors, writer.written)
    took = int((time.perf_counter() - started) * 1000)
    return Response(200, {"errors": errors > 0, "took": took, "items": items}, warnings=writer.warnings)


def _one(
    writer: Writer,
    action: str,
    name: str,
    doc_id: str | None,
    meta: JsonDict,
    source: bytes | None,
    parsed: Any,
) -> JsonDict:
    """One bulk item through the general path; its result, or its error as Elasticsearch reports it."""
    try:
        if len(meta) > 2:
            if meta.get("pipeline"):
                raise illegal_argument(f"pipeline with id [{meta['pipeline']}] does not exist")
            if "require_alias" in meta:
                writer.require_alias = meta["require_alias"] in (True, "true")
        if action in {"index", "create"}:
            assert source is not None
            return writer.index(name, doc_id, source, create=action == "create", meta=meta, parsed=parsed)
        assert doc_id is not None
        if action == "update":
            assert source is not None
            body = parsed if parsed is not None else _update_body(source)
            return writer.update(name, doc_id, body, meta)
        return writer.delete(name, doc_id, meta)
    except DocumentRejectedError as exc:
        return item_error(_concrete(writer, name), doc_id, exc.error)
    except EsError as exc:
        return item_error(_concrete(writer, name), doc_id, exc)


def _update_body(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EsError(400, "x_content_parse_exception", f"[1:{exc.pos + 1}] {exc.msg}") from exc


def _concrete(writer: Writer, name: str) -> str:
    index = writer._targets.get(name)
    return index.name if index is not None else name


# --- single documents ---------------------------------------------------------------------------------------


def _single(result: JsonDict) -> Response:
    status = result.pop("status")
    return Response(status, result)


def _meta_from_params(params: dict[str, str]) -> JsonDict:
    return {k: params[k] for k in ("if_seq_no", "if_primary_term", "version", "version_type") if k in params}


def _write_one(ctx: Ctx, req: Request, write: Callable[[Writer], JsonDict]) -> tuple[Writer, Response]:
    """One document written by ``write`` under the lock; a refused document fails the request."""
    writer = Writer(
        ctx,
        require_alias=req.flag("require_alias"),
        refresh=req.params.get("refresh"),
        origin=product_origin(req),
    )
    with ctx.cluster.lock:
        try:
            result = write(writer)
        except DocumentRejectedError as exc:
            raise exc.error from exc
        writer.finish()
    resp = _single(result)
    resp.warnings = writer.warnings
    return writer, resp


def index_doc_handler(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["index"]
    doc_id = req.path_params.get("id")
    create = req.endpoint.endswith("_create/{id}") or req.params.get("op_type") == "create"
    if req.params.get("pipeline"):
        raise illegal_argument(f"pipeline with id [{req.params['pipeline']}] does not exist")
    if doc_id is None:
        if req.params.get("op_type") not in (None, "create", "index"):
            raise illegal_argument(f"opType must be 'create' or 'index', found: [{req.params['op_type']}]")
        doc_id = auto_id()
    if not req.body.strip():
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: source is missing;")
    body, meta = req.body, _meta_from_params(req.params)
    writer, resp = _write_one(ctx, req, lambda w: w.index(name, doc_id, body, create=create, meta=meta))
    ctx.stats.count_bulk(1, 0, writer.written)
    return resp


def update_doc_handler(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["index"]
    doc_id = req.path_params["id"]
    body = req.json(required=True)
    meta = _meta_from_params(req.params)
    return _write_one(ctx, req, lambda w: w.update(name, doc_id, body, meta))[1]


def delete_doc_handler(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["index"]
    doc_id = req.path_params["id"]
    writer = Writer(ctx, refresh=req.params.get("refresh"))
    with ctx.cluster.lock:
        result = writer.delete(name, doc_id, _meta_from_params(req.params))
        writer.finish()
    return _single(result)


def _read_index(ctx: Ctx, name: str) -> Index:
    cluster = ctx.cluster
    if name in cluster.indices:
        return cluster.indices[name]
    members = [n for n, idx in sorted(cluster.indices.items()) if name in idx.aliases]
    if not members:
        raise index_not_found(name)
    if len(members) > 1:
        raise illegal_argument(
            f"alias [{name}] has more than one index associated with it [{', '.join(members)}], "
            "can't execute a single index op"
        )
    return cluster.indices[members[0]]


def _get_body(
    index: Index, doc_id: str, doc: Doc | None, source_spec: Any, params: dict[str, str]
) -> JsonDict:
    if doc is None:
        return {"_index": index.name, "_id": doc_id, "found": False}
    body: JsonDict = {
        "_index": index.name,
        "_id": doc_id,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
        "found": True,
    }
    source = parse_source_filter(source_spec, params)
    if source.enabled:
        body["_source"] = source.apply(doc)
    return body


def _lookup(index: Index, doc_id: str, realtime: bool) -> Doc | None:
    return index.docs.get(doc_id) if realtime else index.visible.get(doc_id)


def get_doc_handler(ctx: Ctx, req: Request) -> Response:
    doc_id = req.path_params["id"]
    with ctx.cluster.lock:
        index = _read_index(ctx, req.path_params["index"])
        if req.flag("refresh"):
            index.refresh()
        doc = _lookup(index, doc_id, req.flag("realtime", True))
        body = _get_body(index, doc_id, doc, None, req.params)
    return Response(200 if doc is not None else 404, body)


def get_source_handler(ctx: Ctx, req: Request) -> Response:
    doc_id = req.path_params["id"]
    with ctx.cluster.lock:
        index = _read_index(ctx, req.path_params["index"])
        doc = _lookup(index, doc_id, req.flag("realtime", True))
        if doc is None:
            raise EsError(
                404, "resource_not_found_exception", f"Document not found [{index.name}]/[{doc_id}]"
            )
        source = parse_source_filter(None, req.params)
        body = source.apply(doc)
    return Response(200, body)


def mget_handler(ctx: Ctx, req: Request) -> Response:
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise illegal_argument("mget body must be an object")
    default_index = req.path_params.get("index")
    specs: list[JsonDict] = []
    if "docs" in body:
        for entry in body["docs"]:
            if not isinstance(entry, dict):
                raise illegal_argument("docs entries must be objects")
            specs.append(entry)
    elif "ids" in body:
        specs = [{"_id": i} for i in body["ids"]]
    else:
        raise validation_failed("no documents to get")
    problems = [
        f"index is missing for doc {n}" for n, s in enumerate(specs) if s.get("_index", default_index) is None
    ]
    problems += [f"id is missing for doc {n}" for n, s in enumerate(specs) if s.get("_id") is None]
    if problems:
        raise validation_failed(*problems)
    docs: list[JsonDict] = []
    realtime = req.flag("realtime", True)
    with ctx.cluster.lock:
        for spec in specs:
            name = str(spec.get("_index", default_index))
            doc_id = str(spec["_id"])
            try:
                index = _read_index(ctx, name)
            except EsError as exc:
                docs.append({"_index": name, "_id": doc_id, "error": exc.body()["error"]})
                continue
            docs.append(
                _get_body(index, doc_id, _lookup(index, doc_id, realtime), spec.get("_source"), req.params)
            )
    return Response(200, {"docs": docs})
