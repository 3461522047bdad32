"""InfluxDB line protocol: ``measurement[,tag=value...] field=value[,field=value...] [timestamp]``.

Lines without a backslash or a double quote, with single spaces between the three sections (what
Telegraf writes nearly always), are cut with ``bytes.split``; the others go through one regular
expression that knows the escaping rules. Both agree on the lines the first accepts (tested). The
``measurement,tags`` part of a line is looked up by its raw bytes, so tags are parsed, unescaped
and decoded once per series, and field keys once per series and field.

A line is ``not_parseable`` as a whole when any part of it is malformed (InfluxDB refuses such a
line too); otherwise each field is an event with its own outcome.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Final

from samplerr.core.decoding_batch import BatchBuilder
from samplerr.core.decoding_series import CACHE_LIMIT, FILTERED, KEPT, SeriesMapper, TaggedSeries
from samplerr.core.decoding_times import in_range, int_time_ms

# Every token ends where the next one must start (an unescaped separator), so the quantifiers
# are possessive: a line that does not match fails in linear time, without backtracking.
_ESCAPED: Final = rb"\\."  # a backslash takes the next byte with it, whatever it is
_MEASUREMENT: Final = rb"(?:[^\\ ,]|" + _ESCAPED + rb")++"
_NAME: Final = rb"(?:[^\\ ,=]|" + _ESCAPED + rb")++"  # tag keys, tag values, field keys
_STRING: Final = rb'"(?:[^"\\]|' + _ESCAPED + rb')*+"'
_VALUE: Final = rb"(?>" + _STRING + rb'|[^ ,"\\]++)'
_LINE: Final = re.compile(
    rb"(?P<head>" + _MEASUREMENT + rb"(?:," + _NAME + rb"=" + _NAME + rb")*+)"
    rb" ++(?P<fields>" + _NAME + rb"=" + _VALUE + rb"(?:," + _NAME + rb"=" + _VALUE + rb")*+)"
    rb"(?: ++(?P<time>[^ ]++))?+ *+",
    re.DOTALL,
)
_PAIR: Final = re.compile(rb"(" + _NAME + rb")=(" + _VALUE + rb")", re.DOTALL)
_TAG: Final = re.compile(rb"(" + _NAME + rb")=(" + _NAME + rb")", re.DOTALL)
_HEAD: Final = re.compile(rb"(" + _MEASUREMENT + rb")((?:," + _NAME + rb"=" + _NAME + rb")*+)", re.DOTALL)
_NAME_ESCAPE: Final = re.compile(rb"\\([,= ])")
_MEASUREMENT_ESCAPE: Final = re.compile(rb"\\([, ])")

_BOOLEANS: Final = {
    **dict.fromkeys((b"t", b"T", b"true", b"True", b"TRUE"), 1.0),
    **dict.fromkeys((b"f", b"F", b"false", b"False", b"FALSE"), 0.0),
}
_NON_FINITE: Final = frozenset({b"nan", b"inf", b"+inf", b"-inf", b"infinity", b"+infinity", b"-infinity"})
_FLOAT_BYTES: Final = b"0123456789.eE+-"
STRING: Final = "string"  # what field_value says of a quoted string (skipped as not_numeric)


def field_value(token: bytes) -> float | str | None:
    """A field value: a float (inf/NaN included), a str for a quoted string, None when malformed."""
    first = token[:1]
    if first == b'"':
        return STRING if len(token) >= 2 and token.endswith(b'"') else None
    last = token[-1:]
    if last in (b"i", b"u"):
        digits = token[:-1]
        negative = digits[:1] == b"-" and last == b"i"
        if negative:
            digits = digits[1:]
        if not digits.isdigit():
            return None
        digits = digits.lstrip(b"0") or b"0"
        if len(digits) > 400:  # far beyond a double, and int() would refuse it
            return -math.inf if negative else math.inf
        try:
            number = float(int(digits))
        except OverflowError:
            number = math.inf
        return -number if negative else number
    boolean = _BOOLEANS.get(token)
    if boolean is not None:
        return boolean
    if token.translate(None, _FLOAT_BYTES):  # letters, underscores, spaces…
        return math.nan if token.lower() in _NON_FINITE else None
    try:
        return float(token)
    except ValueError:
        return None


def parse_time(token: bytes | None) -> int | bool | None:
    """A line's raw timestamp: an int, None when absent, False when malformed."""
    if token is None:
        return None
    negative = token[:1] == b"-"
    digits = token[1:] if negative else token
    if not digits.isdigit():
        return False
    if len(digits) > 40:  # absurd in any unit (and int() refuses thousands of digits)
        return -(10**40) if negative else 10**40
    return int(token)


def _unescape_name(raw: bytes) -> str:
    return _NAME_ESCAPE.sub(rb"\1", raw).decode() if b"\\" in raw else raw.decode()


def split_line(line: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes | None] | None:
    """A stripped line as (raw head, [(raw field key, raw value)], raw time or None), or None."""
    if b"\\" not in line and b'"' not in line:
        parts = line.split(b" ")
        if (len(parts) == 2 or len(parts) == 3) and all(parts):
            pairs = []
            for pair in parts[1].split(b","):
                key, _, value = pair.partition(b"=")
                if not key or not value:
                    return None
                pairs.append((key, value))
            return parts[0], pairs, parts[2] if len(parts) == 3 else None
    return split_line_carefully(line)


def split_line_carefully(line: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes | None] | None:
    """:func:`split_line` for any line: escapes, quoted strings, several spaces."""
    match = _LINE.fullmatch(line)
    if match is None:
        return None
    pairs = [(pair[1], pair[2]) for pair in _PAIR.finditer(match["fields"])]
    return match["head"], pairs, match["time"]


def parse_head(mapper: SeriesMapper, head: bytes) -> TaggedSeries | None:
    """The series of ``measurement,tag=value…`` (None when malformed or not UTF-8)."""
    try:
        if b"\\" not in head:
            measurement, *tags = head.split(b",")
            pairs = [tag.split(b"=") for tag in tags]
            if not measurement or not all(len(pair) == 2 and pair[0] and pair[1] for pair in pairs):
                return None
            return TaggedSeries(mapper, measurement.decode(), ((k.decode(), v.decode()) for k, v in pairs))
        match = _HEAD.fullmatch(head)
        if match is None:
            return None
        name = _MEASUREMENT_ESCAPE.sub(rb"\1", match[1]).decode()
        tag_pairs = [(_unescape_name(k), _unescape_name(v)) for k, v in _TAG.findall(match[2])]
        return TaggedSeries(mapper, name, tag_pairs)
    except UnicodeDecodeError:
        return None


class InfluxDecoder:
    """Decodes lines of InfluxDB line protocol into a :class:`BatchBuilder`."""

    __slots__ = ("_cache", "_mapper", "_unit")

    def __init__(self, mapper: SeriesMapper, unit: str) -> None:
        self._mapper = mapper
        self._unit = unit
        self._cache: dict[bytes, TaggedSeries | None] = {}

    def decode(self, lines: Sequence[bytes], out: BatchBuilder) -> None:
        cache, unit, reject = self._cache, self._unit, out.reject
        series_column, times_column, values_column = out.series, out.times, out.values
        add_sid, add_time, add_value = series_column.append, times_column.append, values_column.append
        for raw_line in lines:
            line = raw_line.strip()
            if not line or line[0] == 35:  # b"#"
                continue  # blank line or comment
            parts = split_line(line)
            if parts is None:
                reject("not_parseable", raw_line)
                continue
            head, pairs, raw_time = parts
            try:
                series = cache[head]
            except KeyError:
                series = self._series(head)
            moment = parse_time(raw_time)
            if series is None or moment is False:
                reject("not_parseable", raw_line)
                continue
            ms = 0 if moment is None else int_time_ms(moment, unit)
            late = "no_time" if moment is None else None if in_range(ms) else "time_out_of_range"
            # Fields are added as they come; a malformed one takes the line's events back out.
            mark = len(series_column)
            outcomes: list[str] = []
            sids = series.sids
            for key, token in pairs:
                last = token[-1]
                if (48 <= last <= 57 or last == 46) and not token.translate(None, _FLOAT_BYTES):
                    try:  # the common cases first: a float, a small positive integer
                        value: float | str | None = float(token)
                    except ValueError:
                        value = None
                elif last == 105 and len(token) < 20 and token[:-1].isdigit():  # b"i"
                    value = float(int(token[:-1]))
                else:
                    value = field_value(token)
                if value is None:
                    break
                sid = sids.get(key)
                if sid is None or (sid == KEPT and type(value) is float):
                    try:  # no series for string fields
                        sid = series.sid(key, _unescape_name(key), intern=type(value) is float)
                    except UnicodeDecodeError:
                        break
                if sid == FILTERED:
                    outcomes.append("filtered")
                elif type(value) is not float:
                    outcomes.append("not_numeric")
                elif value - value != 0.0:  # inf or NaN
                    outcomes.append("not_finite")
                elif late is not None:
                    outcomes.append(late)
                else:
                    add_sid(sid)
                    add_time(ms)
                    add_value(value)
            else:
                if outcomes:
                    out.reject_line(outcomes, raw_line)
                continue
            del series_column[mark:], times_column[mark:], values_column[mark:]
            reject("not_parseable", raw_line)

    def _series(self, head: bytes) -> TaggedSeries | None:
        series = parse_head(self._mapper, head)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[head] = series
        return series
