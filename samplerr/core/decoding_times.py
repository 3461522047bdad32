"""Event times: numeric timestamps in an explicit unit and ISO 8601 strings, to UTC epoch milliseconds.

Exact rules (the scalar functions here and the vector ones in :mod:`decoding_json` agree bit for bit):

* An integer ``t`` in unit ``s``/``ms``/``us``/``ns`` is ``t * 1000``, ``t``, ``t // 1000`` or
  ``t // 1_000_000`` ms (floor: the millisecond that contains the instant).
* A float is first rounded to the microsecond (``round(t * US_PER_UNIT[unit])``: a double holds about a
  microsecond of precision for present-day epoch seconds, so ``1700000000.123`` means ...123 ms and
  not ...122.9999 ms), then floored to the millisecond.
* The unit is never guessed from the size of the number.
* NaN is no time; ±inf, and anything the range check refuses, is out of range.
* ISO 8601 strings as :meth:`datetime.fromisoformat` reads them (``2016-02-24T15:52:26.123Z``,
  offsets, basic format, week dates); a string without an offset is UTC; digits past the
  microsecond are dropped; a leap second (``:60``) is not a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from samplerr.core.events import MAX_TIME_MS, MIN_TIME_MS

TimeUnit = Literal["s", "ms", "us", "ns"]
TIME_UNITS: Final[tuple[TimeUnit, ...]] = ("s", "ms", "us", "ns")

# integers: ms = t * INT_MUL[unit] // INT_DIV[unit]
INT_MUL: Final[dict[str, int]] = {"s": 1000, "ms": 1, "us": 1, "ns": 1}
INT_DIV: Final[dict[str, int]] = {"s": 1, "ms": 1, "us": 1000, "ns": 1_000_000}
# floats: us = round(t * US_PER_UNIT[unit]); ms = us // 1000
US_PER_UNIT: Final[dict[str, float]] = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}

OUT_OF_RANGE: Final = MAX_TIME_MS  # returned for absurd times: the range check refuses it

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def in_range(ms: int) -> bool:
    return MIN_TIME_MS <= ms < MAX_TIME_MS


def int_time_ms(t: int, unit: str) -> int:
    """An integer timestamp in ``unit`` as epoch ms (floor)."""
    return t * INT_MUL[unit] // INT_DIV[unit]


def float_time_ms(t: float, unit: str) -> int | None:
    """A float timestamp in ``unit`` as epoch ms; None for NaN; :data:`OUT_OF_RANGE` for ±inf."""
    us = t * US_PER_UNIT[unit]
    if math.isfinite(us):
        return round(us) // 1000
    return None if math.isnan(us) else OUT_OF_RANGE


def iso_time_ms(text: str) -> int | None:
    """An ISO 8601 date-time as epoch ms (floor); None when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return (moment - _EPOCH) // _ONE_MS
    except OverflowError:  # pragma: no cover - offsets near year 1/9999
        return OUT_OF_RANGE


def json_time_ms(moment: object, unit: str, iso: Callable[[str], int | None] = iso_time_ms) -> int | None:
    """Epoch ms of a time read from JSON: a number in ``unit`` (a boolean counts as 0 or 1) or
    an ISO 8601 string; None when it is neither (or NaN)."""
    if type(moment) is int or type(moment) is bool:
        return int_time_ms(int(moment), unit)
    if type(moment) is float:
        return float_time_ms(moment, unit)
    if type(moment) is str:
        return iso(moment)
    return None


class IsoTimeCache:
    """:func:`iso_time_ms` remembered per text: events of one batch often share their time."""

    __slots__ = ("_known",)
    LIMIT: Final = 4096

    def __init__(self) -> None:
        self._known: dict[str, int | None] = {}

    def __call__(self, text: str) -> int | None:
        try:
            return self._known[text]
        except KeyError:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            ms = self._known[text] = iso_time_ms(text)
            return ms
