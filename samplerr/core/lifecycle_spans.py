"""Spans of time and the Elasticsearch alias filters that select them.

A span is a half-open interval ``[start, end)`` of UTC epoch seconds. A set of instants is a
tuple of spans, sorted, disjoint and not touching (:func:`normalize` makes one). The lifecycle
planner computes which index serves which instants with these, and turns the part of an alias's
period an index serves into a filter on ``@timestamp``::

    one span        {"range": {"@timestamp": {"gte": "2026-11-01T00:00:00Z",
                                              "lt": "2026-11-20T00:00:00Z",
                                              "format": "strict_date_optional_time"}}}
    several spans   {"bool": {"should": [<range>, <range>, ...], "minimum_should_match": 1}}

The bounds are whole seconds written in full (``YYYY-MM-DDTHH:MM:SSZ``), so the filter is exact:
``gte`` the first instant served, ``lt`` the first instant not served (no date rounding applies
to a bound without ``||/unit``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

Span = tuple[int, int]
Spans = tuple[Span, ...]

TIMESTAMP_FIELD = "@timestamp"
DATE_FORMAT = "strict_date_optional_time"
# Bounds of the instants a filter can name: 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z.
MIN_EPOCH = -62_135_596_800
END_OF_TIME = 253_402_300_800

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def normalize(spans: Iterable[Span]) -> Spans:
    """Sort ``spans``, merge overlapping or touching ones and drop empty ones."""
    merged: list[list[int]] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((start, end) for start, end in merged)


def intersect(left: Spans, right: Spans) -> Spans:
    """The instants in both normalised span sets."""
    out: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def contains(spans: Spans, instant: int) -> bool:
    """Whether ``instant`` lies in one of the normalised ``spans``."""
    return any(start <= instant < end for start, end in spans)


def iso(epoch_s: int) -> str:
    """``epoch_s`` as ``YYYY-MM-DDTHH:MM:SSZ`` (four-digit year); ValueError outside years 1-9999."""
    if not MIN_EPOCH <= epoch_s < END_OF_TIME:
        raise ValueError(f"{epoch_s} is outside the years 0001-9999")
    days, seconds = divmod(epoch_s, 86_400)
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    hour, rest = divmod(seconds, 3_600)
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def span_text(span: Span) -> str:
    """A readable ``[start, end)``: ``2026-11-01T00:00:00Z .. 2026-11-20T00:00:00Z``."""
    return f"{iso(span[0])} .. {iso(span[1])}"


def range_filter(span: Span) -> dict[str, Any]:
    """The ``range`` query selecting ``[start, end)`` on ``@timestamp``."""
    return {"range": {TIMESTAMP_FIELD: {"gte": iso(span[0]), "lt": iso(span[1]), "format": DATE_FORMAT}}}


def spans_filter(spans: Spans) -> dict[str, Any]:
    """The filter selecting exactly the normalised, non-empty ``spans``."""
    if not spans:
        raise ValueError("an alias filter needs at least one span")
    if len(spans) == 1:
        return range_filter(spans[0])
    return {"bool": {"should": [range_filter(span) for span in spans], "minimum_should_match": 1}}


def _parse_iso(text: object) -> int | None:
    if not isinstance(text, str) or len(text) != 20 or not text.endswith("Z"):
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    if iso(int((moment - _EPOCH).total_seconds())) != text:
        return None
    return int((moment - _EPOCH).total_seconds())


def _range_span(query: object) -> Span | None:
    if not isinstance(query, Mapping) or set(query) != {"range"}:
        return None
    fields = query["range"]
    if not isinstance(fields, Mapping) or set(fields) != {TIMESTAMP_FIELD}:
        return None
    bounds = fields[TIMESTAMP_FIELD]
    if not isinstance(bounds, Mapping) or set(bounds) != {"gte", "lt", "format"}:
        return None
    if bounds["format"] != DATE_FORMAT:
        return None
    start, end = _parse_iso(bounds["gte"]), _parse_iso(bounds["lt"])
    if start is None or end is None or start >= end:
        return None
    return start, end


def filter_spans(query: Mapping[str, Any]) -> Spans | None:
    """The spans a filter written by :func:`spans_filter` selects; ``None`` for any other filter."""
    single = _range_span(query)
    if single is not None:
        return (single,)
    if set(query) != {"bool"}:
        return None
    clauses = query["bool"]
    if not isinstance(clauses, Mapping) or set(clauses) != {"should", "minimum_should_match"}:
        return None
    if clauses["minimum_should_match"] != 1 or not isinstance(clauses["should"], list):
        return None
    spans = [_range_span(clause) for clause in clauses["should"]]
    if not spans or any(span is None for span in spans):
        return None
    return normalize(span for span in spans if span is not None)
