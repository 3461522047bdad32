"""Telegraf's JSON serializer: ``{"name", "tags", "fields", "timestamp"}`` per line, or a batch
``{"metrics": [...]}``. One event per numeric field (see :class:`TaggedSeries`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from samplerr.core.decoding_batch import BatchBuilder
from samplerr.core.decoding_json import load_event
from samplerr.core.decoding_series import CACHE_LIMIT, FILTERED, KEPT, SeriesMapper, TaggedSeries, field_text
from samplerr.core.decoding_times import IsoTimeCache, in_range, json_time_ms

_NO_TAGS: Final[dict[str, Any]] = {}


def field_number(value: object) -> float | None:
    """A field's value as a float (booleans 1.0 / 0.0; inf when it overflows); None if not a number."""
    if type(value) is float:
        return value
    if type(value) is int or type(value) is bool:
        try:
            return float(value)
        except OverflowError:
            return math.inf
    return None


class TelegrafJsonDecoder:
    """Decodes lines of Telegraf JSON into a :class:`BatchBuilder`."""

    __slots__ = ("_cache", "_iso_ms", "_mapper", "_unit")

    def __init__(self, mapper: SeriesMapper, unit: str) -> None:
        self._mapper = mapper
        self._unit = unit
        self._cache: dict[tuple[object, ...], TaggedSeries] = {}
        self._iso_ms = IsoTimeCache()

    def decode(self, lines: Sequence[bytes], out: BatchBuilder) -> None:
        kept = out.rejected_lines
        for line in lines:
            mark = len(kept)
            document = load_event(line)
            if document is None:
                if line.strip():
                    out.reject("not_parseable", line)
                continue
            batch = document.get("metrics")
            if type(batch) is list and "name" not in document:
                for metric in batch:
                    self._metric(metric, line, out)
            else:
                self._metric(document, line, out)
            if len(kept) > mark + 1:  # several events of the line rejected: the line is kept once
                del kept[mark + 1 :]

    def _metric(self, metric: object, line: bytes, out: BatchBuilder) -> None:
        if type(metric) is not dict:
            out.reject("not_parseable", line)
            return
        name, tags, fields = metric.get("name"), metric.get("tags"), metric.get("fields")
        if tags is None:
            tags = _NO_TAGS
        if (
            type(name) is not str
            or not name
            or type(tags) is not dict
            or not (fields is None or type(fields) is dict)
        ):
            out.reject("not_parseable", line)
            return
        if not fields:
            out.reject("no_value", line)
            return
        series = self._series(name, tags)
        ms = json_time_ms(metric.get("timestamp"), self._unit, self._iso_ms)
        sids = series.sids
        for key, raw_value in fields.items():
            value = field_number(raw_value)
            sid = sids.get(key)
            if sid is None or (sid == KEPT and value is not None):
                sid = series.sid(key, key, intern=value is not None)  # no series for strings
            if sid == FILTERED:
                out.reject("filtered", line)
            elif value is None:
                out.reject("not_numeric", line)
            elif not math.isfinite(value):
                out.reject("not_finite", line)
            elif ms is None:
                out.reject("no_time", line)
            elif not in_range(ms):
                out.reject("time_out_of_range", line)
            else:
                out.series.append(sid)
                out.times.append(ms)
                out.values.append(value)

    def _series(self, name: str, tags: dict[str, Any]) -> TaggedSeries:
        raw = (name, *tags.items())
        try:
            return self._cache[raw]
        except (KeyError, TypeError):  # not seen yet, or an unhashable tag value
            pass
        series = TaggedSeries(self._mapper, name, ((key, field_text(value)) for key, value in tags.items()))
        # only all-text tags are remembered (1, 1.0 and True are equal keys, different texts)
        if all(type(value) is str for value in tags.values()):
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[raw] = series
        return series
