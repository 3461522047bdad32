"""Durations as written in ``archives.toml``: ``20s``, ``10m``, ``1h``, ``2d``, ``1w``, ``2mo``, ``10y``.

A duration is either fixed (seconds) or calendar (months, years are 12 months); a bare ``m`` is
minutes. Calendar durations are added with calendar arithmetic in UTC (pendulum), so
``2026-01-31 + 1mo`` is ``2026-02-28``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

import pendulum

_FIXED_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_MONTH_UNITS: dict[str, int] = {
    "mo": 1, "month": 1, "months": 1,
    "y": 12, "year": 12, "years": 12,
}
# Spellings that mean different things to different tools: refuse them and say why.
_AMBIGUOUS_UNITS: dict[str, str] = {
    "M": "'M' is months to Java and moment but minutes to many; write 'mo' (months) or 'm' (minutes)",
    "mon": "'mon' could be months or Monday; write 'mo' or 'months'",
    "mons": "'mons' could be months or Mondays; write 'mo' or 'months'",
    "ms": "'ms' is milliseconds to most tools; samplerr counts whole seconds ('s'), "
    "or write 'mo' for months",
    "mth": "write 'mo' or 'months' for months",
    "mths": "write 'mo' or 'months' for months",
}
_DURATION = re.compile(r"\s*([+-]?[0-9]+)\s*([A-Za-z]+)\s*")
# Far beyond any retention, small enough for calendar arithmetic to stay in range.
MAX_MONTHS = 12 * 1000
MAX_SECONDS = 1000 * 366 * 86400

# The Gregorian calendar repeats every 400 years: 4,800 months, 146,097 days.
_CYCLE_MONTHS = 4800
_CYCLE_DAYS = 146_097
_MONTH_LENGTHS = [calendar.monthrange(2000 + m // 12, m % 12 + 1)[1] for m in range(_CYCLE_MONTHS)]

VALID_DURATION = (
    "a whole number and a unit: s, m (minutes), h, d, w, mo (months) or y (years), e.g. 20s, 2d, 2mo"
)
VALID_FIXED_DURATION = "a whole number and a unit: s, m (minutes), h, d or w, e.g. 30s, 10m, 1h"


@dataclass(frozen=True, slots=True)
class Duration:
    """A fixed number of seconds plus a calendar number of months (one of them is 0)."""

    seconds: int = 0
    months: int = 0

    @property
    def is_calendar(self) -> bool:
        return self.months != 0

    def add_to(self, epoch_s: int) -> int:
        """Return ``epoch_s + self`` in UTC epoch seconds (calendar-aware for months/years)."""
        if self.months:
            dt = pendulum.from_timestamp(epoch_s, tz="UTC").add(months=self.months)
            return int(dt.timestamp()) + self.seconds
        return epoch_s + self.seconds

    def subtract_from(self, epoch_s: int) -> int:
        """Return ``epoch_s - self`` in UTC epoch seconds (calendar-aware for months/years)."""
        if self.months:
            dt = pendulum.from_timestamp(epoch_s, tz="UTC").subtract(months=self.months)
            return int(dt.timestamp()) - self.seconds
        return epoch_s - self.seconds

    def max_seconds(self) -> int:
        """The longest this duration can last, in seconds (2 months: 62 days, Jul+Aug or Dec+Jan)."""
        if not self.months:
            return self.seconds
        return self.seconds + _longest_months(self.months) * 86_400

    def approx_seconds(self) -> int:
        """Seconds, counting a month as 30.436875 days (the Gregorian average): for ordering and sizing."""
        return self.seconds + round(self.months * 2_629_746)

    def __str__(self) -> str:
        if self.months:
            return f"{self.months // 12}y" if self.months % 12 == 0 else f"{self.months}mo"
        for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
            if self.seconds and self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


def _longest_months(months: int) -> int:
    """The most days ``months`` consecutive calendar months can hold (exact, over a 400-year cycle).

    Adding months from the 1st never clamps, and from a later day can only end earlier, so the
    longest span starts on a 1st: the largest sum of ``months`` consecutive month lengths.
    """
    cycles, rest = divmod(months, _CYCLE_MONTHS)
    if rest == 0:
        return cycles * _CYCLE_DAYS
    lengths = _MONTH_LENGTHS + _MONTH_LENGTHS[:rest]
    window = best = sum(lengths[:rest])
    for start in range(1, _CYCLE_MONTHS):
        window += lengths[start + rest - 1] - lengths[start - 1]
        best = max(best, window)
    return cycles * _CYCLE_DAYS + best


def parse_duration(text: str, *, fixed: bool = False, allow_zero: bool = False) -> Duration:
    """Parse ``20s``, ``10m``, ``2 months`` …; raise ``ValueError`` saying what is valid.

    ``fixed=True`` refuses calendar units (months, years), for settings that must be a number of seconds;
    ``allow_zero=True`` accepts ``0s`` (e.g. no lateness) where a zero makes sense.
    """
    valid = VALID_FIXED_DURATION if fixed else VALID_DURATION
    if not isinstance(text, str):
        raise TypeError(f"a duration is a string such as '20s', not {type(text).__name__}")
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration; expected {valid}")
    amount, spelled = int(match.group(1)), match.group(2)
    if spelled in _AMBIGUOUS_UNITS or spelled.lower() in _AMBIGUOUS_UNITS:
        reason = _AMBIGUOUS_UNITS.get(spelled) or _AMBIGUOUS_UNITS[spelled.lower()]
        raise ValueError(f"{text!r} is ambiguous: {reason}")
    unit = spelled.lower()
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValueError(f"{text!r}: a duration must be positive; expected {valid}")
    if unit in _FIXED_UNITS:
        seconds = amount * _FIXED_UNITS[unit]
        if seconds > MAX_SECONDS:
            raise ValueError(f"{text!r} is longer than 1000 years")
        return Duration(seconds=seconds)
    if unit in _MONTH_UNITS:
        if fixed:
            raise ValueError(f"{text!r}: months and years are not allowed here; expected {valid}")
        months = amount * _MONTH_UNITS[unit]
        if months > MAX_MONTHS:
            raise ValueError(f"{text!r} is longer than 1000 years")
        return Duration(months=months)
    raise ValueError(f"{text!r}: unknown unit {spelled!r}; expected {valid}")
