"""``query_string``: the Lucene classic query syntax, as Grafana and Kibana send it.

Terms and ``"phrases"``, ``field:value``, ``field:(a OR b)``, ``AND``/``OR``/``NOT``/``&&``/``||``/``!``,
``+``/``-`` modifiers, parentheses, ``*``/``?`` wildcards, ``[a TO b]``/``{a TO b}`` ranges,
``field:>10``-style ranges, ``_exists_:field``, ``^boost``. Clause occurrence follows Lucene's classic
``QueryParser.addClause`` (so ``a AND b OR c`` means ``+a +b c``). The default field is
``default_field``/``fields`` or the index's ``index.query.default_field`` (``*``, which also makes the
query lenient: a word on a numeric field simply does not match). Fuzzy (``~``) and regex (``/…/``)
terms answer 400 rather than a wrong result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver import dates
from samplerr.devserver.errors import EsError, parsing
from samplerr.devserver.mapping import FieldType, analyze
from samplerr.devserver.query import (
    Bool,
    CompileCtx,
    Exists,
    MatchAll,
    Matcher,
    Query,
    Range,
    _boost,
    _first_of,
    _never,
    _token_matcher,
    _values_matcher,
    wildcard_regex,
)

MUST, SHOULD, MUST_NOT = "must", "should", "must_not"
_TERMINATORS = set(' \t\n\r\u3000()[]{}:^"~/')
_KNOWN_KEYS = frozenset(
    {
        "query",
        "default_field",
        "fields",
        "default_operator",
        "analyze_wildcard",
        "lenient",
        "boost",
        "allow_leading_wildcard",
        "time_zone",
        "analyzer",
        "quote_analyzer",
        "auto_generate_synonyms_phrase_query",
        "enable_position_increments",
        "fuzziness",
        "fuzzy_max_expansions",
        "fuzzy_prefix_length",
        "fuzzy_transpositions",
        "max_determinized_states",
        "minimum_should_match",
        "phrase_slop",
        "quote_field_suffix",
        "rewrite",
        "type",
        "tie_breaker",
        "escape",
        "_name",
    }
)


class QuerySyntaxError(ValueError):
    pass


@dataclass
class Token:
    kind: str  # word, quoted, range, lparen, rparen, colon, and, or, not, plus, minus, boost, cmp
    text: str
    extra: Any = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n\r\u3000":
            i += 1
        elif c == "(":
            tokens.append(Token("lparen", c))
            i += 1
        elif c == ")":
            tokens.append(Token("rparen", c))
            i += 1
        elif c == ":":
            tokens.append(Token("colon", c))
            i += 1
            if i < n and text[i] in "<>":
                op = text[i]
                i += 1
                if i < n and text[i] == "=":
                    op += "="
                    i += 1
                tokens.append(Token("cmp", op))
        elif c == '"':
            j = i + 1
            buf: list[str] = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= n:
                raise QuerySyntaxError(
                    f'Lexical error at line 1, column {n + 1}.  Encountered: <EOF> after prefix "{text[i:]}"'
                )
            tokens.append(Token("quoted", "".join(buf)))
            i = j + 1
        elif c in "[{":
            j = text.find("]" if c == "[" else "}", i)
            close = "]" if c == "[" else "}"
            j = min((k for k in (text.find("]", i), text.find("}", i)) if k != -1), default=-1)
            if j == -1:
                raise QuerySyntaxError(f'Encountered "<EOF>" at line 1, column {n}.')
            close = text[j]
            parts = text[i + 1 : j].split()
            if len(parts) != 3 or parts[1] != "TO":
                raise QuerySyntaxError(f'Encountered " "{close}" "{close} "" at line 1, column {j}.')
            tokens.append(Token("range", text[i : j + 1], (c == "[", parts[0], parts[2], close == "]")))
            i = j + 1
        elif c == "^":
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(Token("boost", text[i + 1 : j]))
            i = j
        elif c == "~":
            raise QuerySyntaxError(
                "fuzzy and proximity queries (~) are not supported by the samplerr development server"
            )
        elif c == "/":
            raise QuerySyntaxError(
                "regular expression queries (/…/) are not supported by the samplerr development server"
            )
        elif text.startswith("&&", i):
            tokens.append(Token("and", "&&"))
            i += 2
        elif text.startswith("||", i):
            tokens.append(Token("or", "||"))
            i += 2
        elif c in "+-!":
            tokens.append(Token({"+": "plus", "-": "minus", "!": "not"}[c], c))
            i += 1
        else:
            j = i
            buf = []
            while j < n and text[j] not in _TERMINATORS:
                if text[j] == "\\" and j + 1 < n:
                    buf.append("\\" + text[j + 1])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            word = "".join(buf)
            kind = {"AND": "and", "OR": "or", "NOT": "not"}.get(word, "word")
            tokens.append(Token(kind, word))
            i = j
    return tokens


@dataclass
class QSTerm(Query):
    fields: list[str]
    text: str  # still escaped (wildcards distinguishable)
    quoted: bool
    lenient: bool
    default_operator: str
    explicit_field: bool
    time_zone: str | None = None
    boost: float = 1.0

    def compile(self, ctx: CompileCtx) -> Matcher:
        fts = _expand(ctx, self.fields)
        lenient = self.lenient or any("*" in f for f in self.fields)
        plain = _unescape(self.text)
        has_wildcard = not self.quoted and _has_wildcard(self.text)
        if has_wildcard and self.text in ("*",) and self.explicit_field:
            return _first_of([Exists(f).compile(ctx) for f in self.fields])
        matchers: list[Matcher] = []
        for ft in fts:
            try:
                m = self._field_matcher(ft, plain, has_wildcard, ctx)
            except EsError:
                if lenient:
                    continue
                raise
            if m is not None:
                matchers.append(m)
        return _first_of(matchers)

    def _field_matcher(
        self, ft: FieldType, plain: str, has_wildcard: bool, ctx: CompileCtx
    ) -> Matcher | None:
        if has_wildcard:
            if ft.kind not in ("keyword", "text"):
                raise EsError(
                    400,
                    "query_shard_exception",
                    f"Can only use wildcard queries on keyword and text "
                    f"fields - not on [{ft.path}] which is of type [{ft.type}]",
                )
            pattern = self.text.lower() if ft.kind == "text" else self.text
            regex = re.compile(wildcard_regex(pattern), re.DOTALL)
            return _values_matcher(
                ft, lambda v: isinstance(v, str) and regex.fullmatch(v) is not None, self.boost
            )
        if ft.kind == "text":
            tokens = analyze(plain)
            if not tokens:
                return None
            operator = "and" if self.default_operator == "and" else "or"
            return _token_matcher(ft, tokens, operator, self.quoted, self.boost)
        if ft.kind == "date":
            assert ft.fmt is not None
            tz = dates.zone(self.time_zone)
            try:
                low = dates.parse_date_math(plain, ft.fmt, ctx.now, round_up=False, tz=tz)
                high = dates.parse_date_math(plain, ft.fmt, ctx.now, round_up=True, tz=tz)
            except dates.DateParseError as exc:
                raise EsError(400, "query_shard_exception", f"failed to create query: {exc}") from exc
            return _values_matcher(ft, lambda v: low <= v <= high, self.boost)
        target = ft.query_value(plain)
        return _values_matcher(ft, lambda v: v == target, self.boost)


@dataclass
class QSRange(Query):
    fields: list[str]
    low: str
    high: str
    include_low: bool
    include_high: bool
    lenient: bool
    time_zone: str | None = None

    def compile(self, ctx: CompileCtx) -> Matcher:
        matchers: list[Matcher] = []
        lenient = self.lenient or any("*" in f for f in self.fields)
        for ft in _expand(ctx, self.fields):
            r = Range(ft.path, time_zone=self.time_zone)
            if self.low != "*":
                if self.include_low:
                    r.gte = _unescape(self.low)
                else:
                    r.gt = _unescape(self.low)
            if self.high != "*":
                if self.include_high:
                    r.lte = _unescape(self.high)
                else:
                    r.lt = _unescape(self.high)
            try:
                matchers.append(r.compile(ctx))
            except EsError:
                if lenient:
                    continue
                raise
        return _first_of(matchers) if matchers else _never


def _expand(ctx: CompileCtx, names: list[str]) -> list[FieldType]:
    out: list[FieldType] = []
    seen: set[str] = set()
    mapping = ctx.index.mapping
    for raw in names:
        name = raw.split("^")[0]
        if "*" in name:
            candidates = [
                ft
                for ft in mapping.matching_fields(name)
                if ft.kind in ("keyword", "text", "long", "double", "date", "boolean") and ft.searchable
            ]
        else:
            ft = mapping.field(name)
            candidates = [ft] if ft is not None else []
        for ft in candidates:
            if ft.path not in seen and not ft.nested:
                seen.add(ft.path)
                out.append(ft)
    return out


def _has_wildcard(text: str) -> bool:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in "*?":
            return True
        i += 1
    return False


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@dataclass
class _Clause:
    occur: str
    query: Query


@dataclass
class _Parser:
    tokens: list[Token]
    fields: list[str]
    operator: str
    lenient: bool
    time_zone: str | None
    pos: int = 0
    clauses_stack: list[list[_Clause]] = field(default_factory=list)

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError('Encountered "<EOF>" at line 1.')
        self.pos += 1
        return tok

    def parse_query(self, fields: list[str], explicit: bool, depth: int = 0) -> Query:
        clauses: list[_Clause] = []
        first = True
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "rparen":
                break
            conj = None
            if tok.kind in ("and", "or") and not first:
                conj = tok.kind
                self.take()
                tok = self.peek()
                if tok is None or tok.kind == "rparen":
                    raise QuerySyntaxError('Encountered "<EOF>" after a conjunction.')
            elif tok.kind in ("and", "or"):
                raise QuerySyntaxError(f'Encountered " <{tok.kind.upper()}> "{tok.text} "" at line 1.')
            mods = None
            if tok.kind in ("plus", "minus", "not"):
                mods = "plus" if tok.kind == "plus" else "minus"
                self.take()
            q = self.parse_clause(fields, explicit, depth)
            self.add_clause(clauses, conj, mods, q)
            first = False
        if not clauses:
            raise QuerySyntaxError('Encountered "<EOF>" at line 1, column 0.')
        return _combine(clauses)

    def add_clause(self, clauses: list[_Clause], conj: str | None, mods: str | None, q: Query) -> None:
        if clauses and conj == "and":
            c = clauses[-1]
            if c.occur != MUST_NOT:
                c.occur = MUST
        if clauses and self.operator == "and" and conj == "or":
            c = clauses[-1]
            if c.occur != MUST_NOT:
                c.occur = SHOULD
        if self.operator == "or":
            prohibited = mods == "minus"
            required = mods == "plus"
            if conj == "and" and not prohibited:
                required = True
        else:
            prohibited = mods == "minus"
            required = not prohibited and conj != "or"
        if required and not prohibited:
            occur = MUST
        elif not required and not prohibited:
            occur = SHOULD
        else:
            occur = MUST_NOT
        clauses.append(_Clause(occur, q))

    def parse_clause(self, fields: list[str], explicit: bool, depth: int) -> Query:
        tok = self.take()
        nxt = self.peek()
        if tok.kind == "word" and nxt is not None and nxt.kind == "colon":
            self.take()
            name = _unescape(tok.text)
            if name == "_exists_":
                target = self.take()
                if target.kind not in ("word", "quoted"):
                    raise QuerySyntaxError("expected a field name after _exists_:")
                return Exists(_unescape(target.text))
            return self.parse_clause([name], True, depth)
        if tok.kind == "lparen":
            inner = self.parse_query(fields, explicit, depth + 1)
            close = self.take()
            if close.kind != "rparen":
                raise QuerySyntaxError("Encountered unbalanced parentheses.")
            self._skip_boost()
            return inner
        if tok.kind == "cmp":
            value = self.take()
            if value.kind not in ("word", "quoted"):
                raise QuerySyntaxError("expected a value after a comparison")
            op = tok.text
            low, high = ("*", value.text) if op.startswith("<") else (value.text, "*")
            return QSRange(fields, low, high, op == ">=", op == "<=", self.lenient, self.time_zone)
        if tok.kind == "range":
            inclusive_low, low, high, inclusive_high = tok.extra
            self._skip_boost()
            return QSRange(fields, low, high, inclusive_low, inclusive_high, self.lenient, self.time_zone)
        if tok.kind in ("word", "quoted"):
            boost = self._skip_boost()
            if tok.kind == "word" and tok.text == "*" and not explicit and fields == ["*"]:
                return MatchAll(boost)
            return QSTerm(
                fields,
                tok.text,
                tok.kind == "quoted",
                self.lenient,
                self.operator,
                explicit,
                self.time_zone,
                boost,
            )
        raise QuerySyntaxError(f'Encountered " "{tok.text}" " at line 1.')

    def _skip_boost(self) -> float:
        tok = self.peek()
        if tok is not None and tok.kind == "boost":
            self.take()
            try:
                return float(tok.text)
            except ValueError as exc:
                raise QuerySyntaxError(f"invalid boost [{tok.text}]") from exc
        return 1.0


def _combine(clauses: list[_Clause]) -> Query:
    if len(clauses) == 1 and clauses[0].occur != MUST_NOT:
        return clauses[0].query
    q = Bool()
    for c in clauses:
        getattr(q, c.occur).append(c.query)
    if not q.must and not q.should:
        q.must.append(MatchAll())  # a purely negative query matches everything else (ES fixes it so)
    return q


def parse_query_string(body: Any) -> Query:
    if not isinstance(body, dict) or "query" not in body:
        raise parsing("[query_string] must be provided with a [query]")
    unknown = [k for k in body if k not in _KNOWN_KEYS]
    if unknown:
        raise parsing(f"[query_string] query does not support [{unknown[0]}]")
    text = str(body["query"])
    fields = body.get("fields")
    if fields is None:
        fields = [body["default_field"]] if "default_field" in body else ["*"]
    operator = str(body.get("default_operator", "or")).lower()
    lenient = bool(body.get("lenient", False))
    time_zone = body.get("time_zone")
    if time_zone is not None:
        dates.zone(time_zone)
    return QueryString(text, [str(f) for f in fields], operator, lenient, time_zone, _boost(body))


@dataclass
class QueryString(Query):
    text: str
    fields: list[str]
    operator: str
    lenient: bool
    time_zone: str | None
    boost: float = 1.0
    _parsed: Query | None = None

    def parsed(self) -> Query:
        if self._parsed is None:
            try:
                tokens = tokenize(self.text)
                if not tokens:
                    self._parsed = MatchNoneQS()
                else:
                    parser = _Parser(tokens, self.fields, self.operator, self.lenient, self.time_zone)
                    query = parser.parse_query(self.fields, False)
                    if parser.peek() is not None:
                        raise QuerySyntaxError(f'Encountered " "{parser.peek().text}" " at line 1.')  # type: ignore[union-attr]
                    self._parsed = query
            except QuerySyntaxError as exc:
                raise EsError(
                    400,
                    "query_shard_exception",
                    f"Failed to parse query [{self.text}]",
                    caused_by=EsError(400, "parse_exception", f"Cannot parse '{self.text}': {exc}"),
                ) from exc
        return self._parsed

    def compile(self, ctx: CompileCtx) -> Matcher:
        inner = self.parsed().compile(ctx)
        boost = self.boost
        if boost == 1.0:
            return inner

        def match(doc: Any) -> float | None:
            score = inner(doc)
            return None if score is None else score * boost

        return match


class MatchNoneQS(Query):
    def compile(self, ctx: CompileCtx) -> Matcher:
        return _never
