"""Decoded events in columns, and the registry of series they belong to.

Decoders turn input lines into an :class:`EventBatch` (three aligned NumPy columns) plus
rejections counted by reason. Series are interned in a :class:`SeriesRegistry`: the id is
local to one process, the key fields are what documents carry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

SeriesKey = tuple[tuple[str, str], ...]  # sorted (field, value) pairs that name a series

REJECT_REASONS: tuple[str, ...] = (
    "not_parseable",  # not valid UTF-8 / JSON / line protocol / graphite
    "no_value",  # no metric value, or a value that is not a number
    "not_finite",  # NaN or ±inf
    "no_time",  # no timestamp
    "time_out_of_range",  # timestamp outside [MIN_TIME_MS, MAX_TIME_MS)
    "filtered",  # dropped on purpose by [series] include/exclude (counted, not an error)
    "not_numeric",  # a string field of Telegraf JSON / line protocol: skipped, counted (not an error)
)

MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIME_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


@dataclass(slots=True)
class EventBatch:
    """Events in arrival order: ``series[i]`` had ``values[i]`` at ``times_ms[i]`` (UTC epoch ms)."""

    series: npt.NDArray[np.int64]
    times_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    rejected: Counter[str] = field(default_factory=Counter)
    # a few offending lines per reason (each cut to ~200 characters), for rate-limited logging
    reject_examples: dict[str, list[str]] = field(default_factory=dict)
    # with Decoder(keep_rejected=True): (reason, line) of each line rejected for an input error, once
    rejected_lines: list[tuple[str, bytes]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.series.shape[0])

    @classmethod
    def empty(cls) -> EventBatch:
        return cls(
            np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        )


class SeriesRegistry:
    """Interns series keys to dense integer ids (0, 1, 2 …) and keeps their fields."""

    __slots__ = ("_ids", "_keys")

    def __init__(self) -> None:
        self._ids: dict[SeriesKey, int] = {}
        self._keys: list[SeriesKey] = []

    def intern(self, key: SeriesKey) -> int:
        sid = self._ids.get(key)
        if sid is None:
            sid = len(self._keys)
            self._ids[key] = sid
            self._keys.append(key)
        return sid

    def key(self, sid: int) -> SeriesKey:
        return self._keys[sid]

    def fields(self, sid: int) -> dict[str, str]:
        return dict(self._keys[sid])

    def __len__(self) -> int:
        return len(self._keys)
