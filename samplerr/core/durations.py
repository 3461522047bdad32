"""Durations as written in ``archives.toml``: ``20s``, ``10m``, ``1h``, ``2d``, ``1w``, ``2mo``, ``10y``.

A duration is either fixed (seconds) or calendar (months, years are 12 months); a bare ``m`` is
minutes. Calendar durations are added with calendar arithmetic in UTC (pendulum), so
``2026-01-31 + 1mo`` is ``2026-02-28``.
"""

from __future__ import annotations

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
_DURATION = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")

VALID_DURATION = (
    "a whole number and a unit: s, m (minutes), h, d, w, mo (months) or y (years), e.g. 20s, 2d, 2mo"
)


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


def parse_duration(text: str) -> Duration:
    """Parse ``20s``, ``10m``, ``2 months`` …; raise ``ValueError`` saying what is valid."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration; expected {VALID_DURATION}")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if unit in _FIXED_UNITS:
        return Duration(seconds=amount * _FIXED_UNITS[unit])
    if unit in _MONTH_UNITS:
        return Duration(months=amount * _MONTH_UNITS[unit])
    raise ValueError(f"{text!r}: unknown unit {unit!r}; expected {VALID_DURATION}")
