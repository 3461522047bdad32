"""The query DSL: parsed once (mapping-independent), compiled per index into document matchers.

Supported: ``match_all``, ``match_none``, ``term``, ``terms``, ``range``, ``exists``, ``ids``, ``bool``
(``must``/``filter``/``should``/``must_not``, ``minimum_should_match``), ``constant_score``,
``match``, ``match_phrase``, ``multi_match``, ``prefix``, ``wildcard`` and ``query_string``. Any other
query answers 400 ``parsing_exception`` naming it — never a silent wrong answer.

A compiled matcher returns the document's score, or None when it does not match. Scores follow
Elasticsearch where it is constant (``match_all``, ``range``, ``exists``, ``constant_score``, filter
context is 0.0); term-level and full-text scores are a constant ``boost`` per matching clause instead
of BM25, so hits order by score only among equals (then index order, as Elasticsearch breaks ties).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver import dates
from samplerr.devserver.errors import EsError, parsing
from samplerr.devserver.mapping import FieldType, analyze, extract
from samplerr.devserver.store import Doc, Index, values

Matcher = Callable[[Doc], float | None]
JsonDict = dict[str, Any]

KNOWN_UNSUPPORTED = frozenset(
    {
        "nested",
        "has_child",
        "has_parent",
        "parent_id",
        "geo_bounding_box",
        "geo_distance",
        "geo_polygon",
        "geo_shape",
        "shape",
        "more_like_this",
        "script",
        "script_score",
        "percolate",
        "wrapper",
        "pinned",
        "rank_feature",
        "distance_feature",
        "function_score",
        "boosting",
        "dis_max",
        "match_bool_prefix",
        "match_phrase_prefix",
        "combined_fields",
        "simple_query_string",
        "intervals",
        "fuzzy",
        "regexp",
        "terms_set",
        "span_term",
        "span_near",
        "span_or",
        "span_not",
        "span_first",
        "span_multi",
        "span_containing",
        "span_within",
        "field_masking_span",
        "knn",
        "semantic",
        "sparse_vector",
        "text_expansion",
        "weighted_tokens",
        "rule",
        "type",
    }
)


@dataclass
class CompileCtx:
    index: Index
    now: int
    filter_context: bool = False


class Query:
    """A parsed query node."""

    name = ""

    def compile(self, ctx: CompileCtx) -> Matcher:
        raise NotImplementedError


def _never(_doc: Doc) -> float | None:
    return None


def _boost(spec: JsonDict) -> float:
    value = spec.get("boost", 1.0)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise parsing(f"[boost] must be a number, got [{value}]") from exc


def _single(name: str, body: Any) -> tuple[str, Any]:
    if not isinstance(body, dict) or not body:
        raise parsing(f"[{name}] query malformed, no start_object after query name")
    field_keys = [k for k in body if k not in ("boost", "_name")]
    if len(field_keys) != 1:
        raise parsing(
            f"[{name}] query doesn't support multiple fields, found [{field_keys[0]}] and [{field_keys[1]}]"
            if len(field_keys) > 1
            else f"[{name}] query malformed, no field"
        )
    key = field_keys[0]
    return key, body[key]


def parse_query(spec: Any) -> Query:
    """Parse a query object (``{"term": {...}}``); raises 400 ``parsing_exception`` on anything unknown."""
    if not isinstance(spec, dict):
        raise parsing("query malformed, must start with start_object")
    if len(spec) != 1:
        if not spec:
            raise parsing("query malformed, empty clause found")
        names = list(spec)
        raise parsing(f"[{names[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
    ((name, body),) = spec.items()
    parser = _PARSERS.get(name)
    if parser is None:
        if name in KNOWN_UNSUPPORTED:
            raise parsing(f"query [{name}] is not supported by the samplerr development server")
        raise parsing(
            f"unknown query [{name}]",
            caused_by=EsError(400, "named_object_not_found_exception", f"[1:1] unknown field [{name}]"),
        )
    return parser(body)


# --- leaf queries ------------------------------------------------------------------------------------------


@dataclass
class MatchAll(Query):
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        boost = self.boost

        def match(_doc: Doc) -> float | None:
            return boost

        return match


@dataclass
class MatchNone(Query):
    def compile(self, ctx: CompileCtx) -> Matcher:
        return _never


def _fields(ctx: CompileCtx, name: str) -> list[FieldType]:
    mapping = ctx.index.mapping
    if "*" in name:
        return [ft for ft in mapping.matching_fields(name) if not ft.nested]
    ft = mapping.field(name)
    return [ft] if ft is not None and not ft.nested else []


def _object_fields(ctx: CompileCtx, name: str) -> list[FieldType]:
    prefix = name + "."
    return [ft for path, ft in ctx.index.mapping.fields.items() if path.startswith(prefix) and not ft.nested]


@dataclass
class Term(Query):
    field: str
    value: Any
    boost: float = 1.0
    case_insensitive: bool = False

    def compile(self, ctx: CompileCtx) -> Matcher:
        return _any_field(
            ctx, self.field, lambda ft: _term_test(ft, self.value, self.case_insensitive, ctx.now), self.boost
        )


def _term_test(
    ft: FieldType, value: Any, case_insensitive: bool = False, now: int = 0
) -> Callable[[Any], bool]:
    if ft.kind == "date":
        # a term on a date covers what the value names: "2026-11-22" is the whole day
        assert ft.fmt is not None
        text = str(value)
        try:
            low = dates.parse_date_math(text, ft.fmt, now, round_up=False)
            high = dates.parse_date_math(text, ft.fmt, now, round_up=True)
        except dates.DateParseError as exc:
            cause = EsError(400, "illegal_argument_exception", str(exc))
            raise EsError(
                400, "query_shard_exception", f"failed to create query: {exc}", caused_by=cause
            ) from exc
        return lambda v: low <= v <= high
    target = ft.query_value(value)
    if ft.kind == "text":
        # term queries are not analyzed: the value must equal an indexed token
        return lambda v: v == target
    if case_insensitive and isinstance(target, str):
        lowered = target.lower()
        return lambda v: isinstance(v, str) and v.lower() == lowered
    return lambda v: v == target


def _any_field(
    ctx: CompileCtx, name: str, build: Callable[[FieldType], Callable[[Any], bool]], boost: float
) -> Matcher:
    tests = [(ft, build(ft)) for ft in _fields(ctx, name)]
    if not tests:
        return _never
    if len(tests) == 1:
        ((ft, test),) = tests

        def match_one(doc: Doc) -> float | None:
            for v in values(doc, ft):
                if test(v):
                    return boost
            return None

        return match_one

    def match(doc: Doc) -> float | None:
        for ft, test in tests:
            for v in values(doc, ft):
                if test(v):
                    return boost
        return None

    return match


@dataclass
class Terms(Query):
    field: str
    terms: list[Any]
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        def build(ft: FieldType) -> Callable[[Any], bool]:
            if ft.kind == "date":
                tests = [_term_test(ft, v, now=ctx.now) for v in self.terms]
                return lambda v: any(t(v) for t in tests)
            wanted = {ft.query_value(v) for v in self.terms}
            return lambda v: v in wanted

        return _any_field(ctx, self.field, build, self.boost)


@dataclass
class Range(Query):
    field: str
    gte: Any = None
    gt: Any = None
    lte: Any = None
    lt: Any = None
    fmt: str | None = None
    time_zone: str | None = None
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        return _any_field(ctx, self.field, lambda ft: self._test(ft, ctx), self.boost)

    def _bound(self, ft: FieldType, value: Any, ctx: CompileCtx, round_up: bool) -> Any:
        if ft.kind == "date":
            fmt = dates.formatter(self.fmt) if self.fmt else ft.fmt
            assert fmt is not None
            tz = dates.zone(self.time_zone)
            try:
                return dates.parse_date_math(str(value), fmt, ctx.now, round_up=round_up, tz=tz)
            except dates.DateParseError as exc:
                raise EsError(
                    400,
                    "parse_exception",
                    f"failed to parse date field [{value}] with format "
                    f"[{fmt.spec}]: [failed to parse date field [{value}] with format [{fmt.spec}]]",
                    caused_by=EsError(400, "illegal_argument_exception", str(exc)),
                ) from exc
        if ft.kind in ("long", "double"):
            if isinstance(value, bool):
                raise _shard_number_error(value)
            if isinstance(value, (int, float)):
                return value
            try:
                text = str(value).strip()
                return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
            except ValueError as exc:
                raise _shard_number_error(value) from exc
        if ft.kind == "boolean":
            return ft.query_value(value)
        return ft.query_value(value)

    def _test(self, ft: FieldType, ctx: CompileCtx) -> Callable[[Any], bool]:
        checks: list[Callable[[Any], bool]] = []
        if self.gte is not None:
            lo = self._bound(ft, self.gte, ctx, False)
            checks.append(lambda v: v >= lo)
        if self.gt is not None:
            lo2 = self._bound(ft, self.gt, ctx, True)
            checks.append(lambda v: v > lo2)
        if self.lte is not None:
            hi = self._bound(ft, self.lte, ctx, True)
            checks.append(lambda v: v <= hi)
        if self.lt is not None:
            hi2 = self._bound(ft, self.lt, ctx, False)
            checks.append(lambda v: v < hi2)
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)


def _shard_number_error(value: Any) -> EsError:
    cause = EsError(400, "number_format_exception", f'For input string: "{value}"')
    return EsError(
        400, "query_shard_exception", f'failed to create query: For input string: "{value}"', caused_by=cause
    )


@dataclass
class Exists(Query):
    field: str
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        fts = _fields(ctx, self.field) or _object_fields(ctx, self.field)
        if not fts:
            return _never
        boost = self.boost

        def match(doc: Doc) -> float | None:
            for ft in fts:
                if ft.kind == "opaque":
                    if any(True for _ in _raw(doc, ft)):
                        return boost
                elif values(doc, ft):
                    return boost
            return None

        return match


def _raw(doc: Doc, ft: FieldType) -> Iterable[Any]:
    return extract(doc.source, ft.source_path.split("."))


@dataclass
class Ids(Query):
    ids: set[str]
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        ids, boost = self.ids, self.boost
        return lambda doc: boost if doc.id in ids else None


@dataclass
class Prefix(Query):
    field: str
    value: str
    boost: float = 1.0
    case_insensitive: bool = False
    wildcard: bool = False

    def compile(self, ctx: CompileCtx) -> Matcher:
        def build(ft: FieldType) -> Callable[[Any], bool]:
            if ft.kind not in ("keyword", "text"):
                raise EsError(
                    400,
                    "query_shard_exception",
                    f"Can only use {'wildcard' if self.wildcard else 'prefix'} queries on keyword and text "
                    f"fields - not on [{ft.path}] which is of type [{ft.type}]",
                )
            pattern = self.value if self.wildcard else _escape_wildcard(self.value) + "*"
            flags = re.IGNORECASE if self.case_insensitive else 0
            regex = re.compile(wildcard_regex(pattern), flags | re.DOTALL)
            return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None

        return _any_field(ctx, self.field, build, self.boost)


def _escape_wildcard(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def wildcard_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return "".join(out)


@dataclass
class Match(Query):
    field: str
    text: Any
    operator: str = "or"
    boost: float = 1.0
    phrase: bool = False
    lenient: bool = False

    def compile(self, ctx: CompileCtx) -> Matcher:
        fts = _fields(ctx, self.field)
        matchers: list[Matcher] = []
        for ft in fts:
            if ft.kind == "text":
                tokens = analyze(str(self.text))
                if not tokens:
                    continue
                matchers.append(_token_matcher(ft, tokens, self.operator, self.phrase, self.boost))
            else:
                try:
                    test = _term_test(ft, self.text, now=ctx.now)
                except EsError:
                    if self.lenient:
                        continue
                    raise
                matchers.append(_values_matcher(ft, test, self.boost))
        return _first_of(matchers)


@dataclass
class MultiMatch(Query):
    """``multi_match`` (``best_fields``, ``most_fields``, ``phrase``): a ``match`` on each field, the best
    score wins; over ``*`` it is lenient, as Kibana's free-text search relies on."""

    text: Any
    fields: list[str]
    operator: str = "or"
    phrase: bool = False
    lenient: bool = False
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        matchers = [
            Match(
                name.split("^")[0],
                self.text,
                self.operator,
                self.boost,
                self.phrase,
                self.lenient or "*" in name,
            ).compile(ctx)
            for name in self.fields
        ]
        return _first_of(matchers)


def _values_matcher(ft: FieldType, test: Callable[[Any], bool], boost: float) -> Matcher:
    def match(doc: Doc) -> float | None:
        for v in values(doc, ft):
            if test(v):
                return boost
        return None

    return match


def _token_matcher(ft: FieldType, tokens: list[str], operator: str, phrase: bool, boost: float) -> Matcher:
    wanted = set(tokens)
    n = len(tokens)

    def match(doc: Doc) -> float | None:
        have = values(doc, ft)
        if phrase:
            for i in range(len(have) - n + 1):
                if have[i : i + n] == tokens:
                    return boost
            return None
        present = wanted.intersection(have)
        if operator == "and":
            return boost if len(present) == len(wanted) else None
        return boost * len(present) if present else None

    return match


def _first_of(matchers: list[Matcher]) -> Matcher:
    if not matchers:
        return _never
    if len(matchers) == 1:
        return matchers[0]

    def match(doc: Doc) -> float | None:
        best: float | None = None
        for m in matchers:
            score = m(doc)
            if score is not None and (best is None or score > best):
                best = score
        return best

    return match


# --- compound queries ------------------------------------------------------------------------------------


@dataclass
class Bool(Query):
    must: list[Query] = field(default_factory=list)
    filter: list[Query] = field(default_factory=list)
    should: list[Query] = field(default_factory=list)
    must_not: list[Query] = field(default_factory=list)
    minimum_should_match: Any = None
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        must = [q.compile(ctx) for q in self.must]
        filters = [q.compile(ctx) for q in self.filter]
        should = [q.compile(ctx) for q in self.should]
        must_not = [q.compile(ctx) for q in self.must_not]
        required = minimum_should(self.minimum_should_match, len(should), bool(must or filters))
        boost = self.boost
        scoring = bool(must or should)

        def match(doc: Doc) -> float | None:
            score = 0.0
            for m in filters:
                if m(doc) is None:
                    return None
            for m in must_not:
                if m(doc) is not None:
                    return None
            for m in must:
                s = m(doc)
                if s is None:
                    return None
                score += s
            if should:
                hits = 0
                for m in should:
                    s = m(doc)
                    if s is not None:
                        hits += 1
                        score += s
                if hits < required:
                    return None
            return score * boost if scoring else 0.0

        return match


def minimum_should(spec: Any, optional: int, has_required: bool) -> int:
    """Elasticsearch's ``minimum_should_match`` for ``optional`` should clauses."""
    if spec is None:
        return 0 if has_required or optional == 0 else 1
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            pct = int(text[:-1])
            result = optional * pct // 100 if pct >= 0 else optional - (optional * -pct // 100)
        else:
            n = int(text)
            result = n if n >= 0 else optional + n
    except ValueError as exc:
        raise parsing(
            f"[bool] minimum_should_match [{spec}] is not supported by the samplerr development server"
        ) from exc
    return max(0, min(result, optional)) if result <= optional else result


@dataclass
class ConstantScore(Query):
    inner: Query
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        inner = self.inner.compile(ctx)
        boost = self.boost
        return lambda doc: boost if inner(doc) is not None else None


# --- parsers -----------------------------------------------------------------------------------------------


def _clauses(name: str, value: Any) -> list[Query]:
    if isinstance(value, dict):
        return [parse_query(value)]
    if isinstance(value, list):
        return [parse_query(v) for v in value]
    raise parsing(f"[bool] query does not support [{name}]")


def _parse_bool(body: Any) -> Query:
    if not isinstance(body, dict):
        raise parsing("[bool] query malformed, no start_object after query name")
    q = Bool(boost=_boost(body), minimum_should_match=body.get("minimum_should_match"))
    for key, value in body.items():
        if key in ("must", "filter", "should", "must_not"):
            getattr(q, key).extend(_clauses(key, value))
        elif key not in ("boost", "minimum_should_match", "_name", "adjust_pure_negative"):
            raise parsing(f"[bool] query does not support [{key}]")
    return q


def _parse_term(body: Any) -> Query:
    name, spec = _single("term", body)
    if isinstance(spec, dict):
        if "value" not in spec:
            raise parsing("[term] query does not support [" + next(iter(spec), "") + "]")
        return Term(name, spec["value"], _boost(spec), bool(spec.get("case_insensitive", False)))
    if isinstance(spec, list):
        raise parsing("[term] query does not support array of values")
    return Term(name, spec)


def _parse_terms(body: Any) -> Query:
    if not isinstance(body, dict):
        raise parsing("[terms] query malformed, no start_object after query name")
    field_keys = [k for k in body if k not in ("boost", "_name")]
    if len(field_keys) != 1:
        raise parsing("[terms] query does not support multiple fields")
    name = field_keys[0]
    spec = body[name]
    if isinstance(spec, dict):
        raise parsing("terms lookup is not supported by the samplerr development server")
    if not isinstance(spec, list):
        raise parsing("[terms] query does not support [" + name + "]")
    return Terms(name, spec, _boost(body))


_RANGE_KEYS = frozenset(
    {
        "gte",
        "gt",
        "lte",
        "lt",
        "from",
        "to",
        "include_lower",
        "include_upper",
        "format",
        "time_zone",
        "boost",
        "relation",
        "_name",
    }
)


def _parse_range(body: Any) -> Query:
    name, spec = _single("range", body)
    if not isinstance(spec, dict):
        raise parsing("[range] query malformed, no start_object after query name")
    unknown = [k for k in spec if k not in _RANGE_KEYS]
    if unknown:
        raise parsing(f"[range] query does not support [{unknown[0]}]")
    q = Range(
        name,
        spec.get("gte"),
        spec.get("gt"),
        spec.get("lte"),
        spec.get("lt"),
        spec.get("format"),
        spec.get("time_zone"),
        _boost(spec),
    )
    if spec.get("from") is not None:
        if spec.get("include_lower", True) in (True, "true"):
            q.gte = spec["from"]
        else:
            q.gt = spec["from"]
    if spec.get("to") is not None:
        if spec.get("include_upper", True) in (True, "true"):
            q.lte = spec["to"]
        else:
            q.lt = spec["to"]
    if q.time_zone is not None:
        dates.zone(q.time_zone)
    if q.fmt is not None:
        dates.formatter(q.fmt)
    return q


def _parse_exists(body: Any) -> Query:
    if not isinstance(body, dict) or "field" not in body:
        raise parsing("[exists] must be provided with a [field]")
    return Exists(str(body["field"]), _boost(body))


def _parse_ids(body: Any) -> Query:
    if not isinstance(body, dict):
        raise parsing("[ids] query malformed, no start_object after query name")
    ids = body.get("values", [])
    if not isinstance(ids, list):
        raise parsing("[ids] query malformed, [values] must be an array")
    return Ids({str(i) for i in ids}, _boost(body))


def _parse_constant_score(body: Any) -> Query:
    if not isinstance(body, dict) or "filter" not in body:
        raise parsing("[constant_score] requires a 'filter' element")
    return ConstantScore(parse_query(body["filter"]), _boost(body))


def _parse_match_all(body: Any) -> Query:
    return MatchAll(_boost(body) if isinstance(body, dict) else 1.0)


def _parse_match(body: Any, phrase: bool = False) -> Query:
    kind = "match_phrase" if phrase else "match"
    name, spec = _single(kind, body)
    if isinstance(spec, dict):
        if "query" not in spec:
            raise parsing(f"[{kind}] query malformed, no query")
        operator = str(spec.get("operator", "or")).lower()
        return Match(name, spec["query"], operator, _boost(spec), phrase, bool(spec.get("lenient", False)))
    return Match(name, spec, phrase=phrase)


def _parse_prefix(body: Any, wildcard: bool = False) -> Query:
    kind = "wildcard" if wildcard else "prefix"
    name, spec = _single(kind, body)
    if isinstance(spec, dict):
        value = spec.get("value", spec.get("wildcard"))
        if value is None:
            raise parsing(f"[{kind}] query malformed, no value")
        return Prefix(name, str(value), _boost(spec), bool(spec.get("case_insensitive", False)), wildcard)
    return Prefix(name, str(spec), wildcard=wildcard)


def _parse_multi_match(body: Any) -> Query:
    if not isinstance(body, dict) or "query" not in body:
        raise parsing("[multi_match] requires query value")
    kind = str(body.get("type", "best_fields"))
    if kind not in ("best_fields", "most_fields", "phrase"):
        raise parsing(f"[multi_match] of type [{kind}] is not supported by the samplerr development server")
    fields = body.get("fields") or ["*"]
    if isinstance(fields, str):
        fields = [fields]
    return MultiMatch(
        body["query"],
        [str(f) for f in fields],
        str(body.get("operator", "or")).lower(),
        kind == "phrase",
        bool(body.get("lenient", False)),
        _boost(body),
    )


def _parse_query_string(body: Any) -> Query:
    from samplerr.devserver.querystring import parse_query_string  # noqa: PLC0415 - mutual import

    return parse_query_string(body)


_PARSERS: dict[str, Callable[[Any], Query]] = {
    "match_all": _parse_match_all,
    "match_none": lambda _b: MatchNone(),
    "term": _parse_term,
    "terms": _parse_terms,
    "range": _parse_range,
    "exists": _parse_exists,
    "ids": _parse_ids,
    "bool": _parse_bool,
    "constant_score": _parse_constant_score,
    "match": _parse_match,
    "match_phrase": lambda b: _parse_match(b, phrase=True),
    "multi_match": _parse_multi_match,
    "prefix": _parse_prefix,
    "wildcard": lambda b: _parse_prefix(b, wildcard=True),
    "query_string": _parse_query_string,
}


def compile_query(query: Query | None, index: Index, now: int) -> Matcher:
    if query is None:
        return MatchAll().compile(CompileCtx(index, now))
    return query.compile(CompileCtx(index, now))


def constant(score: float) -> Matcher:
    return lambda _doc: score
