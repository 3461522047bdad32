"""``_search``, ``_count``, ``_msearch`` and ``_delete_by_query`` over indices, aliases and wildcards.

Each concrete index is searched like one shard: its alias filters (OR-ed, dropped when the index is
also reached directly or through an unfiltered alias), the query, ``post_filter`` and ``min_score``
select hits; a query that cannot run on an index (a word in a numeric field, sorting on a text field)
is a shard failure there, and a 400 ``search_phase_execution_exception`` when every index fails, as
Elasticsearch reports them. Hits sort by score (ties in index order), by fields (``missing``,
``unmapped_type``, ``mode``), ``_doc`` or ``_score``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from samplerr.devserver import dates
from samplerr.devserver.aggs import DEFAULT_MAX_BUCKETS, Agg, AggCtx, parse_aggs, run_aggs
from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import EsError, illegal_argument, parsing, unsupported
from samplerr.devserver.http import Request, Response
from samplerr.devserver.mapping import FieldType
from samplerr.devserver.names import (
    SEARCH_OPTIONS,
    IndicesOptions,
    Resolution,
    filtering_aliases,
    resolve,
    split_expressions,
)
from samplerr.devserver.query import Matcher, Query, compile_query, parse_query
from samplerr.devserver.querystring import parse_query_string
from samplerr.devserver.source import SourceFilter, hit_fields, parse_source
from samplerr.devserver.store import AliasMeta, Doc, Index, values

JsonDict = dict[str, Any]
LONG_MAX = 9223372036854775807
LONG_MIN = -9223372036854775808

BODY_KEYS = frozenset(
    {
        "query",
        "aggs",
        "aggregations",
        "size",
        "from",
        "sort",
        "_source",
        "track_total_hits",
        "post_filter",
        "min_score",
        "timeout",
        "terminate_after",
        "stored_fields",
        "docvalue_fields",
        "fields",
        "script_fields",
        "version",
        "seq_no_primary_term",
        "explain",
        "track_scores",
        "profile",
        "indices_boost",
        "stats",
        "ext",
        "highlight",
        "search_after",
        "collapse",
        "suggest",
        "runtime_mappings",
        "pit",
        "knn",
        "rescore",
        "slice",
        "retriever",
        "rank",
    }
)
UNSUPPORTED_KEYS = frozenset(
    {
        "search_after",
        "collapse",
        "suggest",
        "pit",
        "knn",
        "rescore",
        "slice",
        "retriever",
        "rank",
        "indices_boost",
    }
)
SEARCH_PARAMS = frozenset(
    {
        "q",
        "df",
        "default_operator",
        "analyzer",
        "analyze_wildcard",
        "lenient",
        "size",
        "from",
        "sort",
        "_source",
        "_source_includes",
        "_source_excludes",
        "track_total_hits",
        "rest_total_hits_as_int",
        "typed_keys",
        "ignore_unavailable",
        "allow_no_indices",
        "expand_wildcards",
        "search_type",
        "preference",
        "routing",
        "request_cache",
        "batched_reduce_size",
        "max_concurrent_shard_requests",
        "pre_filter_shard_size",
        "ccs_minimize_roundtrips",
        "allow_partial_search_results",
        "timeout",
        "terminate_after",
        "seq_no_primary_term",
        "version",
        "stored_fields",
        "docvalue_fields",
        "explain",
        "track_scores",
        "stats",
        "ignore_throttled",
        "include_named_queries_score",
        "scroll",
        "min_compatible_shard_node",
        "force_synthetic_source",
        "suggest_field",
        "suggest_mode",
        "suggest_size",
        "suggest_text",
    }
)
COUNT_PARAMS = frozenset(
    {
        "q",
        "df",
        "default_operator",
        "analyzer",
        "analyze_wildcard",
        "lenient",
        "ignore_unavailable",
        "allow_no_indices",
        "expand_wildcards",
        "preference",
        "routing",
        "min_score",
        "terminate_after",
        "ignore_throttled",
    }
)
MSEARCH_HEADER_KEYS = frozenset(
    {
        "index",
        "indices",
        "search_type",
        "ignore_unavailable",
        "allow_no_indices",
        "expand_wildcards",
        "preference",
        "routing",
        "request_cache",
        "allow_partial_search_results",
        "ccs_minimize_roundtrips",
        "ignore_throttled",
    }
)
MSEARCH_PARAMS = frozenset(
    {
        "max_concurrent_searches",
        "max_concurrent_shard_requests",
        "pre_filter_shard_size",
        "rest_total_hits_as_int",
        "search_type",
        "typed_keys",
        "ccs_minimize_roundtrips",
        "ignore_unavailable",
        "allow_no_indices",
        "expand_wildcards",
        "ignore_throttled",
        "include_named_queries_score",
        "routing",
    }
)


@dataclass
class SortKey:
    field: str
    order: str
    missing: Any = "_last"
    unmapped_type: str | None = None
    mode: str | None = None
    fmt: str | None = None


@dataclass
class SearchRequest:
    query: Query | None = None
    post_filter: Query | None = None
    aggs: list[Agg] = field(default_factory=list)
    size: int = 10
    from_: int = 0
    sort: list[SortKey] = field(default_factory=list)
    source: SourceFilter = field(default_factory=SourceFilter)
    track_total_hits: bool | int = 10000
    min_score: float | None = None
    fields: list[Any] = field(default_factory=list)
    docvalue_fields: list[Any] = field(default_factory=list)
    version: bool = False
    seq_no_primary_term: bool = False
    track_scores: bool = False
    rest_total_hits_as_int: bool = False
    typed_keys: bool = False
    terminate_after: int = 0


def _parse_sort(spec: Any) -> list[SortKey]:
    items = spec if isinstance(spec, list) else [spec]
    out: list[SortKey] = []
    for item in items:
        if isinstance(item, str):
            out.append(SortKey(item, "desc" if item == "_score" else "asc"))
        elif isinstance(item, dict) and len(item) == 1:
            ((name, opts),) = item.items()
            if isinstance(opts, str):
                order = opts
                key = SortKey(name, order)
            elif isinstance(opts, dict):
                order = str(opts.get("order", "desc" if name == "_score" else "asc"))
                key = SortKey(
                    name,
                    order,
                    opts.get("missing", "_last"),
                    opts.get("unmapped_type"),
                    opts.get("mode"),
                    opts.get("format"),
                )
                if "nested" in opts or "script" in opts or name == "_geo_distance":
                    raise unsupported(f"sort option on [{name}]")
            else:
                raise parsing(f"[sort] malformed for field [{name}]")
            if key.order not in ("asc", "desc"):
                raise illegal_argument(f"Unknown SortOrder [{key.order}]")
            out.append(key)
        else:
            raise parsing("[sort] must be a string, an object with one field, or an array of them")
    return out


def _sort_param(text: str) -> list[SortKey]:
    out: list[SortKey] = []
    for part in (p for p in text.split(",") if p):
        name, _, order = part.partition(":")
        out.append(SortKey(name, order or ("desc" if name == "_score" else "asc")))
    return out


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise parsing(f"[{name}] must be a number")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise parsing(f"[{name}] failed to parse value [{value}] as a number") from exc


def _track_total(value: Any) -> bool | int:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    n = _int(value, "track_total_hits")
    if n < -1:
        raise illegal_argument(f"[track_total_hits] parameter must be positive or equals to -1, got {n}")
    return True if n == -1 else n


def _q_param(params: dict[str, str]) -> Query | None:
    if "q" not in params:
        return None
    body: JsonDict = {"query": params["q"]}
    if "df" in params:
        body["default_field"] = params["df"]
    if "default_operator" in params:
        body["default_operator"] = params["default_operator"]
    if "lenient" in params:
        body["lenient"] = params["lenient"] == "true"
    return parse_query_string(body)


def parse_search(body: Any, params: dict[str, str]) -> SearchRequest:
    req = SearchRequest()
    body = body if body is not None else {}
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    for key, value in body.items():
        if key not in BODY_KEYS:
            kind = (
                "START_OBJECT"
                if isinstance(value, dict)
                else "START_ARRAY"
                if isinstance(value, list)
                else ("VALUE_STRING" if isinstance(value, str) else "VALUE_NUMBER")
            )
            raise parsing(f"Unknown key for a {kind} in [{key}].")
        if key in UNSUPPORTED_KEYS and value not in (None, {}, []):
            raise unsupported(f"[{key}] in a search request")
    if body.get("highlight"):
        raise unsupported("[highlight] in a search request")
    if body.get("script_fields"):
        raise unsupported("[script_fields] in a search request")
    if body.get("runtime_mappings"):
        raise unsupported("[runtime_mappings] in a search request")
    if "query" in body:
        req.query = parse_query(body["query"])
    if "post_filter" in body:
        req.post_filter = parse_query(body["post_filter"])
    aggs = body.get("aggs", body.get("aggregations"))
    if aggs is not None:
        req.aggs = parse_aggs(aggs)
    req.size = _int(params.get("size", body.get("size", 10)), "size")
    req.from_ = _int(params.get("from", body.get("from", 0)), "from")
    if req.size < 0:
        raise illegal_argument(f"[size] parameter cannot be negative, found [{req.size}]")
    if req.from_ < 0:
        raise illegal_argument(f"[from] parameter cannot be negative, found [{req.from_}]")
    if "sort" in params:
        req.sort = _sort_param(params["sort"])
    elif "sort" in body:
        req.sort = _parse_sort(body["sort"])
    req.source = parse_source(body.get("_source"), params)
    req.track_total_hits = _track_total(params.get("track_total_hits", body.get("track_total_hits", 10000)))
    req.rest_total_hits_as_int = params.get("rest_total_hits_as_int") in ("", "true")
    if req.rest_total_hits_as_int:
        req.track_total_hits = True
    req.typed_keys = params.get("typed_keys") in ("", "true")
    if "min_score" in body:
        req.min_score = float(body["min_score"])
    req.fields = list(body.get("fields") or [])
    req.docvalue_fields = list(body.get("docvalue_fields") or [])
    if "docvalue_fields" in params:
        req.docvalue_fields.extend(params["docvalue_fields"].split(","))
    req.version = bool(body.get("version", params.get("version") in ("", "true")))
    req.seq_no_primary_term = bool(
        body.get("seq_no_primary_term", params.get("seq_no_primary_term") in ("", "true"))
    )
    req.track_scores = bool(body.get("track_scores", params.get("track_scores") in ("", "true")))
    req.terminate_after = _int(
        params.get("terminate_after", body.get("terminate_after", 0)), "terminate_after"
    )
    q = _q_param(params)
    if q is not None:
        req.query = q
    return req


# --- execution ---------------------------------------------------------------------------------------------


@dataclass
class ShardFailure:
    index: Index
    error: EsError


def _with_index(error: EsError, index: Index) -> EsError:
    meta = dict(error.meta)
    meta.setdefault("index_uuid", index.uuid)
    meta.setdefault("index", index.name)
    return EsError(error.status, error.type, error.reason, meta=meta, caused_by=error.caused_by)


def _alias_filter(index: Index, resolution: Resolution) -> list[Query] | None:
    aliases = filtering_aliases(index.name, index, resolution)
    if not aliases:
        return None
    out: list[Query] = []
    for alias in aliases:
        meta: AliasMeta = index.aliases[alias]
        if meta.filter is not None:
            out.append(parse_query(meta.filter))
    return out or None


def _or(matchers: list[Matcher]) -> Matcher:
    if len(matchers) == 1:
        return matchers[0]
    return lambda doc: 0.0 if any(m(doc) is not None for m in matchers) else None


@dataclass
class Searched:
    """Matching documents of one search over several indices."""

    hits: list[tuple[Doc, Index, float]]
    agg_hits: list[tuple[Doc, Index]]
    shards_total: int
    failures: list[ShardFailure]
    indices: list[Index]


def collect(ctx: Ctx, resolution: Resolution, req: SearchRequest, now: int) -> Searched:
    cluster = ctx.cluster
    indices = [cluster.indices[n] for n in sorted(resolution.indices) if n in cluster.indices]
    hits: list[tuple[Doc, Index, float]] = []
    agg_hits: list[tuple[Doc, Index]] = []
    failures: list[ShardFailure] = []
    shards = 0
    clock = int(time.time() * 1000)
    for index in indices:
        shards += index.shards
        index.before_search(clock)
        try:
            alias_queries = _alias_filter(index, resolution)
            alias_matcher = (
                _or([compile_query(q, index, now) for q in alias_queries]) if alias_queries else None
            )
            matcher = compile_query(req.query, index, now)
            post = compile_query(req.post_filter, index, now) if req.post_filter is not None else None
            if req.sort:
                _check_sort(req.sort, index)
        except EsError as exc:
            failures.append(ShardFailure(index, _with_index(exc, index)))
            continue
        min_score = req.min_score
        count = 0
        for doc in index.visible.values():
            if alias_matcher is not None and alias_matcher(doc) is None:
                continue
            score = matcher(doc)
            if score is None:
                continue
            if min_score is not None and score < min_score:
                continue
            agg_hits.append((doc, index))
            if post is not None and post(doc) is None:
                continue
            hits.append((doc, index, score))
            count += 1
            if req.terminate_after and count >= req.terminate_after:
                break
    return Searched(hits, agg_hits, shards, failures, indices)


def _check_sort(keys: list[SortKey], index: Index) -> None:
    for key in keys:
        if key.field in ("_score", "_doc", "_id", "_index", "_shard_doc"):
            continue
        ft = index.mapping.field(key.field)
        if ft is None:
            if key.unmapped_type is None:
                raise EsError(
                    400, "query_shard_exception", f"No mapping found for [{key.field}] in order to sort on"
                )
            continue
        if ft.kind == "text":
            raise illegal_argument(
                f"Fielddata is disabled on [{ft.path}] in [{index.name}]. Text fields are not optimised "
                "for operations "
                "that require per-document field data like aggregations and sorting, so these operations are "
                "disabled by default. Please use a keyword field instead. Alternatively, set "
                "fielddata=true on "
                f"[{ft.path}] in order to load field data by uninverting the inverted index. Note that "
                "this can use "
                "significant memory."
            )
        if ft.kind == "opaque":
            raise unsupported(f"sorting on field [{ft.path}] of type [{ft.type}]")


def _sort_value(key: SortKey, doc: Doc, index: Index) -> tuple[Any, FieldType | None]:
    ft = index.mapping.field(key.field)
    if ft is None:
        return None, None
    vals = values(doc, ft)
    if not vals:
        return None, ft
    mode = key.mode or ("max" if key.order == "desc" else "min")
    if mode == "min":
        return min(vals), ft
    if mode == "max":
        return max(vals), ft
    if mode in ("sum", "avg", "median"):
        nums = sorted(float(v) for v in vals)
        if mode == "sum":
            return sum(nums), ft
        if mode == "avg":
            return sum(nums) / len(nums), ft
        mid = len(nums) // 2
        return (nums[mid] if len(nums) % 2 else (nums[mid - 1] + nums[mid]) / 2), ft
    raise illegal_argument(f"Unknown SortMode [{mode}]")


def _render_sort_value(key: SortKey, value: Any, ft: FieldType | None) -> Any:
    kind = ft.kind if ft is not None else ("keyword" if key.unmapped_type in ("keyword", "text") else "long")
    if value is None:
        if kind in ("keyword", "text"):
            return None
        if kind == "double":
            return "Infinity" if key.order == "asc" else "-Infinity"
        return LONG_MAX if key.order == "asc" else LONG_MIN
    if isinstance(value, bool):
        return 1 if value else 0
    if kind == "date" and key.fmt:
        return dates.formatter(key.fmt).format(int(value))
    return value


def sort_hits(
    hits: list[tuple[Doc, Index, float]], keys: list[SortKey]
) -> list[tuple[tuple[Doc, Index, float], list[Any]]]:
    rows: list[tuple[tuple[Doc, Index, float], list[Any]]] = []
    for position, hit in enumerate(hits):
        doc, index, score = hit
        rendered: list[Any] = []
        raw: list[Any] = []
        for key in keys:
            if key.field == "_score":
                raw.append(score)
                rendered.append(score)
            elif key.field == "_doc":
                raw.append(position)
                rendered.append(position)
            elif key.field == "_id":
                raw.append(doc.id)
                rendered.append(doc.id)
            elif key.field == "_index":
                raw.append(index.name)
                rendered.append(index.name)
            else:
                value, ft = _sort_value(key, doc, index)
                raw.append(value)
                rendered.append(_render_sort_value(key, value, ft))
        rows.append((hit, [raw, rendered]))
    for level in range(len(keys) - 1, -1, -1):
        key = keys[level]
        present = [r for r in rows if r[1][0][level] is not None]
        absent = [r for r in rows if r[1][0][level] is None]
        present.sort(key=lambda r: _comparable(r[1][0][level]), reverse=key.order == "desc")
        first = key.missing == "_first"
        rows = absent + present if first else present + absent
    return [(hit, both[1]) for hit, both in rows]


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _total(req: SearchRequest, count: int) -> Any:
    if req.rest_total_hits_as_int:
        return count
    track = req.track_total_hits
    if track is True:
        return {"value": count, "relation": "eq"}
    if track is False:
        return None
    if count > track:
        return {"value": track, "relation": "gte"}
    return {"value": count, "relation": "eq"}


def _failure_error(failures: list[ShardFailure], node: str) -> EsError:
    grouped: dict[tuple[str, str], ShardFailure] = {}
    for f in failures:
        grouped.setdefault((f.error.type, f.error.reason), f)
    shards = [
        {"shard": 0, "index": f.index.name, "node": node, "reason": f.error.inner()} for f in grouped.values()
    ]
    status = failures[0].error.status
    if any(f.error.status >= 500 for f in failures):
        status = max(f.error.status for f in failures)
    return EsError(
        status,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": "query", "grouped": True, "failed_shards": shards},
        root_causes=[f.error for f in grouped.values()],
    )


def execute(ctx: Ctx, expressions: list[str], req: SearchRequest, options: IndicesOptions) -> JsonDict:
    started = time.perf_counter()
    now = dates.now_ms()
    cluster = ctx.cluster
    with cluster.lock:
        resolution = resolve(expressions, cluster.indices, options)
        _check_window(req, [cluster.indices[n] for n in resolution.indices])
        searched = collect(ctx, resolution, req, now)
        if searched.failures and len(searched.failures) == len(searched.indices):
            raise _failure_error(searched.failures, cluster.node_id)
        response = _render(ctx, req, searched, now)
    response["took"] = int((time.perf_counter() - started) * 1000)
    return response


def _check_window(req: SearchRequest, indices: list[Index]) -> None:
    for index in indices:
        limit = int(index.settings.get("index.max_result_window", 10000))
        if req.from_ + req.size > limit:
            err = illegal_argument(
                f"Result window is too large, from + size must be less than or equal to: [{limit}] but was "
                f"[{req.from_ + req.size}]. See the scroll api for a more efficient way to request large "
                "data sets. "
                "This limit can be set by changing the [index.max_result_window] index level setting."
            )
            raise _failure_error([ShardFailure(index, _with_index(err, index))], "")


def _render(ctx: Ctx, req: SearchRequest, searched: Searched, now: int) -> JsonDict:
    hits = searched.hits
    sorted_by_field = (bool(req.sort) and req.sort[0].field != "_score") or len(req.sort) > 1
    if req.sort:
        ordered = sort_hits(hits, req.sort)
    else:
        order = sorted(range(len(hits)), key=lambda i: -hits[i][2])
        ordered = [(hits[i], []) for i in order]
    page = ordered[req.from_ : req.from_ + req.size]
    scores_wanted = not sorted_by_field or req.track_scores
    rendered: list[JsonDict] = []
    for (doc, index, score), sort_values in page:
        hit: JsonDict = {"_index": index.name, "_id": doc.id}
        if req.version:
            hit["_version"] = doc.version
        if req.seq_no_primary_term:
            hit["_seq_no"] = doc.seq_no
            hit["_primary_term"] = doc.primary_term
        hit["_score"] = score if scores_wanted else None
        if req.source.enabled:
            hit["_source"] = req.source.apply(doc)
        specs = req.fields + req.docvalue_fields
        if specs:
            fields = hit_fields(doc, index, specs)
            if fields:
                hit["fields"] = fields
        if req.sort:
            hit["sort"] = sort_values
        rendered.append(hit)
    max_score: float | None = None
    if scores_wanted and hits and req.size > 0:
        max_score = max(h[2] for h in hits)
    if not searched.indices:
        max_score = 0.0 if scores_wanted else None
    hits_json: JsonDict = {}
    total = _total(req, len(hits))
    if total is not None:
        hits_json["total"] = total
    hits_json["max_score"] = max_score
    hits_json["hits"] = rendered
    shards: JsonDict = {
        "total": searched.shards_total,
        "successful": searched.shards_total - sum(f.index.shards for f in searched.failures),
        "skipped": 0,
        "failed": sum(f.index.shards for f in searched.failures),
    }
    if searched.failures:
        shards["failures"] = [
            {"shard": 0, "index": f.index.name, "node": ctx.cluster.node_id, "reason": f.error.inner()}
            for f in searched.failures
        ]
    response: JsonDict = {"took": 0, "timed_out": False}
    if req.terminate_after:
        response["terminated_early"] = len(hits) >= req.terminate_after
    response["_shards"] = shards
    response["hits"] = hits_json
    if req.aggs:
        max_buckets = int(ctx.cluster.setting("search.max_buckets", str(DEFAULT_MAX_BUCKETS)))
        agg_ctx = AggCtx(now, lambda q, idx: compile_query(q, idx, now), max_buckets, req.typed_keys)
        try:
            response["aggregations"] = run_aggs(req.aggs, searched.agg_hits, agg_ctx)
        except EsError as exc:
            if exc.type == "too_many_buckets_exception" or not searched.indices:
                raise
            raise _failure_error(
                [ShardFailure(i, _with_index(exc, i)) for i in searched.indices], ctx.cluster.node_id
            ) from exc
    return response


# --- handlers ---------------------------------------------------------------------------------------------


def _collect_all(ctx: Ctx, req: Request, search: SearchRequest, now: int) -> Searched:
    """``search`` over the request's indices (caller holds the lock); every shard failing fails it."""
    resolution = resolve(_expressions(req), ctx.cluster.indices, SEARCH_OPTIONS.with_params(req.params))
    searched = collect(ctx, resolution, search, now)
    if searched.failures and len(searched.failures) == len(searched.indices):
        raise _failure_error(searched.failures, ctx.cluster.node_id)
    return searched


def _expressions(req: Request) -> list[str]:
    return split_expressions(req.path_params.get("index"))


def search_handler(ctx: Ctx, req: Request) -> Response:
    if "scroll" in req.params:
        raise unsupported("[scroll] searches")
    body = req.json()
    search = parse_search(body, req.params)
    options = SEARCH_OPTIONS.with_params(req.params)
    return Response(200, execute(ctx, _expressions(req), search, options))


def count_handler(ctx: Ctx, req: Request) -> Response:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    for key in body:
        if key != "query":
            raise parsing(f"request does not support [{key}]")
    search = SearchRequest(
        query=parse_query(body["query"]) if "query" in body else None, size=0, track_total_hits=True
    )
    q = _q_param(req.params)
    if q is not None:
        search.query = q
    if "min_score" in req.params:
        search.min_score = float(req.params["min_score"])
    now = dates.now_ms()
    with ctx.cluster.lock:
        searched = _collect_all(ctx, req, search, now)
    failed = sum(f.index.shards for f in searched.failures)
    shards = {
        "total": searched.shards_total,
        "successful": searched.shards_total - failed,
        "skipped": 0,
        "failed": failed,
    }
    return Response(200, {"count": len(searched.hits), "_shards": shards})


def _msearch_lines(body: bytes) -> list[bytes]:
    if body and not body.endswith(b"\n"):
        raise illegal_argument("The msearch request must be terminated by a newline [\n]")
    return body.split(b"\n")


def msearch_handler(ctx: Ctx, req: Request) -> Response:
    started = time.perf_counter()
    lines = _msearch_lines(req.body)
    default_index = req.path_params.get("index")
    base = SEARCH_OPTIONS.with_params(req.params)
    pairs: list[tuple[JsonDict, Any]] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            header = orjson.loads(lines[i])
        except orjson.JSONDecodeError as exc:
            raise EsError(400, "x_content_parse_exception", f"[1:{exc.pos + 1}] {exc.msg}") from exc
        if not isinstance(header, dict):
            raise illegal_argument("msearch header must be an object")
        for key in header:
            if key not in MSEARCH_HEADER_KEYS:
                raise illegal_argument(f"key [{key}] is not supported in the metadata section")
        if i + 1 >= len(lines) or not lines[i + 1].strip():
            raise illegal_argument("msearch request is missing a body line after its header")
        try:
            search_body = orjson.loads(lines[i + 1])
        except orjson.JSONDecodeError as exc:
            raise EsError(400, "x_content_parse_exception", f"[1:{exc.pos + 1}] {exc.msg}") from exc
        pairs.append((header, search_body))
        i += 2
    if not pairs:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: no requests added;")
    responses: list[JsonDict] = []
    for header, search_body in pairs:
        try:
            index = header.get("index", header.get("indices", default_index))
            expressions = index if isinstance(index, list) else split_expressions(index)
            options = base.with_body(header)
            params = dict(req.params)
            for key in ("typed_keys", "rest_total_hits_as_int"):
                if key in req.params:
                    params[key] = req.params[key]
            search = parse_search(
                search_body,
                {k: v for k, v in params.items() if k in ("typed_keys", "rest_total_hits_as_int")},
            )
            result = execute(ctx, [str(e) for e in expressions], search, options)
            result["status"] = 200
            responses.append(result)
        except EsError as exc:
            responses.append(exc.body())
    return Response(200, {"took": int((time.perf_counter() - started) * 1000), "responses": responses})


def delete_by_query_handler(ctx: Ctx, req: Request) -> Response:
    started = time.perf_counter()
    body = req.json(required=True)
    if not isinstance(body, dict) or "query" not in body:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: query is missing;")
    search = SearchRequest(query=parse_query(body["query"]), track_total_hits=True)
    cluster = ctx.cluster
    now = dates.now_ms()
    with cluster.lock:
        searched = _collect_all(ctx, req, search, now)
        deleted = 0
        for doc, index, _ in searched.hits:
            current = index.docs.get(doc.id)
            if current is None or current.seq_no != doc.seq_no:
                continue
            index.seq_no += 1
            cluster.delete_doc(index, doc.id, current.version + 1, index.seq_no)
            deleted += 1
        if req.flag("refresh"):
            for index in searched.indices:
                index.refresh()
    total = len(searched.hits)
    return Response(
        200,
        {
            "took": int((time.perf_counter() - started) * 1000),
            "timed_out": False,
            "total": total,
            "deleted": deleted,
            "batches": 1 if total else 0,
            "version_conflicts": total - deleted,
            "noops": 0,
            "retries": {"bulk": 0, "search": 0},
            "throttled_millis": 0,
            "requests_per_second": -1.0,
            "throttled_until_millis": 0,
            "failures": [],
        },
    )
