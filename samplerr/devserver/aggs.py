"""Aggregations over the matching documents, with Elasticsearch's response shapes.

Buckets: ``date_histogram`` (``fixed_interval``, ``calendar_interval``, ``min_doc_count``,
``extended_bounds``, ``hard_bounds``, ``offset``, ``format``, ``time_zone``, ``order``, ``keyed``),
``histogram``, ``terms`` (``size``, ``order`` by ``_count``/``_key``/a metric sub-aggregation,
``min_doc_count``, ``missing``, ``include``/``exclude``), ``filter``, ``filters``, ``range``,
``missing``. Metrics: ``avg``, ``min``, ``max``, ``sum``, ``value_count``, ``cardinality`` (exact),
``stats``, ``extended_stats``. Sub-aggregations nest freely. Fields are the mapping's, plus the
metadata field ``_index`` (a keyword: ``terms`` on it buckets the documents by index). The legacy
``interval`` of ``date_histogram`` is refused as Elasticsearch 8/9 refuse it. Anything else answers 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver import dates
from samplerr.devserver.errors import EsError, illegal_argument, parsing, x_content_parse
from samplerr.devserver.mapping import FieldType
from samplerr.devserver.query import Matcher, Query, parse_query
from samplerr.devserver.store import Doc, Index, values

JsonDict = dict[str, Any]
Hit = tuple[Doc, Index]

METRICS = frozenset({"avg", "min", "max", "sum", "value_count", "cardinality", "stats", "extended_stats"})
BUCKETS = frozenset({"date_histogram", "histogram", "terms", "filter", "filters", "range", "missing"})
KNOWN_UNSUPPORTED = frozenset(
    {
        "percentiles",
        "percentile_ranks",
        "median_absolute_deviation",
        "top_hits",
        "top_metrics",
        "geo_bounds",
        "geo_centroid",
        "scripted_metric",
        "weighted_avg",
        "string_stats",
        "boxplot",
        "t_test",
        "rate",
        "matrix_stats",
        "composite",
        "date_range",
        "ip_range",
        "nested",
        "reverse_nested",
        "sampler",
        "diversified_sampler",
        "significant_terms",
        "significant_text",
        "rare_terms",
        "multi_terms",
        "auto_date_histogram",
        "variable_width_histogram",
        "adjacency_matrix",
        "geohash_grid",
        "geotile_grid",
        "global",
        "children",
        "parent",
        "random_sampler",
        "categorize_text",
        "frequent_item_sets",
        "derivative",
        "moving_avg",
        "moving_fn",
        "cumulative_sum",
        "bucket_script",
        "bucket_selector",
        "bucket_sort",
        "serial_diff",
        "avg_bucket",
        "max_bucket",
        "min_bucket",
        "sum_bucket",
        "stats_bucket",
        "extended_stats_bucket",
        "percentiles_bucket",
        "cumulative_cardinality",
        "normalize",
        "inference",
        "time_series",
        "change_point",
    }
)
DEFAULT_MAX_BUCKETS = 65536


@dataclass
class Agg:
    name: str
    type: str
    body: JsonDict
    subs: list[Agg] = field(default_factory=list)
    meta: JsonDict | None = None
    queries: dict[str, Query] = field(default_factory=dict)


def parse_aggs(spec: Any) -> list[Agg]:
    if not isinstance(spec, dict):
        raise parsing("Expected [START_OBJECT] under [aggregations], but got a [VALUE_STRING] in [aggs]")
    return [_parse_one(name, body) for name, body in spec.items()]


def _parse_one(name: str, body: Any) -> Agg:
    if not re.fullmatch(r"[^\[\]>]+", name):
        raise parsing(
            f"Invalid aggregation name [{name}]. Aggregation names can contain any character except "
            "'[', ']', and '>'"
        )
    if not isinstance(body, dict):
        raise parsing(f"Expected [START_OBJECT] under [{name}], but got a [VALUE_STRING] in [{name}]")
    subs: list[Agg] = []
    meta = None
    kind: str | None = None
    params: JsonDict = {}
    for key, value in body.items():
        if key in ("aggs", "aggregations"):
            subs = parse_aggs(value)
        elif key == "meta":
            meta = value
        elif kind is None:
            kind, params = key, value
        else:
            raise parsing(f"Found two aggregation type definitions in [{name}]: [{kind}] and [{key}]")
    if kind is None:
        raise parsing(f"Missing definition for aggregation [{name}]")
    if kind not in METRICS and kind not in BUCKETS:
        if kind in KNOWN_UNSUPPORTED:
            raise parsing(f"aggregation [{kind}] is not supported by the samplerr development server")
        raise parsing(
            f"Unknown aggregation type [{kind}]",
            caused_by=EsError(400, "named_object_not_found_exception", f"[1:1] unknown field [{kind}]"),
        )
    if not isinstance(params, dict):
        raise parsing(f"Expected [START_OBJECT] under [{kind}], but got a [VALUE_STRING] in [{name}]")
    agg = Agg(name, kind, params, subs, meta)
    _validate(agg)
    if kind in METRICS and subs:
        raise EsError(
            400,
            "aggregation_initialization_exception",
            f"Aggregator [{name}] of type [{kind}] cannot accept sub-aggregations",
        )
    return agg


_DH_KEYS = frozenset(
    {
        "field",
        "fixed_interval",
        "calendar_interval",
        "min_doc_count",
        "extended_bounds",
        "hard_bounds",
        "offset",
        "format",
        "time_zone",
        "order",
        "keyed",
        "missing",
    }
)


def _validate(agg: Agg) -> None:
    b = agg.body
    if "script" in b:
        raise illegal_argument("scripts are not supported by the samplerr development server")
    if agg.type == "date_histogram":
        for key in b:
            if key not in _DH_KEYS:
                hint = " did you mean [fixed_interval]?" if key == "interval" else ""
                raise x_content_parse(f"[1:1] [date_histogram] unknown field [{key}]{hint}")
        if "fixed_interval" in b and "calendar_interval" in b:
            raise illegal_argument(
                "Cannot use [fixed_interval] with [calendar_interval] configuration option."
            )
        if "fixed_interval" in b:
            dates.parse_fixed_interval(str(b["fixed_interval"]))
        elif "calendar_interval" in b:
            dates.parse_calendar_interval(str(b["calendar_interval"]))
        else:
            raise illegal_argument("Invalid interval specified, must be non-null and non-empty")
        dates.zone(b.get("time_zone"))
    if (
        agg.type in METRICS | {"terms", "histogram", "missing", "date_histogram", "range"}
        and "field" not in b
    ):
        raise illegal_argument("Required one of fields [field, script], but none were specified.")
    if agg.type == "histogram":
        interval = b.get("interval")
        if not isinstance(interval, (int, float)) or interval <= 0:
            raise illegal_argument(f"[interval] must be >0 for histogram aggregation [{agg.name}]")
    if agg.type == "filter":
        agg.queries["filter"] = parse_query(b)
    if agg.type == "filters":
        filters = b.get("filters")
        if isinstance(filters, dict):
            agg.queries = {k: parse_query(v) for k, v in filters.items()}
        elif isinstance(filters, list):
            agg.queries = {str(i): parse_query(v) for i, v in enumerate(filters)}
        else:
            raise parsing("[filters] must be an object or an array")
    if agg.type == "range" and not isinstance(b.get("ranges"), list):
        raise illegal_argument(f"No [ranges] specified for the [{agg.name}] aggregation")


@dataclass
class AggCtx:
    now: int
    compile: Callable[[Query, Index], Matcher]
    max_buckets: int = DEFAULT_MAX_BUCKETS
    typed_keys: bool = False
    buckets_made: int = 0

    def count_buckets(self, n: int) -> None:
        self.buckets_made += n
        if self.buckets_made > self.max_buckets:
            raise EsError(
                400,
                "too_many_buckets_exception",
                f"Trying to create too many buckets. Must be less than or equal to: [{self.max_buckets}] "
                "but this "
                "number of buckets was exceeded. This limit can be set by changing the "
                "[search.max_buckets] cluster "
                "level setting.",
                meta={"max_buckets": self.max_buckets},
            )


def run_aggs(aggs: list[Agg], hits: list[Hit], ctx: AggCtx) -> JsonDict:
    out: JsonDict = {}
    for agg in aggs:
        result = _run(agg, hits, ctx)
        if agg.meta is not None:
            result["meta"] = agg.meta
        out[f"{_typed_name(agg, hits)}#{agg.name}" if ctx.typed_keys else agg.name] = result
    return out


def _typed_name(agg: Agg, hits: list[Hit]) -> str:
    """The ``typed_keys`` prefix: the aggregation type, ``sterms``/``lterms``/``dterms`` for terms."""
    if agg.type != "terms":
        return agg.type
    ft = _first_type(agg.body["field"], hits)
    kind = ft.kind if ft is not None else "keyword"
    return {"long": "lterms", "date": "lterms", "boolean": "lterms", "double": "dterms"}.get(kind, "sterms")


def _run(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    if agg.type in METRICS:
        return _metric(agg, hits)
    if agg.type == "date_histogram":
        return _date_histogram(agg, hits, ctx)
    if agg.type == "histogram":
        return _histogram(agg, hits, ctx)
    if agg.type == "terms":
        return _terms(agg, hits, ctx)
    if agg.type == "filter":
        matched = _filtered(agg.queries["filter"], hits, ctx)
        return _bucket_body({"doc_count": len(matched)}, agg, matched, ctx)
    if agg.type == "filters":
        return _filters(agg, hits, ctx)
    if agg.type == "range":
        return _range(agg, hits, ctx)
    if agg.type == "missing":
        matched = [h for h in hits if not _field_values(agg.body["field"], h)]
        return _bucket_body({"doc_count": len(matched)}, agg, matched, ctx)
    raise parsing(f"Unknown aggregation type [{agg.type}]")


def _bucket_body(bucket: JsonDict, agg: Agg, members: list[Hit], ctx: AggCtx) -> JsonDict:
    if agg.subs:
        bucket.update(run_aggs(agg.subs, members, ctx))
    return bucket


# The ``_index`` metadata field, aggregatable as a keyword in every index.
INDEX_FIELD = FieldType("_index", "keyword", "_index", {})


def _field_type(name: str, index: Index) -> FieldType | None:
    if name == INDEX_FIELD.path:
        return INDEX_FIELD
    return index.mapping.field(name)


def _field_values(name: str, hit: Hit) -> list[Any]:
    doc, index = hit
    if name == INDEX_FIELD.path:
        return [index.name]
    ft = _field_type(name, index)
    if ft is None:
        return []
    if ft.kind == "text":
        raise _fielddata(ft, index)
    return values(doc, ft)


def _fielddata(ft: FieldType, index: Index) -> EsError:
    return illegal_argument(
        f"Fielddata is disabled on [{ft.path}] in [{index.name}]. Text fields are not optimised for "
        "operations "
        "that require per-document field data like aggregations and sorting, so these operations are "
        "disabled "
        "by default. Please use a keyword field instead. Alternatively, set fielddata=true on "
        f"[{ft.path}] in order to load field data by uninverting the inverted index. Note that this can use "
        "significant memory."
    )


def _first_type(name: str, hits: list[Hit]) -> FieldType | None:
    seen: set[str] = set()
    for _, index in hits:
        if index.name in seen:
            continue
        seen.add(index.name)
        ft = _field_type(name, index)
        if ft is not None:
            return ft
    return None


# --- metrics


def _numeric(agg: Agg, hits: list[Hit]) -> tuple[list[float], FieldType | None]:
    name = agg.body["field"]
    missing = agg.body.get("missing")
    out: list[float] = []
    ft0: FieldType | None = None
    for hit in hits:
        doc, index = hit
        ft = _field_type(name, index)
        if ft is None:
            if missing is not None:
                out.append(float(missing))
            continue
        ft0 = ft0 or ft
        if ft.kind in ("keyword", "text", "opaque"):
            raise illegal_argument(
                f"Field [{name}] of type [{ft.type}] is not supported for aggregation [{agg.type}]"
            )
        vals = values(doc, ft)
        if not vals and missing is not None:
            out.append(float(_missing_value(ft, missing)))
        for v in vals:
            out.append(float(v) if not isinstance(v, bool) else (1.0 if v else 0.0))
    return out, ft0


def _missing_value(ft: FieldType, missing: Any) -> Any:
    if ft.kind == "date" and isinstance(missing, str):
        assert ft.fmt is not None
        return ft.fmt.parse(missing)
    return missing


def _as_string(ft: FieldType | None, value: float | None, key: str, out: JsonDict) -> None:
    if ft is not None and ft.kind == "date" and value is not None and math.isfinite(value):
        assert ft.fmt is not None
        out[key] = ft.fmt.format(int(value))


def _metric(agg: Agg, hits: list[Hit]) -> JsonDict:
    kind = agg.type
    if kind in ("value_count", "cardinality"):
        name = agg.body["field"]
        if kind == "value_count":
            count = 0
            for hit in hits:
                count += len(_field_values(name, hit))
            return {"value": count}
        distinct: set[Any] = set()
        for hit in hits:
            distinct.update(_field_values(name, hit))
        return {"value": len(distinct)}
    nums, ft = _numeric(agg, hits)
    out: JsonDict
    if kind == "avg":
        value = math.fsum(nums) / len(nums) if nums else None
        out = {"value": value}
        _as_string(ft, value, "value_as_string", out)
        return out
    if kind == "sum":
        value = math.fsum(nums)
        out = {"value": value}
        _as_string(ft, value, "value_as_string", out)
        return out
    if kind in ("min", "max"):
        value = (min(nums) if kind == "min" else max(nums)) if nums else None
        out = {"value": value}
        _as_string(ft, value, "value_as_string", out)
        return out
    count = len(nums)
    total = math.fsum(nums)
    out = {
        "count": count,
        "min": min(nums) if nums else None,
        "max": max(nums) if nums else None,
        "avg": total / count if count else None,
        "sum": total,
    }
    if kind == "extended_stats":
        sigma = float(agg.body.get("sigma", 2.0))
        squares = math.fsum(x * x for x in nums)
        variance = (squares - total * total / count) / count if count else None
        sampling = (squares - total * total / count) / (count - 1) if count > 1 else None
        std = math.sqrt(variance) if variance is not None and variance >= 0 else None
        std_s = math.sqrt(sampling) if sampling is not None and sampling >= 0 else None
        avg = out["avg"]
        out.update(
            {
                "sum_of_squares": squares if count else None,
                "variance": variance,
                "variance_population": variance,
                "variance_sampling": sampling,
                "std_deviation": std,
                "std_deviation_population": std,
                "std_deviation_sampling": std_s,
                "std_deviation_bounds": {
                    "upper": avg + sigma * std if avg is not None and std is not None else None,
                    "lower": avg - sigma * std if avg is not None and std is not None else None,
                    "upper_population": avg + sigma * std if avg is not None and std is not None else None,
                    "lower_population": avg - sigma * std if avg is not None and std is not None else None,
                    "upper_sampling": avg + sigma * std_s if avg is not None and std_s is not None else None,
                    "lower_sampling": avg - sigma * std_s if avg is not None and std_s is not None else None,
                },
            }
        )
    if count and ft is not None and ft.kind == "date":
        for key in ("min", "max", "avg", "sum"):
            _as_string(ft, out[key], f"{key}_as_string", out)
    return out


# --- histograms


def _rounding(b: JsonDict) -> dates.Rounding:
    tz = dates.zone(b.get("time_zone"))
    offset = dates.parse_offset(b.get("offset"))
    if "fixed_interval" in b:
        return dates.Rounding(dates.parse_fixed_interval(str(b["fixed_interval"])), None, tz, offset)
    return dates.Rounding(None, dates.parse_calendar_interval(str(b["calendar_interval"])), tz, offset)


def _bound_ms(value: Any, fmt: dates.DateFormatter, ctx: AggCtx, tz: Any) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return dates.parse_date_math(str(value), fmt, ctx.now, tz=tz)


def _date_histogram(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    b = agg.body
    name = b["field"]
    rounding = _rounding(b)
    ft = _first_type(name, hits)
    if ft is not None and ft.kind not in ("date", "long", "double"):
        raise illegal_argument(
            f"Field [{name}] of type [{ft.type}] is not supported for aggregation [date_histogram]"
        )
    field_fmt = ft.fmt if ft is not None and ft.fmt is not None else dates.DEFAULT
    fmt = dates.formatter(str(b["format"])) if "format" in b else field_fmt
    groups: dict[int, list[Hit]] = {}
    missing = b.get("missing")
    for hit in hits:
        vals = _field_values(name, hit)
        if not vals and missing is not None:
            vals = [_bound_ms(missing, field_fmt, ctx, rounding.tz)]
        seen: set[int] = set()
        for v in vals:
            key = rounding.round(int(v))
            if key not in seen:
                seen.add(key)
                groups.setdefault(key, []).append(hit)
    hard = b.get("hard_bounds")
    if isinstance(hard, dict):
        lo = _bound_ms(hard["min"], fmt, ctx, rounding.tz) if "min" in hard else None
        hi = _bound_ms(hard["max"], fmt, ctx, rounding.tz) if "max" in hard else None
        groups = {
            k: v
            for k, v in groups.items()
            if (lo is None or k >= rounding.round(lo)) and (hi is None or k <= hi)
        }
    min_doc_count = int(b.get("min_doc_count", 0))
    keys = sorted(groups)
    if min_doc_count == 0:
        bounds = b.get("extended_bounds")
        first = keys[0] if keys else None
        last = keys[-1] if keys else None
        if isinstance(bounds, dict):
            if "min" in bounds:
                lo_key = rounding.round(_bound_ms(bounds["min"], fmt, ctx, rounding.tz))
                first = lo_key if first is None else min(first, lo_key)
            if "max" in bounds:
                hi_key = rounding.round(_bound_ms(bounds["max"], fmt, ctx, rounding.tz))
                last = hi_key if last is None else max(last, hi_key)
        keys = []
        if first is not None and last is not None:
            key = first
            while key <= last:
                keys.append(key)
                ctx.count_buckets(1)
                key = rounding.next(key)
    else:
        keys = [k for k in keys if len(groups[k]) >= min_doc_count]
        ctx.count_buckets(len(keys))
    buckets: list[JsonDict] = []
    for key in keys:
        members = groups.get(key, [])
        bucket: JsonDict = {
            "key_as_string": fmt.format(key, rounding.tz),
            "key": key,
            "doc_count": len(members),
        }
        buckets.append(_bucket_body(bucket, agg, members, ctx))
    buckets = _order_buckets(buckets, b.get("order"), default_key_asc=True)
    if b.get("keyed") in (True, "true"):
        return {
            "buckets": {
                bk["key_as_string"]: {k: v for k, v in bk.items() if k != "key_as_string"} for bk in buckets
            }
        }
    return {"buckets": buckets}


def _histogram(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    b = agg.body
    interval = float(b["interval"])
    offset = float(b.get("offset", 0.0))
    groups: dict[float, list[Hit]] = {}
    for hit in hits:
        seen: set[float] = set()
        for v in _field_values(b["field"], hit):
            key = math.floor((float(v) - offset) / interval) * interval + offset
            if key not in seen:
                seen.add(key)
                groups.setdefault(key, []).append(hit)
    min_doc_count = int(b.get("min_doc_count", 0))
    keys = sorted(groups)
    if min_doc_count == 0 and keys:
        bounds = b.get("extended_bounds") or {}
        first = (
            min(keys[0], math.floor((float(bounds["min"]) - offset) / interval) * interval + offset)
            if "min" in bounds
            else keys[0]
        )
        last = (
            max(keys[-1], math.floor((float(bounds["max"]) - offset) / interval) * interval + offset)
            if "max" in bounds
            else keys[-1]
        )
        keys = []
        i = 0
        while first + i * interval <= last + 1e-9 * interval:
            keys.append(first + i * interval)
            ctx.count_buckets(1)
            i += 1
    else:
        keys = [k for k in keys if len(groups.get(k, [])) >= max(min_doc_count, 1)]
        ctx.count_buckets(len(keys))
    buckets = [
        _bucket_body({"key": float(k), "doc_count": len(groups.get(k, []))}, agg, groups.get(k, []), ctx)
        for k in keys
    ]
    return {"buckets": _order_buckets(buckets, b.get("order"), default_key_asc=True)}


# --- terms, filters, ranges


def _term_key(ft: FieldType | None, value: Any) -> tuple[Any, str | None]:
    if ft is None:
        return value, None
    if ft.kind == "boolean":
        return (1 if value else 0), ("true" if value else "false")
    if ft.kind == "date":
        assert ft.fmt is not None
        return int(value), ft.fmt.format(int(value))
    return value, None


def _include_test(b: JsonDict) -> Callable[[Any], bool]:
    include, exclude = b.get("include"), b.get("exclude")

    def compile_filter(spec: Any) -> Callable[[Any], bool] | None:
        if spec is None:
            return None
        if isinstance(spec, list):
            wanted = {str(v) for v in spec}
            return lambda v: str(v) in wanted
        if isinstance(spec, str):
            regex = re.compile(spec)
            return lambda v: regex.fullmatch(str(v)) is not None
        raise illegal_argument("partitioned include is not supported by the samplerr development server")

    inc, exc = compile_filter(include), compile_filter(exclude)
    return lambda v: (inc is None or inc(v)) and (exc is None or not exc(v))


def _terms(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    b = agg.body
    name = b["field"]
    size = int(b.get("size", 10))
    if size < 1:
        raise illegal_argument(f"[size] must be greater than 0. Found [{size}] in [{agg.name}]")
    min_doc_count = int(b.get("min_doc_count", 1))
    missing = b.get("missing")
    keep = _include_test(b)
    groups: dict[Any, list[Hit]] = {}
    key_strings: dict[Any, str | None] = {}
    ft0 = _first_type(name, hits)
    for hit in hits:
        vals = _field_values(name, hit)
        ft = _field_type(name, hit[1])
        if not vals and missing is not None:
            vals = [missing]
        seen: set[Any] = set()
        for v in vals:
            key, as_string = _term_key(ft or ft0, v)
            if key in seen or not keep(key):
                continue
            seen.add(key)
            groups.setdefault(key, []).append(hit)
            key_strings[key] = as_string
    buckets: list[JsonDict] = []
    for key, members in groups.items():
        if len(members) < min_doc_count:
            continue
        bucket: JsonDict = {"key": key}
        if key_strings.get(key) is not None:
            bucket["key_as_string"] = key_strings[key]
        bucket["doc_count"] = len(members)
        buckets.append(_bucket_body(bucket, agg, members, ctx))
    buckets.sort(key=lambda bk: _sortable(bk["key"]))
    order = b.get("order", {"_count": "desc"})
    buckets = _order_buckets(buckets, order, default_key_asc=False)
    kept = buckets[:size]
    ctx.count_buckets(len(kept))
    other = sum(bk["doc_count"] for bk in buckets[size:])
    return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": other, "buckets": kept}


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def _order_buckets(buckets: list[JsonDict], order: Any, *, default_key_asc: bool) -> list[JsonDict]:
    if order is None:
        return buckets
    specs = order if isinstance(order, list) else [order]
    result = sorted(buckets, key=lambda bk: _sortable(bk["key"]))
    for spec in reversed(specs):
        if not isinstance(spec, dict) or len(spec) != 1:
            raise parsing("[order] must be an object with one key")
        ((path, direction),) = spec.items()
        if direction not in ("asc", "desc"):
            raise parsing(f"Unknown order direction [{direction}]")
        if path == "_term":
            raise illegal_argument("Invalid aggregation order path [_term]. Unknown aggregation [_term]")
        reverse = direction == "desc"
        if path == "_count":
            result.sort(key=lambda bk: bk["doc_count"], reverse=reverse)
        elif path in ("_key", "_time"):
            result.sort(key=lambda bk: _sortable(bk["key"]), reverse=reverse)
        else:
            present = [bk for bk in result if _order_value(bk, path) is not None]
            absent = [bk for bk in result if _order_value(bk, path) is None]
            present.sort(key=lambda bk: _order_value(bk, path), reverse=reverse)
            result = present + absent
    return result


def _order_value(bucket: JsonDict, path: str) -> Any:
    name, _, metric = path.partition(".")
    name = name.split(">")[-1]
    if name not in bucket:
        raise EsError(
            400,
            "aggregation_execution_exception",
            f"Invalid aggregation order path [{path}]. Unknown aggregation [{name}]",
        )
    node = bucket[name]
    if not isinstance(node, dict):
        return None
    if metric:
        return node.get(metric)
    if "value" in node:
        return node["value"]
    if "doc_count" in node:
        return node["doc_count"]
    raise EsError(
        400,
        "aggregation_execution_exception",
        f"Invalid aggregation order path [{path}]. When ordering on a multi-value metrics aggregation a "
        "metric name must be specified.",
    )


def _filtered(query: Query, hits: list[Hit], ctx: AggCtx) -> list[Hit]:
    matchers: dict[str, Matcher] = {}
    out: list[Hit] = []
    for hit in hits:
        doc, index = hit
        m = matchers.get(index.name)
        if m is None:
            m = ctx.compile(query, index)
            matchers[index.name] = m
        if m(doc) is not None:
            out.append(hit)
    return out


def _filters(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    b = agg.body
    keyed = isinstance(b.get("filters"), dict)
    matched_any: set[int] = set()
    buckets: dict[str, JsonDict] = {}
    for key, query in agg.queries.items():
        members = _filtered(query, hits, ctx)
        matched_any.update(id(h[0]) for h in members)
        buckets[key] = _bucket_body({"doc_count": len(members)}, agg, members, ctx)
    if b.get("other_bucket") in (True, "true") or "other_bucket_key" in b:
        others = [h for h in hits if id(h[0]) not in matched_any]
        buckets[str(b.get("other_bucket_key", "_other_"))] = _bucket_body(
            {"doc_count": len(others)}, agg, others, ctx
        )
    ctx.count_buckets(len(buckets))
    if keyed:
        return {"buckets": buckets}
    return {"buckets": list(buckets.values())}


def _range(agg: Agg, hits: list[Hit], ctx: AggCtx) -> JsonDict:
    b = agg.body
    ft = _first_type(b["field"], hits)
    out: list[JsonDict] = []
    for spec in b["ranges"]:
        lo = spec.get("from")
        hi = spec.get("to")
        lo_v = _range_bound(ft, lo, ctx)
        hi_v = _range_bound(ft, hi, ctx)
        members = [
            h
            for h in hits
            if any(
                (lo_v is None or v >= lo_v) and (hi_v is None or v < hi_v)
                for v in _field_values(b["field"], h)
            )
        ]
        key = spec.get("key") or f"{_range_text(ft, lo_v)}-{_range_text(ft, hi_v)}"
        bucket: JsonDict = {"key": key}
        if lo_v is not None:
            bucket["from"] = float(lo_v)
            if ft is not None and ft.kind == "date":
                bucket["from_as_string"] = _range_text(ft, lo_v)
        if hi_v is not None:
            bucket["to"] = float(hi_v)
            if ft is not None and ft.kind == "date":
                bucket["to_as_string"] = _range_text(ft, hi_v)
        bucket["doc_count"] = len(members)
        out.append(_bucket_body(bucket, agg, members, ctx))
    ctx.count_buckets(len(out))
    if b.get("keyed") in (True, "true"):
        return {"buckets": {bk.pop("key"): bk for bk in out}}
    return {"buckets": out}


def _range_bound(ft: FieldType | None, value: Any, ctx: AggCtx) -> float | None:
    if value is None:
        return None
    if ft is not None and ft.kind == "date" and isinstance(value, str):
        assert ft.fmt is not None
        return float(dates.parse_date_math(value, ft.fmt, ctx.now))
    return float(value)


def _range_text(ft: FieldType | None, value: float | None) -> str:
    if value is None:
        return "*"
    if ft is not None and ft.kind == "date":
        assert ft.fmt is not None
        return ft.fmt.format(int(value))
    return repr(float(value))
