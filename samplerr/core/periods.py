"""Periods and ``tf``: index-name time formats in Grafana/moment tokens.

INTERFACE (bodies to be implemented): see the docstrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PeriodUnit = Literal["hour", "day", "week", "month", "year"]


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar span ``[start, end)`` in UTC epoch seconds."""

    start: int
    end: int

    def contains(self, epoch_s: int) -> bool:
        return self.start <= epoch_s < self.end


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """A validated ``tf`` such as ``YYYY.MM.DD``; build it with :func:`parse_tf`."""

    pattern: str  # normalised moment pattern (``YYYY.MM.dd`` becomes ``YYYY.MM.DD``)
    unit: PeriodUnit

    def format(self, epoch_s: int) -> str:
        """The index suffix of the period holding ``epoch_s``."""
        raise NotImplementedError

    def parse(self, suffix: str) -> Period | None:
        """The period named by ``suffix``, or ``None`` when it is not exactly a name of this tf."""
        raise NotImplementedError

    def period_of(self, epoch_s: int) -> Period:
        """The period holding ``epoch_s``."""
        raise NotImplementedError

    def next_period(self, period: Period) -> Period:
        raise NotImplementedError

    def previous_period(self, period: Period) -> Period:
        raise NotImplementedError


def parse_tf(tf: str) -> TimeFormat:
    """Validate ``tf``; raise ``ValueError`` naming the problem and the valid tokens."""
    raise NotImplementedError
