"""Graphite plaintext: ``path value timestamp``, with optional tags ``path;tag=value;tag2=value2``.

Like carbon: the three parts are separated by whitespace and the value is read by ``float()``.
The timestamp is an integer or a float in seconds (``timestamp_unit`` may say otherwise). A line
of two parts has no time (``no_time``: the decoder never reads the clock); one part or more than
three is ``not_parseable``, as is a path that is not UTF-8 or a malformed tag.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

from samplerr.core.decoding_batch import BatchBuilder
from samplerr.core.decoding_series import CACHE_LIMIT, FILTERED, SeriesMapper, TaggedSeries
from samplerr.core.decoding_times import float_time_ms, in_range, int_time_ms

_BAD: Final = -2  # the cached sid of a malformed path


def parse_path(mapper: SeriesMapper, path: bytes) -> int:
    """The series id of a (tagged) path, FILTERED, or ``_BAD``."""
    try:
        name, *tags = path.decode().split(";")
    except UnicodeDecodeError:
        return _BAD
    pairs = [tag.split("=", 1) for tag in tags]
    if not name or not all(len(pair) == 2 and pair[0] and pair[1] for pair in pairs):
        return _BAD
    return TaggedSeries(mapper, name, ((key, value) for key, value in pairs)).sid(None, None)


def parse_time(token: bytes, unit: str) -> int | bool | None:
    """Epoch ms of a timestamp token (an integer or a float); None for NaN; False when malformed."""
    digits = token[1:] if token[:1] in (b"-", b"+") else token
    if digits.isdigit():
        if len(digits) > 40:  # absurd in any unit (and int() refuses thousands of digits)
            return -(10**40) if token[:1] == b"-" else 10**40
        return int_time_ms(int(token), unit)
    try:
        seconds = float(token)
    except ValueError:
        return False
    return float_time_ms(seconds, unit)


class GraphiteDecoder:
    """Decodes lines of graphite plaintext into a :class:`BatchBuilder`."""

    __slots__ = ("_cache", "_mapper", "_unit")

    def __init__(self, mapper: SeriesMapper, unit: str) -> None:
        self._mapper = mapper
        self._unit = unit
        self._cache: dict[bytes, int] = {}

    def decode(self, lines: Sequence[bytes], out: BatchBuilder) -> None:
        cache, unit, reject = self._cache, self._unit, out.reject
        for line in lines:
            parts = line.split()
            if len(parts) == 3:
                path, raw_value, raw_time = parts
            elif len(parts) == 2:
                path, raw_value = parts
                raw_time = None
            else:
                if parts:
                    reject("not_parseable", line)
                continue
            sid = cache.get(path)
            if sid is None:
                sid = self._series(path)
            try:
                value = float(raw_value)
            except ValueError:
                reject("not_parseable", line)
                continue
            ms = None if raw_time is None else parse_time(raw_time, unit)
            if sid == _BAD or ms is False:
                reject("not_parseable", line)
            elif sid == FILTERED:
                reject("filtered", line)
            elif not math.isfinite(value):
                reject("not_finite", line)
            elif ms is None:
                reject("no_time", line)
            elif not in_range(ms):
                reject("time_out_of_range", line)
            else:
                out.series.append(sid)
                out.times.append(ms)
                out.values.append(value)

    def _series(self, path: bytes) -> int:
        sid = parse_path(self._mapper, path)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[path] = sid
        return sid
