"""Mappings: field types, dynamic mapping, document validation and field values for queries.

A :class:`Mapping` holds the mapping JSON (rendered like Elasticsearch, properties sorted) and a flat
table of leaf fields (``FieldType``) by dotted path, multi-fields included (``host.keyword``).
``prepare`` validates a document against it — refusing a string in a ``double`` field, an object where
a keyword belongs, an unknown field under ``dynamic: strict`` — and maps new fields dynamically the way
Elasticsearch does (strings as ``text`` + ``keyword``, or ``date`` when they look like one; ``long``,
``float``, ``boolean``; ``dynamic_templates`` first). Values seen by queries and aggregations come
from :func:`values`, converted per type (``float`` fields are float32 like Lucene's, dates epoch ms).
"""

from __future__ import annotations

import copy
import math
import re
import struct
from collections.abc import Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver import dates
from samplerr.devserver.errors import EsError, illegal_argument
from samplerr.devserver.names import simple_match

JsonDict = dict[str, Any]

INT_RANGES = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-32768, 32767),
    "byte": (-128, 127),
    "unsigned_long": (0, 2**64 - 1),
}
FLOATS = frozenset({"double", "float", "half_float", "scaled_float"})
KEYWORDS = frozenset({"keyword", "constant_keyword", "wildcard", "ip", "version"})
TEXTS = frozenset({"text", "match_only_text"})
DATES = frozenset({"date", "date_nanos"})
OPAQUE = frozenset(
    {
        "binary",
        "geo_point",
        "geo_shape",
        "point",
        "shape",
        "dense_vector",
        "sparse_vector",
        "rank_feature",
        "rank_features",
        "histogram",
        "completion",
        "search_as_you_type",
        "token_count",
        "percolator",
        "join",
        "integer_range",
        "float_range",
        "long_range",
        "double_range",
        "date_range",
        "ip_range",
        "aggregate_metric_double",
        "flattened",
        "semantic_text",
    }
)
LEAF_TYPES = frozenset(INT_RANGES) | FLOATS | KEYWORDS | TEXTS | DATES | OPAQUE | {"boolean", "alias"}
ROOT_KEYS = frozenset(
    {
        "properties",
        "dynamic",
        "dynamic_templates",
        "date_detection",
        "numeric_detection",
        "dynamic_date_formats",
        "_source",
        "_meta",
        "_routing",
        "enabled",
        "subobjects",
        "_data_stream_timestamp",
        "_field_names",
        "_size",
    }
)
OBJECT_KEYS = frozenset(
    {"type", "properties", "dynamic", "enabled", "subobjects", "include_in_parent", "include_in_root"}
)
COMMON_PARAMS = frozenset(
    {
        "type",
        "index",
        "doc_values",
        "store",
        "meta",
        "fields",
        "null_value",
        "boost",
        "ignore_malformed",
        "coerce",
        "copy_to",
        "on_script_error",
        "script",
        "time_series_dimension",
        "time_series_metric",
        "synthetic_source_keep",
    }
)
TYPE_PARAMS: dict[str, frozenset[str]] = {
    "keyword": frozenset(
        {
            "ignore_above",
            "normalizer",
            "eager_global_ordinals",
            "index_options",
            "norms",
            "similarity",
            "split_queries_on_whitespace",
            "value",
        }
    ),
    "text": frozenset(
        {
            "analyzer",
            "search_analyzer",
            "search_quote_analyzer",
            "fielddata",
            "fielddata_frequency_filter",
            "index_options",
            "index_phrases",
            "index_prefixes",
            "norms",
            "position_increment_gap",
            "similarity",
            "term_vector",
            "eager_global_ordinals",
        }
    ),
    "date": frozenset({"format", "locale", "precision_step", "ignore_z_value"}),
    "scaled_float": frozenset({"scaling_factor"}),
    "alias": frozenset({"path"}),
}
DEFAULT_DYNAMIC_DATE_FORMATS = ["strict_date_optional_time", "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z"]
_TOKEN_RE = re.compile(r"\w+(?:[.'\u2019]\w+)*")


def analyze(text: str) -> list[str]:
    """An approximation of the standard analyzer: word tokens, lower-cased."""
    return _TOKEN_RE.findall(text.lower())


def mapper_parsing(reason: str, caused_by: EsError | None = None) -> EsError:
    return EsError(400, "mapper_parsing_exception", reason, caused_by=caused_by)


_STRING, _LONG, _DOUBLE, _DATE, _BOOLEAN = 1, 2, 3, 4, 5
_MAX_PLANS = 1024
_FAST_CODES = {
    "keyword": _STRING,
    "text": _STRING,
    "long": _LONG,
    "double": _DOUBLE,
    "date": _DATE,
    "boolean": _BOOLEAN,
}


def _kind(type_: str) -> str:
    if type_ in INT_RANGES:
        return "long"
    if type_ in FLOATS:
        return "double"
    if type_ in KEYWORDS:
        return "keyword"
    if type_ in TEXTS:
        return "text"
    if type_ in DATES:
        return "date"
    if type_ == "boolean":
        return "boolean"
    return "opaque"


class ValueRejectedError(ValueError):
    """A value that does not fit its field; ``cause`` is the Elasticsearch cause to report."""

    def __init__(self, cause: EsError) -> None:
        super().__init__(cause.reason)
        self.cause = cause


def _number_format(value: object) -> ValueRejectedError:
    return ValueRejectedError(EsError(400, "number_format_exception", f'For input string: "{value}"'))


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _float16(value: float) -> float:
    return float(struct.unpack("e", struct.pack("e", value))[0])


@dataclass(slots=True)
class FieldType:
    path: str
    type: str
    source_path: str
    params: JsonDict
    kind: str = ""
    fmt: dates.DateFormatter | None = None
    ignore_above: int | None = None
    scaling: float | None = None
    nested: bool = False
    target: str | None = None  # alias fields
    low: int = 0
    high: int = 0

    def __post_init__(self) -> None:
        self.kind = _kind(self.type)
        if self.type in INT_RANGES:
            self.low, self.high = INT_RANGES[self.type]
        if self.kind == "date":
            self.fmt = dates.formatter(self.params.get("format"))
        if "ignore_above" in self.params:
            self.ignore_above = int(self.params["ignore_above"])
        if self.type == "scaled_float":
            self.scaling = float(self.params.get("scaling_factor", 1.0))
        if self.type == "alias":
            self.target = str(self.params.get("path", ""))

    @property
    def searchable(self) -> bool:
        return self.params.get("index", True) not in (False, "false")

    @property
    def ignore_malformed(self) -> bool:
        return self.params.get("ignore_malformed", False) in (True, "true")

    def convert(self, value: Any) -> Any:
        """The indexed value of one JSON scalar; raises :class:`ValueRejectedError` when it does not fit."""
        kind = self.kind
        if isinstance(value, (dict, list)):
            cause = EsError(400, "illegal_state_exception", "Can't get text on a START_OBJECT")
            raise ValueRejectedError(cause)
        if kind == "keyword":
            text = _keyword_text(value)
            if self.ignore_above is not None and len(text) > self.ignore_above:
                return None
            return text
        if kind == "text":
            return _keyword_text(value)
        if kind == "long":
            return self._integer(value)
        if kind == "double":
            return self._double(value)
        if kind == "date":
            return self._date(value)
        if kind == "boolean":
            return _boolean(value)
        return value

    def _integer(self, value: Any) -> int:
        _refuse_boolean(value)
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _number_format(value)
            number = int(value)
        else:
            text = str(value).strip()
            try:
                number = int(text)
            except ValueError:
                try:
                    as_float = float(text)
                except ValueError:
                    raise _number_format(value) from None
                if not math.isfinite(as_float):
                    raise _number_format(value) from None
                number = int(as_float)
        low, high = INT_RANGES[self.type]
        if not low <= number <= high:
            raise ValueRejectedError(
                illegal_argument(f"Value [{value}] is out of range for {_article(self.type)}")
            )
        return number

    def _double(self, value: Any) -> float:
        _refuse_boolean(value)
        if isinstance(value, (int, float)):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                raise _number_format(value) from None
        if not math.isfinite(number):
            raise ValueRejectedError(
                illegal_argument(f"[{self.type}] supports only finite values, but got [{value}]")
            )
        if self.type == "float":
            return _float32(number)
        if self.type == "half_float":
            return _float16(number)
        if self.scaling is not None:
            return round(number * self.scaling) / self.scaling
        return number

    def _date(self, value: Any) -> int:
        assert self.fmt is not None
        if isinstance(value, bool):
            raise ValueRejectedError(
                illegal_argument(f"failed to parse date field [{value}] with format [{self.fmt.spec}]")
            )
        text = str(value) if not isinstance(value, float) else repr(value).rstrip("0").rstrip(".")
        parsed = self.fmt.try_parse(text)
        if parsed is None:
            raise ValueRejectedError(
                illegal_argument(
                    f"failed to parse date field [{text}] with format [{self.fmt.spec}]",
                    caused_by=EsError(
                        400, "date_time_parse_exception", "Failed to parse with all enclosed parsers"
                    ),
                )
            )
        return parsed

    def query_value(self, value: Any) -> Any:
        """A query term converted to this field's type (400 ``query_shard_exception`` style on failure)."""
        if self.kind == "opaque":
            raise illegal_argument(
                f"queries on field [{self.path}] of type [{self.type}] are not supported by "
                "the samplerr development server"
            )
        try:
            if self.kind == "keyword":
                return _keyword_text(value)
            if self.kind == "text":
                return _keyword_text(value)
            return self.convert(value)
        except ValueRejectedError as exc:
            raise EsError(
                400,
                "query_shard_exception",
                f"failed to create query: {exc.cause.reason}",
                caused_by=exc.cause,
            ) from exc


def _article(type_: str) -> str:
    return f"an {type_}" if type_[0] in "aeiou" else f"a {type_}"


def _keyword_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refuse_boolean(value: Any) -> None:
    """A JSON boolean in a numeric field fails to parse, as in Elasticsearch."""
    if isinstance(value, bool):
        raise ValueRejectedError(
            EsError(
                400,
                "json_parse_exception",
                "Current token (VALUE_TRUE) not numeric, can not use numeric value accessors",
            )
        )


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    if value == "":
        return False
    raise ValueRejectedError(
        illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    )


@dataclass(slots=True)
class ObjectMeta:
    dynamic: str | None
    enabled: bool = True
    nested: bool = False


def _dynamic_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text not in ("true", "false", "strict", "runtime"):
        raise mapper_parsing("Could not convert [dynamic] to boolean")
    return text


def _malformed(
    path: str, kind: str, doc_id: str, value: Any, exc: ValueRejectedError
) -> DocumentRejectedError:
    """Elasticsearch's answer to a value its field cannot take."""
    return DocumentRejectedError(
        EsError(
            400,
            "document_parsing_exception",
            f"[1:2] failed to parse field [{path}] of type [{kind}] in document with id "
            f"'{doc_id}'. Preview of field's value: '{_preview(value)}'",
            caused_by=exc.cause,
        )
    )


def _preview(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_preview(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_preview(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


class DocumentRejectedError(Exception):
    def __init__(self, error: EsError) -> None:
        super().__init__(error.reason)
        self.error = error


class Mapping:
    """One index's mapping: its JSON form and the leaf field table."""

    def __init__(self, definition: MappingABC[str, Any] | None = None) -> None:
        self.json: JsonDict = copy.deepcopy(dict(definition or {}))
        self.fields: dict[str, FieldType] = {}
        self.objects: dict[str, ObjectMeta] = {}
        self._check_root()
        self.json.setdefault("properties", {})
        self._index(self.json["properties"], "", None, nested=False)
        self._fast = self._fast_table()
        self.plans: dict[tuple[tuple[str, ...], tuple[type, ...]], list[tuple[str, int, FieldType]]] = {}

    def _fast_table(self) -> dict[str, tuple[int, FieldType]]:
        """Top-level leaf fields whose common values validate with a type check (see ``prepare``)."""
        table: dict[str, tuple[int, FieldType]] = {}
        for path, ft in self.fields.items():
            if "." in path or ft.type == "alias" or "null_value" in ft.params:
                continue
            subs = ft.params.get("fields") or {}
            if any(_kind(str(s.get("type"))) not in ("keyword", "text") for s in subs.values()):
                continue
            code = _FAST_CODES.get(ft.kind)
            if code is not None:
                table[path] = (code, ft)
        return table

    # --- construction ---------------------------------------------------------------------------------------

    def _check_root(self) -> None:
        unknown = [k for k in self.json if k not in ROOT_KEYS]
        if unknown:
            listed = ", ".join(f"{k} : {_preview(self.json[k])}" for k in unknown)
            raise mapper_parsing(f"Root mapping definition has unsupported parameters:  [{listed}]")
        if "runtime" in self.json:
            raise illegal_argument("runtime fields are not supported by the samplerr development server")
        self.json["dynamic"] = _dynamic_text(self.json.get("dynamic")) if "dynamic" in self.json else None
        if self.json["dynamic"] is None:
            del self.json["dynamic"]
        templates = self.json.get("dynamic_templates", [])
        if not isinstance(templates, list) or any(not isinstance(t, dict) or len(t) != 1 for t in templates):
            raise mapper_parsing("Dynamic template syntax error. An array of named objects is expected.")

    def _index(self, properties: Any, prefix: str, parent_dynamic: str | None, *, nested: bool) -> None:
        if not isinstance(properties, dict):
            raise mapper_parsing(
                f"Expected map for property [properties] on field [{prefix.rstrip('.') or '_doc'}]"
            )
        for name, spec in properties.items():
            path = prefix + name
            if not isinstance(spec, dict):
                raise mapper_parsing(
                    f"Expected map for property [fields] on field [{path}] but got a class java.lang.String"
                )
            type_ = spec.get("type")
            if type_ is None and "properties" not in spec:
                type_ = "object"
            if type_ in ("object", "nested") or (type_ is None and "properties" in spec):
                unknown = [k for k in spec if k not in OBJECT_KEYS]
                if unknown:
                    raise mapper_parsing(
                        f"unknown parameter [{unknown[0]}] on mapper [{path}] of type [{type_}]"
                    )
                dyn = _dynamic_text(spec.get("dynamic")) if "dynamic" in spec else None
                if dyn is not None:
                    spec["dynamic"] = dyn
                self.objects[path] = ObjectMeta(
                    dyn, spec.get("enabled", True) not in (False, "false"), nested or type_ == "nested"
                )
                self._index(spec.get("properties", {}), path + ".", dyn, nested=nested or type_ == "nested")
                continue
            if not isinstance(type_, str) or type_ not in LEAF_TYPES:
                raise mapper_parsing(f"No handler for type [{type_}] declared on field [{name}]")
            self._check_params(path, type_, spec)
            self.fields[path] = FieldType(path, type_, path, spec, nested=nested)
            for sub, sub_spec in (spec.get("fields") or {}).items():
                if not isinstance(sub_spec, dict):
                    raise mapper_parsing(f"Expected map for property [fields] on field [{sub}]")
                sub_type = sub_spec.get("type", "object")
                if sub_type not in LEAF_TYPES:
                    raise mapper_parsing(f"No handler for type [{sub_type}] declared on field [{sub}]")
                self._check_params(f"{path}.{sub}", sub_type, sub_spec)
                self.fields[f"{path}.{sub}"] = FieldType(
                    f"{path}.{sub}", sub_type, path, sub_spec, nested=nested
                )

    @staticmethod
    def _check_params(path: str, type_: str, spec: MappingABC[str, Any]) -> None:
        family = "date" if type_ in DATES else type_
        allowed = COMMON_PARAMS | TYPE_PARAMS.get(family, frozenset())
        if type_ in KEYWORDS:
            allowed = allowed | TYPE_PARAMS["keyword"]
        if type_ in TEXTS:
            allowed = allowed | TYPE_PARAMS["text"]
        if type_ in OPAQUE or type_ in INT_RANGES or type_ in FLOATS:
            allowed = allowed | frozenset(spec)  # accepted as given
        unknown = [k for k in spec if k not in allowed]
        if unknown:
            raise mapper_parsing(f"unknown parameter [{unknown[0]}] on mapper [{path}] of type [{type_}]")
        if "copy_to" in spec:
            raise illegal_argument("copy_to is not supported by the samplerr development server")
        if type_ in DATES and "format" in spec:
            try:
                dates.formatter(str(spec["format"]))
            except EsError as exc:
                raise mapper_parsing(f"Invalid format: [{spec['format']}]") from exc

    # --- merging (templates, put mapping)

    def merged(self, other: MappingABC[str, Any] | None) -> Mapping:
        """A new mapping: ``other`` merged over this one; conflicting types raise like Elasticsearch."""
        if not other:
            return Mapping(self.json)
        result = copy.deepcopy(self.json)
        _merge_into(result, dict(other), "")
        merged = Mapping(result)
        for path, old in self.fields.items():
            new = merged.fields.get(path)
            if new is not None and new.type != old.type:
                raise illegal_argument(
                    f"mapper [{path}] cannot be changed from type [{old.type}] to [{new.type}]"
                )
            if (
                new is not None
                and new.kind == "date"
                and old.params.get("format") != new.params.get("format")
            ):
                raise illegal_argument(
                    f"Mapper for [{path}] conflicts with existing mapper:\n\tCannot update parameter "
                    "[format] from "
                    f"[{old.params.get('format')}] to [{new.params.get('format')}]"
                )
        for path in self.objects:
            if path in merged.fields:
                raise illegal_argument(f"can't merge a non object mapping [{path}] with an object mapping")
        return merged

    def rendered(self) -> JsonDict:
        rendered: JsonDict = _sorted_properties(self.json)
        return rendered

    # --- documents

    def dynamic_for(self, object_path: str) -> str:
        path = object_path
        while path:
            meta = self.objects.get(path)
            if meta is not None and meta.dynamic is not None:
                return meta.dynamic
            path = path.rpartition(".")[0]
        return str(self.json.get("dynamic", "true"))

    def prepare(self, source: Any, doc_id: str, field_limit: int = 1000) -> tuple[JsonDict, bool]:
        """Validate ``source``; map new fields. Returns (parsed date values by path, mapping changed)."""
        if not isinstance(source, dict):
            raise DocumentRejectedError(
                EsError(
                    400,
                    "document_parsing_exception",
                    "[1:1] failed to parse: Malformed content, must start with an object",
                )
            )
        shape = (tuple(source), tuple(map(type, source.values())))
        plan = self.plans.get(shape)
        if plan is not None:
            dates = self.run_plan(plan, source)
            if dates is not None:
                return dates, False
        state = _ParseState(doc_id)
        fast = self._fast
        slow: list[str] = []
        for key, value in source.items():
            entry = fast.get(key)
            if entry is not None:
                code, ft = entry
                kind = type(value)
                if code == _STRING:
                    if kind is str:
                        continue
                elif code == _DOUBLE:
                    if kind is float or kind is int:
                        continue
                elif code == _LONG:
                    if kind is int and ft.low <= value <= ft.high:
                        continue
                elif code == _DATE:
                    if kind is str:
                        assert ft.fmt is not None
                        millis = ft.fmt.fast_parse(value)
                        if millis is not None:
                            state.dates[key] = [millis]
                            continue
                elif code == _BOOLEAN and kind is bool:
                    continue
            slow.append(key)
        if not slow:
            if len(self.plans) >= _MAX_PLANS:
                self.plans.clear()
            self.plans[shape] = [(k, fast[k][0], fast[k][1]) for k in source if fast[k][0] in (_LONG, _DATE)]
        for key in slow:
            self._key(key, source[key], "", state)
        if state.new_fields:
            total = len(self.fields) + len(self.objects) + len(state.new_fields)
            if total > field_limit:
                raise DocumentRejectedError(
                    illegal_argument(
                        f"Limit of total fields [{field_limit}] has been exceeded while adding new fields "
                        f"[{len(state.new_fields)}]"
                    )
                )
            self._apply_dynamic(state.new_fields)
            return state.dates, True
        return state.dates, False

    @staticmethod
    def run_plan(plan: list[tuple[str, int, FieldType]], source: JsonDict) -> JsonDict | None:
        """Check a document of an already validated shape (only dates and integer ranges remain to check);
        returns its parsed dates, or None to take the general path."""
        dates: JsonDict = {}
        for key, code, ft in plan:
            value = source[key]
            if code == _DATE:
                millis = ft.fmt.fast_parse(value)  # type: ignore[union-attr]
                if millis is None:
                    return None
                dates[key] = [millis]
            elif not ft.low <= value <= ft.high:
                return None
        return dates

    def _walk(self, node: JsonDict, prefix: str, state: _ParseState) -> None:
        for key, value in node.items():
            self._key(key, value, prefix, state)

    def _key(self, key: str, value: Any, prefix: str, state: _ParseState) -> None:
        if not key.strip():
            raise DocumentRejectedError(
                EsError(400, "document_parsing_exception", "[1:2] field name cannot be an empty string")
            )
        path = prefix + key
        if "." in key:
            self._ensure_parents(path, state)
        self._field(path, value, state)

    def _ensure_parents(self, path: str, state: _ParseState) -> None:
        parts = path.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in self.objects or parent in state.new_objects:
                continue
            if parent in self.fields:
                raise DocumentRejectedError(
                    EsError(
                        400,
                        "document_parsing_exception",
                        f"[1:2] Could not dynamically add mapping for field [{path}]. Existing mapping for "
                        f"[{parent}] must be of type object but found [{self.fields[parent].type}].",
                    )
                )
            dynamic = self.dynamic_for(parent.rpartition(".")[0])
            if dynamic == "strict":
                raise _strict(parent, parent.rpartition(".")[0])
            if dynamic in ("true", "runtime"):
                state.new_objects.add(parent)
                state.new_fields[parent] = {"type": "object"}

    def _field(self, path: str, value: Any, state: _ParseState) -> None:
        ft = self.fields.get(path) or state.pending.get(path)
        if ft is not None:
            self._leaf(ft, value, state)
            return
        meta = self.objects.get(path)
        if meta is not None or path in state.new_objects:
            if meta is not None and not meta.enabled:
                return
            self._object_value(path, value, state)
            return
        self._dynamic(path, value, state)

    def _object_value(self, path: str, value: Any, state: _ParseState) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            self._walk(value, path + ".", state)
            return
        if isinstance(value, list):
            for item in value:
                self._object_value(path, item, state)
            return
        raise DocumentRejectedError(
            EsError(
                400,
                "document_parsing_exception",
                f"[1:2] object mapping for [{path}] tried to parse field [{path.rpartition('.')[2]}] as "
                "object, "
                "but found a concrete value",
            )
        )

    def _leaf(self, ft: FieldType, value: Any, state: _ParseState) -> None:
        if isinstance(value, list):
            for item in value:
                self._leaf(ft, item, state)
            return
        if value is None:
            value = ft.params.get("null_value")
            if value is None:
                return
        if ft.kind == "opaque":
            return
        try:
            converted = ft.convert(value)
        except ValueRejectedError as exc:
            if ft.ignore_malformed:
                return
            raise _malformed(ft.path, ft.type, state.doc_id, value, exc) from exc
        if ft.kind == "date" and converted is not None:
            state.dates.setdefault(ft.path, []).append(converted)
        for sub_path, sub in self._subfields(ft.path, state):
            try:
                sub_value = sub.convert(value)
            except ValueRejectedError as exc:
                if sub.ignore_malformed:
                    continue
                raise _malformed(sub_path, sub.type, state.doc_id, value, exc) from exc
            if sub.kind == "date" and sub_value is not None:
                state.dates.setdefault(sub_path, []).append(sub_value)

    def _subfields(self, path: str, state: _ParseState) -> Iterator[tuple[str, FieldType]]:
        spec = self.fields[path].params if path in self.fields else state.pending[path].params
        for sub in spec.get("fields") or {}:
            sub_path = f"{path}.{sub}"
            ft = self.fields.get(sub_path) or state.pending.get(sub_path)
            if ft is not None:
                yield sub_path, ft

    def _dynamic(self, path: str, value: Any, state: _ParseState) -> None:
        parent = path.rpartition(".")[0]
        dynamic = self.dynamic_for(parent)
        sample = value
        while isinstance(sample, list):
            sample = next((v for v in sample if v is not None), None)
        if sample is None:
            return
        if dynamic == "false":
            return
        if dynamic == "strict":
            raise _strict(path.rpartition(".")[2], parent)
        spec = self._dynamic_spec(path, sample)
        if spec is None:
            return
        if spec.get("type") in ("object", "nested") or ("properties" in spec and "type" not in spec):
            state.new_objects.add(path)
            state.new_fields[path] = spec
            self._object_value(path, value, state)
            return
        type_ = str(spec.get("type"))
        if type_ not in LEAF_TYPES:
            raise DocumentRejectedError(
                mapper_parsing(f"No handler for type [{type_}] declared on field [{path}]")
            )
        state.new_fields[path] = spec
        state.pending[path] = FieldType(path, type_, path, spec)
        for sub, sub_spec in (spec.get("fields") or {}).items():
            state.pending[f"{path}.{sub}"] = FieldType(
                f"{path}.{sub}", str(sub_spec.get("type")), path, sub_spec
            )
        self._leaf(state.pending[path], value, state)

    def _dynamic_spec(self, path: str, sample: Any) -> JsonDict | None:
        name = path.rpartition(".")[2]
        if isinstance(sample, dict):
            detected, default = "object", {"type": "object"}
        elif isinstance(sample, bool):
            detected, default = "boolean", {"type": "boolean"}
        elif isinstance(sample, int):
            detected, default = "long", {"type": "long"}
        elif isinstance(sample, float):
            detected, default = "double", {"type": "float"}
        else:
            detected, default = self._detect_string(str(sample))
        for template in self.json.get("dynamic_templates", []):
            (body,) = template.values()
            if _template_matches(body, name, path, detected):
                mapping = body.get("mapping", {})
                if "runtime" in body:
                    raise DocumentRejectedError(
                        illegal_argument(
                            "runtime dynamic templates are not supported by the samplerr development server"
                        )
                    )
                spec: JsonDict = _substitute(mapping, name, detected)
                if "type" not in spec and detected != "object":
                    spec = {"type": default["type"], **spec}
                return spec
        return default

    def _detect_string(self, text: str) -> tuple[str, JsonDict]:
        if self.json.get("date_detection", True) not in (False, "false"):
            formats = self.json.get("dynamic_date_formats", DEFAULT_DYNAMIC_DATE_FORMATS)
            for spec in formats:
                if dates.formatter(spec).try_parse(text) is not None:
                    if spec == "strict_date_optional_time":
                        return "date", {"type": "date"}
                    return "date", {"type": "date", "format": spec}
        if self.json.get("numeric_detection", False) in (True, "true"):
            try:
                int(text)
                return "long", {"type": "long"}
            except ValueError:
                try:
                    float(text)
                    return "double", {"type": "float"}
                except ValueError:
                    pass
        return "string", {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}

    def _apply_dynamic(self, new_fields: dict[str, JsonDict]) -> None:
        for path in sorted(new_fields, key=lambda p: p.count(".")):
            spec = new_fields[path]
            parts = path.split(".")
            node = self.json["properties"]
            for part in parts[:-1]:
                holder = node.setdefault(part, {})
                node = holder.setdefault("properties", {})
            node[parts[-1]] = spec
            if spec.get("type") == "object":
                spec.pop("type")
                spec.setdefault("properties", {})
        rebuilt = Mapping(self.json)
        self.fields, self.objects, self.json = rebuilt.fields, rebuilt.objects, rebuilt.json
        self._fast = rebuilt._fast
        self.plans = {}

    # --- lookups

    def field(self, path: str) -> FieldType | None:
        ft = self.fields.get(path)
        if ft is not None and ft.type == "alias" and ft.target:
            return self.fields.get(ft.target)
        return ft

    def matching_fields(self, pattern: str) -> list[FieldType]:
        return [ft for path, ft in self.fields.items() if simple_match(pattern, path) and ft.type != "alias"]


@dataclass(slots=True)
class _ParseState:
    doc_id: str
    dates: JsonDict = field(default_factory=dict)
    new_fields: dict[str, JsonDict] = field(default_factory=dict)
    new_objects: set[str] = field(default_factory=set)
    pending: dict[str, FieldType] = field(default_factory=dict)


def _strict(name: str, parent: str) -> DocumentRejectedError:
    within = parent or "_doc"
    return DocumentRejectedError(
        EsError(
            400,
            "strict_dynamic_mapping_exception",
            f"[1:2] mapping set to strict, dynamic introduction of [{name}] within [{within}] is not allowed",
        )
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _template_matches(body: JsonDict, name: str, path: str, detected: str) -> bool:
    types = _as_list(body.get("match_mapping_type"))
    if types and "*" not in types and detected not in types:
        return False
    match = _regex_match if body.get("match_pattern") == "regex" else simple_match
    if "match" in body and not any(match(p, name) for p in _as_list(body["match"])):
        return False
    if "unmatch" in body and any(match(p, name) for p in _as_list(body["unmatch"])):
        return False
    if "path_match" in body and not any(match(p, path) for p in _as_list(body["path_match"])):
        return False
    return not ("path_unmatch" in body and any(match(p, path) for p in _as_list(body["path_unmatch"])))


def _regex_match(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


def _substitute(node: Any, name: str, detected: str) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, name, detected) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, name, detected) for v in node]
    if isinstance(node, str):
        return node.replace("{name}", name).replace("{dynamic_type}", detected)
    return node


def _merge_into(target: JsonDict, other: JsonDict, path: str) -> None:
    for key, value in other.items():
        if key == "properties" and isinstance(value, dict):
            props = target.setdefault("properties", {})
            for name, spec in value.items():
                if name in props and isinstance(props[name], dict) and isinstance(spec, dict):
                    _merge_field(props[name], spec)
                else:
                    props[name] = copy.deepcopy(spec)
        elif key == "dynamic_templates" and isinstance(value, list):
            existing = {next(iter(t)): t for t in target.get("dynamic_templates", [])}
            for template in value:
                existing[next(iter(template))] = template
            target["dynamic_templates"] = list(existing.values())
        else:
            target[key] = copy.deepcopy(value)


def _merge_field(target: JsonDict, other: JsonDict) -> None:
    is_object = "properties" in target or target.get("type") in ("object", "nested")
    if is_object and ("properties" in other or other.get("type") in ("object", "nested")):
        _merge_into(target, other, "")
        return
    for key, value in other.items():
        if key == "fields" and isinstance(value, dict) and isinstance(target.get("fields"), dict):
            target["fields"].update(copy.deepcopy(value))
        else:
            target[key] = copy.deepcopy(value)


def _sorted_properties(node: Any) -> Any:
    if isinstance(node, dict):
        out: JsonDict = {}
        for key in node:
            value = node[key]
            if key in ("properties", "fields") and isinstance(value, dict):
                out[key] = {name: _sorted_properties(value[name]) for name in sorted(value)}
            else:
                out[key] = _sorted_properties(value)
        return out
    if isinstance(node, list):
        return [_sorted_properties(v) for v in node]
    return node


def extract(source: Any, parts: list[str]) -> Iterator[Any]:
    """Raw values at a dotted path, through arrays and dotted keys (``{"a.b": 1}`` is field ``a.b``)."""
    if isinstance(source, list):
        for item in source:
            yield from extract(item, parts)
        return
    if not parts:
        if source is not None:
            yield source
        return
    if not isinstance(source, dict):
        return
    for i in range(1, len(parts) + 1):
        key = ".".join(parts[:i]) if i > 1 else parts[0]
        if key in source:
            yield from extract(source[key], parts[i:])
