"""Riemann-style JSON events, one object per line, decoded at close to the JSON parser's own speed.

The per-line loop only parses the four fields it needs (msgspec into a small struct, skipping the
others without building a dict: about half orjson's cost per line), finds the series id in a cache
keyed by the raw key values, and keeps the raw ``time`` and ``metric`` objects; they are checked
and converted for the whole batch at once with NumPy afterwards. Lines that need more care (a
missing ``metric`` or ``time``, an ISO time, a ``NaN`` literal, odd types) go through the scalar
functions below, which define the rules; the vector path gives the same results for the common
types (tests compare the two).
"""

from __future__ import annotations

import functools
import json
import math
from array import array
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from samplerr.core.decoding_batch import BatchBuilder
from samplerr.core.decoding_series import CACHE_LIMIT, FILTERED, SeriesMapper, field_text
from samplerr.core.decoding_times import US_PER_UNIT, IsoTimeCache, in_range, json_time_ms
from samplerr.core.events import MAX_TIME_MS, MIN_TIME_MS

# outcome codes of one line, by priority: when several apply, the highest one is counted
OK: Final = 0
TIME_OUT_OF_RANGE: Final = 1
NO_TIME: Final = 2
NOT_FINITE: Final = 3
NO_VALUE: Final = 4
IS_FILTERED: Final = 5
NOT_PARSEABLE: Final = 6
EMPTY: Final = 7  # skipped silently
REASONS: Final = {
    TIME_OUT_OF_RANGE: "time_out_of_range",
    NO_TIME: "no_time",
    NOT_FINITE: "not_finite",
    NO_VALUE: "no_value",
    IS_FILTERED: "filtered",
    NOT_PARSEABLE: "not_parseable",
}

# series-id column sentinels for lines without a series (FILTERED is -1)
_BAD: Final = -2
_EMPTY: Final = -3
_MISS: Final = -4  # not in the series cache (yet): the line takes the careful way

METRIC_ALTERNATIVES: Final = ("metric_sint64", "metric_d", "metric_f")  # when ``metric`` is absent
NON_FINITE_TEXTS: Final = frozenset({"NaN", "Infinity", "-Infinity"})  # how Jackson writes them
_NAN: Final = math.nan
_MIN_US: Final = float(MIN_TIME_MS * 1000)
_MAX_US: Final = float(MAX_TIME_MS * 1000)

Event = dict[str, Any]


class _Common(msgspec.Struct, gc=False):
    """The four fields of the common case, read without building a dict (other keys are skipped).

    An absent ``host``/``service`` is None, as ``dict.get`` gives the careful path; an absent
    ``time``/``metric`` is NaN, which :meth:`RiemannJsonDecoder._finish` looks at again (the line
    is re-parsed for ``@timestamp`` or a ``metric_*`` alternative). Duplicate keys: the last wins,
    as in orjson."""

    host: Any = None
    service: Any = None
    time: Any = _NAN
    metric: Any = _NAN


_COMMON: Final = msgspec.json.Decoder(_Common)

# Everything the fast loop may raise on a line; such a line then takes the careful way.
# (msgspec raises DecodeError/ValidationError, UnicodeDecodeError — all ValueErrors — and
# RecursionError for very deep nesting; KeyError/TypeError come from the series cache lookup.)
_FAST_FAILURES: Final = (ValueError, KeyError, TypeError, RecursionError)


def newlines(data: bytes) -> int:
    """How many ``\\n`` bytes ``data`` holds (NumPy compares 32 bytes at a time: a sixth of the
    time of ``bytes.count``, which goes byte by byte)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))


def load_event(line: bytes) -> Event | None:
    """The JSON object on a line, or None. orjson first; Python's json for what orjson refuses
    but is still meaningful (``NaN``, ``Infinity``, numbers beyond a double), as long as every
    string in it is valid Unicode."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            event = json.loads(bytes(line).decode("utf-8"))
            # json.loads lets lone surrogates (\ud800) through; they cannot be UTF-8 later
            json.dumps(event, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError):
            return None
    return event if type(event) is dict else None


def metric_value(metric: object, event: Event | None) -> tuple[float, int]:
    """The value of an event whose ``metric`` is ``metric``, and its outcome code.

    Numbers and booleans (1.0, 0.0) are values; when ``metric`` is None (absent or null) the
    ``METRIC_ALTERNATIVES`` of ``event`` are tried in order."""
    if metric is None:
        if event is not None:
            for name in METRIC_ALTERNATIVES:
                alternative = event.get(name)
                if alternative is not None:
                    return metric_value(alternative, None)
        return 0.0, NO_VALUE
    if type(metric) is float or type(metric) is int or type(metric) is bool:
        try:
            value = float(metric)
        except OverflowError:
            return 0.0, NOT_FINITE
        return (value, OK) if math.isfinite(value) else (0.0, NOT_FINITE)
    if type(metric) is str and metric in NON_FINITE_TEXTS:
        return 0.0, NOT_FINITE
    return 0.0, NO_VALUE


class RiemannJsonDecoder:
    """Decodes lines of Riemann JSON into a :class:`BatchBuilder`."""

    __slots__ = ("_by_service", "_cache", "_iso_ms", "_mapper", "_needed", "_unit")

    def __init__(self, mapper: SeriesMapper, unit: str) -> None:
        assert mapper.needed_fields is not None  # JSON always has a key: host+service by default
        self._mapper = mapper
        self._needed = mapper.needed_fields
        self._unit = unit
        self._cache: dict[tuple[object, ...], int] = {}
        # the same entries as _cache when the key is host + service, as {service: {host: sid}}:
        # two lookups of the values as they come cost less than building a tuple to look up
        self._by_service: dict[object, dict[object, int]] = {}
        self._iso_ms = IsoTimeCache()

    # -- the per-line loop --------------------------------------------------------------------------

    def decode(self, lines: Sequence[bytes], out: BatchBuilder) -> None:
        if self._needed == ("host", "service") and self._decode_whole(b"\n".join(lines), lambda: lines, out):
            return
        sids: list[int] = []
        times: list[object] = []
        metrics: list[object] = []
        add_sid, add_time, add_metric = sids.append, times.append, metrics.append
        if self._needed == ("host", "service"):
            # The common case in as few bytecodes as possible: a hit in the series cache and all
            # four fields present. Anything else (a parse error, not an object, a missing field,
            # a cache miss, an unhashable value) takes the careful way.
            decode, cache, careful = _COMMON.decode, self._cache, self._careful
            # msgspec does not check the UTF-8 of the fields it skips: when the batch is not all
            # ASCII, each line is checked first (invalid UTF-8 anywhere is not_parseable).
            check = not b"".join(lines).isascii()
            for line in lines:
                try:
                    if check:
                        line.decode()
                    event = decode(line)
                    sid = cache[event.host, event.service]
                    moment = event.time
                    metric = event.metric
                except _FAST_FAILURES:
                    sid, moment, metric = careful(line)
                add_sid(sid)
                add_time(moment)
                add_metric(metric)
        else:
            careful = self._careful
            for line in lines:
                sid, moment, metric = careful(line)
                add_sid(sid)
                add_time(moment)
                add_metric(metric)
        self._finish(lambda: lines, sids, times, metrics, out)

    def decode_buffer(self, data: bytes, out: BatchBuilder) -> bool:
        """Decode a buffer of lines separated by ``\\n`` without splitting it when it is all ASCII
        events, one per line (it is split only if a line needs a closer look). False (nothing
        done) when the buffer must go through :meth:`decode` line by line."""
        if self._needed != ("host", "service"):
            return False
        return self._decode_whole(data, functools.cache(lambda: data.split(b"\n")), out)

    def _decode_whole(
        self, joined: bytes, lines_of: Callable[[], Sequence[bytes]], out: BatchBuilder
    ) -> bool:
        """The common case of the common case, without a Python loop per line: an all-ASCII batch
        that msgspec reads whole, one event per line. False (nothing done) when that is not so.

        ``joined`` is the lines joined by ``\\n``; ``lines_of()`` gives them as a list, and is
        only called when some line must be looked at alone."""
        if not joined.isascii():
            return False
        try:
            events = _COMMON.decode_lines(joined)
        except _FAST_FAILURES:
            return False
        # msgspec skips blank lines (a chunk's final newline, messages that end with one): so
        # are they here, silently, as on the careful path.
        count = newlines(joined) + 1
        if len(events) != count and not (len(events) == count - 1 and joined.endswith(b"\n")):
            # empty lines (messages that each end with a newline, joined by one): squeezed out
            squeezed = joined.replace(b"\n\n", b"\n").strip(b"\n")
            if len(events) == newlines(squeezed) + 1:
                lines_of = functools.cache(lambda: squeezed.split(b"\n"))  # the lines of the events
            else:
                kept = [line for line in lines_of() if line.strip()]
                if len(events) != len(kept):
                    return False
                lines_of = lambda: kept  # noqa: E731 # the lines of the events, in order
        try:
            by_service = self._by_service
            sids = [by_service[e.service][e.host] for e in events]
        except (KeyError, TypeError):  # a series not seen yet (or an unhashable key value)
            get = self._cache.get
            try:
                sids = [get((e.host, e.service), _MISS) for e in events]
            except TypeError:  # an unhashable key value
                return False
        times = [e.time for e in events]
        metrics = [e.metric for e in events]
        if _MISS in sids:
            careful, lines = self._careful, lines_of()
            for index in [i for i, sid in enumerate(sids) if sid == _MISS]:
                sids[index], times[index], metrics[index] = careful(lines[index])
        self._finish(lines_of, sids, times, metrics, out)
        return True

    def _careful(self, line: bytes) -> tuple[int, object, object]:
        """The series id, raw ``time`` and raw ``metric`` of any line (NaN when absent)."""
        event = load_event(line)
        if event is None:
            return (_EMPTY if not line.strip() else _BAD), _NAN, _NAN
        raw: tuple[object, ...] | None = tuple(
            [tuple(v) if type(v) is list else v for v in map(event.get, self._needed)]
        )
        try:
            sid = self._cache[raw]  # type: ignore[index]
        except (KeyError, TypeError):  # not seen yet, or unhashable
            sid = self._resolve(event, raw)
        moment, metric = event.get("time"), event.get("metric")
        # absent or null: NaN, so that the batch stays numeric; _finish looks again at NaNs
        return sid, _NAN if moment is None else moment, _NAN if metric is None else metric

    def _resolve(self, event: Event, raw: tuple[object, ...] | None) -> int:
        """The series id of ``event`` (or FILTERED); remembered under ``raw`` when that is safe."""
        fields = {name: field_text(event.get(name)) for name in self._needed}
        tags = event.get("tags")
        lists = {"tags": [field_text(tag) for tag in tags]} if type(tags) is list else {}
        sid = self._mapper.sid(fields, lists)
        # Only all-text raw values are remembered: 1, 1.0 and True are equal dict keys but
        # different texts, and a text never equals a number. (The fast loop looks raw values up
        # as they come, so it must never find a non-text one equal to a remembered key.)
        if raw is not None and all(
            value is None
            or type(value) is str
            or (type(value) is tuple and all(type(v) is str for v in value))
            for value in raw
        ):
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
                self._by_service.clear()
            self._cache[raw] = sid
            if self._needed == ("host", "service"):
                self._by_service.setdefault(raw[1], {})[raw[0]] = sid
        return sid

    # -- whole-batch checks -------------------------------------------------------------------------

    def _finish(
        self,
        lines_of: Callable[[], Sequence[bytes]],
        sids: list[int],
        times: list[object],
        metrics: list[object],
        out: BatchBuilder,
    ) -> None:
        """Check and convert the batch's columns; ``lines_of()`` (the lines, index for index) is
        only called when a line is rejected or needs a closer look."""
        series = np.array(sids, dtype=np.int64)
        line_code = np.zeros(len(sids), dtype=np.int8)
        line_code[series == FILTERED] = IS_FILTERED
        line_code[series == _BAD] = NOT_PARSEABLE
        line_code[series == _EMPTY] = EMPTY
        events: dict[int, Event | None] = {}  # re-parsed lines that need a closer look

        def event_at(index: int) -> Event | None:
            if index not in events:
                events[index] = load_event(lines_of()[index])
            return events[index]

        values, value_code = self._values(metrics, line_code, event_at)
        times_ms, time_code = self._times(times, line_code, event_at)
        code = np.maximum(np.maximum(line_code, value_code), time_code)
        counts = np.bincount(code, minlength=EMPTY + 1)
        if counts[OK] + counts[EMPTY] < len(code):  # some lines are rejected
            lines = lines_of()
            for reason_code, reason in REASONS.items():
                if counts[reason_code]:
                    examples = np.flatnonzero(code == reason_code)[:3]
                    out.reject_many(reason, int(counts[reason_code]), [lines[i] for i in examples])
            if out.keep_rejected:
                for index in np.flatnonzero((code != OK) & (code != EMPTY)).tolist():
                    out.keep_line(REASONS[int(code[index])], lines[index])
        keep = code == OK
        out.add_columns(series[keep], times_ms[keep], values[keep])

    @staticmethod
    def _floats(items: list[object]) -> npt.NDArray[np.float64] | None:
        """``items`` as doubles when every one is a float, an int or a bool (else None).

        ``array("d", …)`` converts exactly like ``float()`` and, unlike NumPy, refuses strings."""
        try:
            return np.frombuffer(array("d", items), dtype=np.float64)  # type: ignore[type-var]
        except (TypeError, OverflowError):
            return None

    def _values(
        self, metrics: list[object], line_code: npt.NDArray[np.int8], event_at: Callable[[int], Event | None]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int8]]:
        code = np.zeros(len(metrics), dtype=np.int8)
        values = self._floats(metrics)
        if values is not None:
            look = np.flatnonzero(~np.isfinite(values) & (line_code == OK))  # NaN: maybe absent
        else:
            values = np.zeros(len(metrics), dtype=np.float64)
            look = np.flatnonzero(line_code == OK)
        for index in look.tolist():
            metric = metrics[index]
            if metric is None or (type(metric) is float and math.isnan(metric)):  # absent, null, NaN
                event = event_at(index)
                metric = None if event is None else event.get("metric")
                values[index], code[index] = metric_value(metric, event)
            else:
                values[index], code[index] = metric_value(metric, None)
        return values, code

    def _times(
        self, times: list[object], line_code: npt.NDArray[np.int8], event_at: Callable[[int], Event | None]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
        # Whole-array conversion through doubles is exact for integer seconds, ms and µs in
        # range (< 2**53 µs) and monotonic outside it; nanoseconds need integer arithmetic.
        seconds = self._floats(times) if self._unit != "ns" else None
        if seconds is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                us = np.round(seconds * US_PER_UNIT[self._unit])
            ok = (us >= _MIN_US) & (us < _MAX_US)
            times_ms = np.where(ok, us, 0.0).astype(np.int64) // 1000
            code = np.where(ok, OK, TIME_OUT_OF_RANGE).astype(np.int8)
            look = np.flatnonzero(np.isnan(us) & (line_code == OK))
        else:
            times_ms = np.zeros(len(times), dtype=np.int64)
            code = np.zeros(len(times), dtype=np.int8)
            look = np.flatnonzero(line_code == OK)
        for index in look.tolist():
            moment = times[index]
            if moment is None or (type(moment) is float and math.isnan(moment)):  # absent, null, NaN
                event = event_at(index)
                moment = None if event is None else event.get("time")
                if moment is None and event is not None:
                    moment = event.get("@timestamp")
            times_ms[index], code[index] = self._time_of(moment)
        return times_ms, code

    def _time_of(self, moment: object) -> tuple[int, int]:
        """Epoch ms of a ``time`` value and the outcome code."""
        ms = json_time_ms(moment, self._unit, self._iso_ms)
        if ms is None:
            return 0, NO_TIME
        return (ms, OK) if in_range(ms) else (0, TIME_OUT_OF_RANGE)
