"""Periods and ``tf``: index-name time formats in Grafana/moment tokens.

A ``tf`` such as ``YYYY.MM.DD`` names the UTC calendar period one index holds. It is written with
the moment tokens Grafana understands, so the same string serves as Grafana's index pattern:

=========  ==========================  ============
token      meaning                     period kind
=========  ==========================  ============
``YYYY``   calendar year, 4 digits     year
``MM``     month 01-12                 month (with ``YYYY``)
``DD``     day of month 01-31          day (with ``YYYY`` and ``MM``)
``HH``     hour 00-23                  hour (with ``YYYY``, ``MM``, ``DD``)
``GGGG``   ISO week-numbering year     week (with ``WW``)
``WW``     ISO week 01-53              week (with ``GGGG``)
=========  ==========================  ============

Between tokens: the separators ``.``, ``-``, ``_`` and bracketed literals (``[metrics-]``).
samplerr's Joda spelling ``dd`` (``YYYY.MM.dd``) is read as ``DD``.

Calendar arithmetic is exact integer arithmetic on proleptic Gregorian day numbers (the
standard library's date ordinals), all in UTC: there is no daylight-saving time in UTC, so a day
is always 86,400 s and an hour 3,600 s.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

PeriodUnit = Literal["hour", "day", "week", "month", "year"]

DAY = 86_400
HOUR = 3_600
WEEK = 7 * DAY
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

VALID_TF = (
    "valid: YYYY.MM.DD.HH, YYYY.MM.DD, YYYY.MM, YYYY or GGGG.WW (ISO week), "
    "with '.', '-', '_' or [literals] between the tokens"
)

# Longest period of each kind, in seconds (a leap year, a 31-day month).
MAX_PERIOD_SECONDS: dict[PeriodUnit, int] = {
    "hour": HOUR,
    "day": DAY,
    "week": WEEK,
    "month": 31 * DAY,
    "year": 366 * DAY,
}

_TOKEN_WIDTH = {"YYYY": 4, "GGGG": 4, "MM": 2, "DD": 2, "HH": 2, "WW": 2}
_SEPARATORS = frozenset(".-_")
# Characters a bracketed literal may hold: what an Elasticsearch index name allows, lowercase.
_LITERAL_CHARS = re.compile(r"[a-z0-9._+-]*")
# Explanations for letters people commonly try.
_TOKEN_HINTS = {
    "yyyy": "lowercase 'yyyy' is not a moment token; use YYYY",
    "yy": "'yy' is not supported; use YYYY",
    "YY": "two-digit years are not supported; use YYYY",
    "mm": "'mm' is minutes, and minute periods are not supported; months are MM",
    "ss": "'ss' is seconds, and second periods are not supported",
    "hh": "'hh' is a 12-hour clock; hours are HH",
    "ww": "'ww' is a locale week; ISO weeks are WW (with GGGG)",
    "gggg": "'gggg' is a locale week-year; ISO week-years are GGGG (with WW)",
    "M": "one-digit months are not supported; use MM",
    "D": "one-digit days are not supported; use DD",
    "H": "one-digit hours are not supported; use HH",
    "W": "one-digit weeks are not supported; use WW",
    "MMM": "month names are not supported; use MM",
    "MMMM": "month names are not supported; use MM",
    "DDD": "day of year is not supported; use MM.DD",
    "DDDD": "day of year is not supported; use MM.DD",
}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar span ``[start, end)`` in UTC epoch seconds."""

    start: int
    end: int

    def contains(self, epoch_s: int) -> bool:
        return self.start <= epoch_s < self.end

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class _Compiled:
    unit: PeriodUnit
    fields: tuple[str, ...]  # token names in order of appearance
    template: str  # str.format template with named fields y, m, d, h, g, w
    regex: re.Pattern[str]


def _tokenize(tf: str) -> list[tuple[str, str]]:
    """Split ``tf`` into ``("token", "YYYY")`` and ``("literal", "-")`` items; raise ValueError."""
    items: list[tuple[str, str]] = []
    i = 0
    while i < len(tf):
        char = tf[i]
        if char == "[":
            close = tf.find("]", i + 1)
            if close < 0:
                raise ValueError(f"tf {tf!r}: '[' at position {i} is never closed; {VALID_TF}")
            literal = tf[i + 1 : close]
            if not _LITERAL_CHARS.fullmatch(literal):
                raise ValueError(
                    f"tf {tf!r}: literal [{literal}] may hold only lowercase letters, digits and . _ + - "
                    f"(index names are lowercase); {VALID_TF}"
                )
            items.append(("literal", literal))
            i = close + 1
        elif char in _SEPARATORS:
            items.append(("literal", char))
            i += 1
        elif char.isascii() and char.isalpha():
            end = i
            while end < len(tf) and tf[end] == char:
                end += 1
            run = tf[i:end]
            if run == "dd":  # samplerr's Joda spelling of the day of month
                run = "DD"
            if run not in _TOKEN_WIDTH:
                hint = _TOKEN_HINTS.get(run, f"{run!r} is not a supported token")
                raise ValueError(f"tf {tf!r}: {hint}; {VALID_TF}")
            items.append(("token", run))
            i = end
        else:
            raise ValueError(
                f"tf {tf!r}: {char!r} is neither a token nor a separator (put literals in brackets); "
                f"{VALID_TF}"
            )
    return items


def _unit_of(tf: str, tokens: list[str]) -> PeriodUnit:
    seen = set(tokens)
    for token in seen:
        if tokens.count(token) > 1:
            raise ValueError(f"tf {tf!r}: {token} appears more than once; {VALID_TF}")
    if not seen:
        raise ValueError(f"tf {tf!r}: no date token; {VALID_TF}")
    if seen & {"GGGG", "WW"}:
        if seen & {"YYYY", "MM", "DD", "HH"}:
            raise ValueError(
                f"tf {tf!r}: ISO weeks (GGGG, WW) cannot be mixed with YYYY, MM, DD or HH "
                f"(an ISO week straddles months and years); {VALID_TF}"
            )
        if seen != {"GGGG", "WW"}:
            missing = ({"GGGG", "WW"} - seen).pop()
            raise ValueError(f"tf {tf!r}: ISO weeks need both GGGG and WW ({missing} is missing); {VALID_TF}")
        return "week"
    if "YYYY" not in seen:
        raise ValueError(f"tf {tf!r}: no year (YYYY); {VALID_TF}")
    if "HH" in seen and not {"MM", "DD"} <= seen:
        raise ValueError(f"tf {tf!r}: HH needs YYYY, MM and DD; {VALID_TF}")
    if "DD" in seen and "MM" not in seen:
        raise ValueError(f"tf {tf!r}: DD needs MM (day of year is not supported); {VALID_TF}")
    if "HH" in seen:
        return "hour"
    if "DD" in seen:
        return "day"
    if "MM" in seen:
        return "month"
    return "year"


_FIELD_OF = {"YYYY": "y", "MM": "m", "DD": "d", "HH": "h", "GGGG": "g", "WW": "w"}


def _compile(tf: str) -> tuple[str, _Compiled]:
    """Validate ``tf``: return its normalised spelling and the compiled formatter/parser."""
    if not tf:
        raise ValueError(f"tf is empty; {VALID_TF}")
    items = _tokenize(tf)
    tokens = [text for kind, text in items if kind == "token"]
    unit = _unit_of(tf, tokens)
    normalised: list[str] = []
    template: list[str] = []
    regex: list[str] = []
    for kind, text in items:
        if kind == "token":
            name, width = _FIELD_OF[text], _TOKEN_WIDTH[text]
            normalised.append(text)
            template.append(f"{{{name}:0{width}d}}")
            regex.append(f"(?P<{name}>[0-9]{{{width}}})")
        else:
            normalised.append(text if text in _SEPARATORS else f"[{text}]")
            template.append(text.replace("{", "{{").replace("}", "}}"))
            regex.append(re.escape(text))
    compiled = _Compiled(
        unit=unit,
        fields=tuple(_FIELD_OF[t] for t in tokens),
        template="".join(template),
        regex=re.compile("".join(regex)),
    )
    return "".join(normalised), compiled


def _days(epoch_s: int) -> int:
    return epoch_s // DAY


def _ordinal_to_epoch(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORDINAL) * DAY


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """A validated ``tf`` such as ``YYYY.MM.DD``; build it with :func:`parse_tf`."""

    pattern: str  # normalised moment pattern (``YYYY.MM.dd`` becomes ``YYYY.MM.DD``)
    unit: PeriodUnit
    _compiled: _Compiled = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        normalised, compiled = _compile(self.pattern)
        if normalised != self.pattern:
            raise ValueError(f"tf {self.pattern!r} is not normalised; build it with parse_tf()")
        if compiled.unit != self.unit:
            raise ValueError(f"tf {self.pattern!r} names {compiled.unit} periods, not {self.unit}")
        object.__setattr__(self, "_compiled", compiled)

    @property
    def max_period_seconds(self) -> int:
        """The length of the longest period of this kind (a leap year, a 31-day month …)."""
        return MAX_PERIOD_SECONDS[self.unit]

    def format(self, epoch_s: int) -> str:
        """The index suffix of the period holding ``epoch_s``."""
        days = epoch_s // DAY
        day = date.fromordinal(_EPOCH_ORDINAL + days)
        if self.unit == "week":
            iso = day.isocalendar()
            return self._compiled.template.format(g=iso.year, w=iso.week)
        return self._compiled.template.format(
            y=day.year, m=day.month, d=day.day, h=(epoch_s - days * DAY) // HOUR
        )

    def parse(self, suffix: str) -> Period | None:
        """The period named by ``suffix``, or ``None`` when it is not exactly a name of this tf."""
        match = self._compiled.regex.fullmatch(suffix)
        if match is None:
            return None
        parts = {name: int(match.group(name)) for name in self._compiled.fields}
        try:
            if self.unit == "week":
                monday = date.fromisocalendar(parts["g"], parts["w"], 1).toordinal()
                return Period(_ordinal_to_epoch(monday), _ordinal_to_epoch(monday + 7))
            first = date(parts["y"], parts.get("m", 1), parts.get("d", 1))
        except ValueError:  # month 13, 30 February, week 53 of a 52-week year, year 0
            return None
        hour = parts.get("h", 0)
        if hour > 23:
            return None
        start = _ordinal_to_epoch(first.toordinal()) + hour * HOUR
        return Period(start, self._end_of(start, first))

    def period_of(self, epoch_s: int) -> Period:
        """The period holding ``epoch_s``."""
        days = _days(epoch_s)
        if self.unit == "hour":
            start = epoch_s - epoch_s % HOUR
            return Period(start, start + HOUR)
        if self.unit == "day":
            return Period(days * DAY, (days + 1) * DAY)
        if self.unit == "week":
            monday = days - (days + 3) % 7  # 1970-01-01 was a Thursday
            return Period(monday * DAY, (monday + 7) * DAY)
        day = date.fromordinal(_EPOCH_ORDINAL + days)
        first = day.replace(month=1, day=1) if self.unit == "year" else day.replace(day=1)
        start = _ordinal_to_epoch(first.toordinal())
        return Period(start, self._end_of(start, first))

    def _end_of(self, start: int, first: date) -> int:
        """End of the period starting at ``start`` (whose first day is ``first``)."""
        if self.unit == "hour":
            return start + HOUR
        if self.unit == "day":
            return start + DAY
        if self.unit == "week":
            return start + WEEK
        if self.unit == "month":
            return start + calendar.monthrange(first.year, first.month)[1] * DAY
        return start + (366 if calendar.isleap(first.year) else 365) * DAY

    def next_period(self, period: Period) -> Period:
        return self.period_of(period.end)

    def previous_period(self, period: Period) -> Period:
        return self.period_of(period.start - 1)

    def periods(self, start: int, end: int) -> Iterator[Period]:
        """The periods that overlap ``[start, end)``, oldest first."""
        if end <= start:
            return
        period = self.period_of(start)
        while period.start < end:
            yield period
            period = self.next_period(period)

    def __str__(self) -> str:
        return self.pattern


def probe_instants() -> list[int]:
    """Instants where calendars disagree: year ends, leap days, ISO weeks 53 and 1, month ends."""
    days = [
        date(2000, 2, 29), date(2000, 3, 1), date(2023, 1, 1), date(2024, 2, 28), date(2024, 2, 29),
        date(2024, 3, 1), date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1), date(2020, 12, 31),
        date(2021, 1, 3), date(2021, 1, 4), date(2026, 3, 29), date(2026, 10, 25), date(2026, 12, 28),
        date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 3), date(2027, 1, 4), date(2099, 12, 31),
        date(2100, 2, 28), date(2100, 3, 1),
    ]
    instants: list[int] = []
    for day in days:
        midnight = _ordinal_to_epoch(day.toordinal())
        instants.extend((midnight, midnight + 1, midnight + 11 * HOUR + 59, midnight + DAY - 1))
    instants.extend(_ordinal_to_epoch(date(2026, month, 1).toordinal()) - 1 for month in range(1, 13))
    return instants


def round_trip_failures(
    fmt: Callable[[int], str],
    parse: Callable[[str], Period | None],
    period_of: Callable[[int], Period],
    instants: Iterable[int] | None = None,
) -> list[str]:
    """Where ``parse(fmt(t))`` is not the period of ``t``: one readable line per failing instant."""
    failures: list[str] = []
    for instant in probe_instants() if instants is None else instants:
        name = fmt(instant)
        expected = period_of(instant)
        got = parse(name)
        if got != expected or not expected.contains(instant):
            when = datetime.fromtimestamp(instant, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            failures.append(f"{when} is named {name!r}, which reads back as {got}")
    return failures


def parse_tf(tf: str) -> TimeFormat:
    """Validate ``tf``; raise ``ValueError`` naming the problem and the valid tokens."""
    if not isinstance(tf, str):
        raise ValueError(f"tf must be a string, not {type(tf).__name__}; {VALID_TF}")
    normalised, compiled = _compile(tf)
    time_format = TimeFormat(normalised, compiled.unit)
    failures = round_trip_failures(time_format.format, time_format.parse, time_format.period_of)
    if failures:
        raise ValueError(f"tf {tf!r}: names do not read back as their period: {failures[0]}")
    return time_format
