"""Document writes (index, create, update, delete) with Elasticsearch's results and errors.

Shared by ``_bulk`` and the single-document APIs. A write to a missing index creates it (templates
applied) unless it is a delete; a write to an alias goes to its write index. Results carry
``_version``, ``_seq_no``, ``_primary_term``, ``_shards`` and ``result`` exactly as Elasticsearch
answers; failures are ``version_conflict_engine_exception`` (409), ``document_missing_exception`` (404),
``document_parsing_exception`` (400, the document does not fit the mapping) …
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import EsError, illegal_argument, index_not_found, unsupported
from samplerr.devserver.indices import create_index
from samplerr.devserver.mapping import DocumentRejectedError
from samplerr.devserver.names import concrete_write_index, validate_index_name
from samplerr.devserver.store import Doc, Index, auto_id

JsonDict = dict[str, Any]
NOOP_SHARDS = {"total": 0, "successful": 0, "failed": 0}


def parse_source(raw: bytes, doc_id: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DocumentRejectedError(
            EsError(
                400,
                "document_parsing_exception",
                f"[1:{exc.pos + 1}] failed to parse",
                caused_by=EsError(400, "x_content_parse_exception", f"[1:{exc.pos + 1}] {exc.msg}"),
            )
        ) from exc


def deep_merge(base: JsonDict, patch: JsonDict) -> JsonDict:
    result = dict(base)
    for key, value in patch.items():
        current = result.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            result[key] = deep_merge(current, value)
        else:
            result[key] = value
    return result


def _int_meta(meta: JsonDict, key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise illegal_argument(f"[{key}] must be a number, got [{value}]") from exc


@dataclass
class Writer:
    """Applies the writes of one request; the caller holds the cluster lock."""

    ctx: Ctx
    require_alias: bool = False
    refresh: str | None = None
    origin: bool = False  # the request carries X-elastic-product-origin (no dot-prefix warnings)
    warnings: list[str] = field(default_factory=list)
    touched: dict[str, Index] = field(default_factory=dict)
    written: int = 0
    _targets: dict[str, Index] = field(default_factory=dict)

    @property
    def forced_refresh(self) -> bool:
        return self.refresh in ("", "true")

    def target(self, name: str, *, create: bool, require_alias: bool | None = None) -> Index:
        cached = self._targets.get(name)
        if cached is not None:  # the lock is held for the whole request: indices do not vanish meanwhile
            return cached
        cluster = self.ctx.cluster
        if "*" in name:
            validate_index_name(name)
        found = concrete_write_index(
            name,
            cluster.indices,
            require_alias=self.require_alias if require_alias is None else require_alias,
        )
        if isinstance(found, EsError):
            raise found
        if found is None:
            if not create:
                raise index_not_found(name)
            if cluster.setting("action.auto_create_index", "true") == "false":
                err = index_not_found(name)
                err.reason = f"no such index [{name}] and [action.auto_create_index] is [false]"
                raise err
            index, warnings = create_index(cluster, name, None, auto=True, origin=self.origin)
            self.warnings.extend(w for w in warnings if w not in self.warnings)
        else:
            index = cluster.indices[found]
        self._targets[name] = index
        return index

    def _ok(
        self,
        index: Index,
        doc_id: str,
        version: int,
        result: str,
        seq_no: int,
        status: int,
        shards: JsonDict | None = None,
    ) -> JsonDict:
        item: JsonDict = {
            "_index": index.name,
            "_id": doc_id,
            "_version": version,
            "result": result,
            "_shards": shards if shards is not None else index.shard_info(),
        }
        if self.forced_refresh and result != "noop":
            item["forced_refresh"] = True
        item["_seq_no"] = seq_no
        item["_primary_term"] = 1
        item["status"] = status
        self.touched[index.name] = index
        return item

    def _check_version(self, index: Index, doc_id: str, current: Doc | None, meta: JsonDict) -> int | None:
        if "if_seq_no" not in meta and "if_primary_term" not in meta and "version" not in meta:
            return None
        if_seq_no = _int_meta(meta, "if_seq_no")
        if_term = _int_meta(meta, "if_primary_term")
        if if_seq_no is not None or if_term is not None:
            if if_seq_no is None or if_term is None:
                raise EsError(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: ifSeqNo is set, but primary term is [0];",
                )
            if current is None:
                raise index.conflict(
                    doc_id,
                    f"required seqNo [{if_seq_no}], primary term [{if_term}]. but no document was found",
                )
            if current.seq_no != if_seq_no or current.primary_term != if_term:
                raise index.conflict(
                    doc_id,
                    f"required seqNo [{if_seq_no}], primary term [{if_term}]. current "
                    f"document has seqNo [{current.seq_no}] and primary term "
                    f"[{current.primary_term}]",
                )
        version_type = meta.get("version_type", "internal")
        external = _int_meta(meta, "version")
        if external is not None and version_type in ("external", "external_gte"):
            have = current.version if current is not None else None
            if have is not None and (external < have or (version_type == "external" and external == have)):
                raise index.conflict(
                    doc_id, f"current version [{have}] is higher or equal to the one provided [{external}]"
                )
            return external
        if external is not None:
            raise illegal_argument(
                "internal versioning can not be used for optimistic concurrency control. Please "
                "use `if_seq_no` and `if_primary_term` instead"
            )
        return None

    def _written(self, index: Index, doc_id: str, version: int, seq_no: int, created: bool) -> JsonDict:
        """The item of a document indexed (created, or replacing the current one)."""
        return self._ok(
            index, doc_id, version, "created" if created else "updated", seq_no, 201 if created else 200
        )

    def index(
        self, name: str, doc_id: str | None, raw: bytes, *, create: bool, meta: JsonDict, parsed: Any = None
    ) -> JsonDict:
        index = self.target(name, create=True)
        if doc_id is None:
            doc_id = auto_id()
        source = parsed if parsed is not None else parse_source(raw, doc_id)
        current = index.docs.get(doc_id)
        dates, changed = index.mapping.prepare(source, doc_id, index.field_limit)
        if changed:
            self.ctx.cluster.mapping_changed(index)
        if create and current is not None:
            raise index.conflict(doc_id, f"document already exists (current version [{current.version}])")
        version = None
        if "if_seq_no" in meta or "version" in meta or "if_primary_term" in meta:
            version = self._check_version(index, doc_id, current, meta)
        if version is None:
            if current is not None:
                version = current.version + 1
            else:
                version = index.next_version(doc_id) if index.tombstones else 1
        seq_no = index.seq_no + 1
        index.seq_no = seq_no
        self.ctx.cluster.put_doc(index, Doc(doc_id, source, raw, version, seq_no, dates))
        self.written += 1
        return self._written(index, doc_id, version, seq_no, current is None)

    def index_plain(self, name: str, doc_id: str, raw: bytes, source: Any, create: bool) -> JsonDict | None:
        """The common bulk item (known index, a document of an already validated shape, no versioning
        parameters) without the general machinery; None when the general path must decide."""
        index = self._targets.get(name)
        if index is None or type(source) is not dict or self.forced_refresh:
            return None
        mapping = index.mapping
        plan = mapping.plans.get((tuple(source), tuple(map(type, source.values()))))
        if plan is None:
            return None
        dates = mapping.run_plan(plan, source)
        if dates is None:
            return None
        docs = index.docs
        current = docs.get(doc_id)
        if current is not None:
            if create:
                return None
            version = current.version + 1
        else:
            version = index.next_version(doc_id) if index.tombstones else 1
        seq_no = index.seq_no + 1
        doc = Doc(doc_id, source, raw, version, seq_no, dates)
        cluster = self.ctx.cluster
        if cluster.realtime or index.tombstones:
            cluster.put_doc(index, doc)
        else:  # Index.store and Cluster.put_doc, inlined for the common case
            if current is not None:
                del docs[doc_id]
                index.store_bytes -= len(current.raw)
                index.deleted += 1
            docs[doc_id] = doc
            index.store_bytes += len(raw)
            index.seq_no = seq_no
            index.dirty[doc_id] = doc
            cluster.journal.record_doc(index.name, doc)
        self.written += 1
        return self._written(index, doc_id, version, seq_no, current is None)

    def update(self, name: str, doc_id: str, body: Any, meta: JsonDict) -> JsonDict:
        index = self.target(name, create=True)
        if not isinstance(body, dict):
            raise illegal_argument("update request body must be an object")
        unknown = [
            k
            for k in body
            if k
            not in (
                "doc",
                "doc_as_upsert",
                "upsert",
                "detect_noop",
                "_source",
                "script",
                "scripted_upsert",
                "lang",
                "params",
            )
        ]
        if unknown:
            raise EsError(
                400, "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{unknown[0]}]"
            )
        if "script" in body:
            raise unsupported("scripted updates")
        current = index.docs.get(doc_id)
        self._check_version(index, doc_id, current, meta)
        patch = body.get("doc")
        if patch is not None and not isinstance(patch, dict):
            raise illegal_argument("[doc] must be an object")
        if current is None:
            upsert = patch if body.get("doc_as_upsert") in (True, "true") else body.get("upsert")
            if upsert is None:
                raise EsError(
                    404,
                    "document_missing_exception",
                    f"[{doc_id}]: document missing",
                    meta={"index_uuid": index.uuid, "shard": "0", "index": index.name},
                )
            return self.index(index.name, doc_id, orjson.dumps(upsert), create=False, meta={})
        if patch is None:
            raise EsError(
                400, "action_request_validation_exception", "Validation Failed: 1: script or doc is missing;"
            )
        merged = deep_merge(current.source, patch)
        if body.get("detect_noop", True) in (True, "true") and merged == current.source:
            self.touched[index.name] = index
            return self._ok(index, doc_id, current.version, "noop", current.seq_no, 200, dict(NOOP_SHARDS))
        raw = orjson.dumps(merged)
        dates, changed = index.mapping.prepare(merged, doc_id, index.field_limit)
        if changed:
            self.ctx.cluster.mapping_changed(index)
        index.seq_no += 1
        doc = Doc(doc_id, merged, raw, current.version + 1, index.seq_no, dates)
        self.ctx.cluster.put_doc(index, doc)
        self.written += 1
        return self._ok(index, doc_id, doc.version, "updated", doc.seq_no, 200)

    def delete(self, name: str, doc_id: str, meta: JsonDict) -> JsonDict:
        index = self.target(name, create=False)
        current = index.docs.get(doc_id)
        external = self._check_version(index, doc_id, current, meta)
        version = external or index.next_version(doc_id)
        index.seq_no += 1
        self.ctx.cluster.delete_doc(index, doc_id, version, index.seq_no)
        if current is None:
            return self._ok(index, doc_id, version, "not_found", index.seq_no, 404)
        return self._ok(index, doc_id, version, "deleted", index.seq_no, 200)

    def finish(self) -> None:
        if self.refresh in ("", "true", "wait_for"):
            for index in self.touched.values():
                index.refresh()


def item_error(name: str, doc_id: str | None, error: EsError) -> JsonDict:
    item: JsonDict = {"_index": name}
    if doc_id is not None:
        item["_id"] = doc_id
    item["status"] = error.status
    item["error"] = error.inner()
    return item
