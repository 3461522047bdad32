"""Validating the cron expressions of ``[schedule]`` without importing the scheduler.

The scheduler runs them with APScheduler 3's ``CronTrigger.from_crontab`` (in UTC). This module
accepts a strict subset of what that accepts — five fields of ``*``, ``*/n``, ``a``, ``a-b``,
``a-b/n``, ``a/n`` and comma lists, with month and weekday names — and refuses numbered weekdays:
APScheduler 3 reads ``0`` as Monday where crontab reads it as Sunday, so only names (``mon`` …
``sun``) say what they mean.
"""

from __future__ import annotations

import re

_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ALL = re.compile(r"\*(?:/(?P<step>[0-9]+))?")
_RANGE = re.compile(r"(?P<first>[0-9]+)(?:-(?P<last>[0-9]+))?(?:/(?P<step>[0-9]+))?")
_NAMES = re.compile(r"(?P<first>[A-Za-z]+)(?:-(?P<last>[A-Za-z]+))?")

VALID_CRON = (
    "five fields 'minute hour day month weekday' (UTC) of *, */n, a, a-b, a-b/n or lists, "
    "with weekday names mon-sun, e.g. '*/5 * * * *' or '17 0 * * sun'"
)


def _check_names(expr: str, field: str, names: tuple[str, ...]) -> None:
    match = _NAMES.fullmatch(expr)
    if match is None:
        raise ValueError(f"{field}: {expr!r} is not a valid expression; expected {VALID_CRON}")
    first, last = match.group("first").lower(), match.group("last")
    indices = []
    for name in (first, last.lower() if last else None):
        if name is None:
            continue
        if name not in names:
            raise ValueError(f"{field}: {name!r} is not a name; expected one of {', '.join(names)}")
        indices.append(names.index(name))
    if len(indices) == 2 and indices[0] > indices[1]:
        raise ValueError(f"{field}: the range {expr!r} runs backwards")


def _check_expression(expr: str, field: str, low: int, high: int) -> None:
    whole = _ALL.fullmatch(expr)
    if whole is not None:
        step = whole.group("step")
        if step is not None and not 0 < int(step) <= high - low:
            raise ValueError(f"{field}: the step in {expr!r} must be between 1 and {high - low}")
        return
    numbers = _RANGE.fullmatch(expr)
    if numbers is None:
        if field == "month":
            _check_names(expr, field, MONTHS)
            return
        if field == "day of week":
            _check_names(expr, field, WEEKDAYS)
            return
        raise ValueError(f"{field}: {expr!r} is not a valid expression; expected {VALID_CRON}")
    if field == "day of week":
        raise ValueError(
            f"day of week: {expr!r} is a number, which APScheduler reads with 0 = Monday and crontab "
            "with 0 = Sunday; write names instead (mon, tue, wed, thu, fri, sat, sun)"
        )
    first = int(numbers.group("first"))
    last_text, step_text = numbers.group("last"), numbers.group("step")
    last = int(last_text) if last_text is not None else None
    if not low <= first <= high or (last is not None and not low <= last <= high):
        raise ValueError(f"{field}: {expr!r} is out of range; {field} values are {low}-{high}")
    if last is not None and first > last:
        raise ValueError(f"{field}: the range {expr!r} runs backwards")
    if step_text is not None:
        span = (high if last is None else last) - first
        if not 0 < int(step_text) <= span:
            raise ValueError(f"{field}: the step in {expr!r} must be between 1 and {span}")


def check_cron(expression: str) -> None:
    """Raise ``ValueError`` saying what is wrong unless ``expression`` is a valid 5-field crontab."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} has {len(fields)} fields; expected {VALID_CRON}")
    for text, (name, low, high) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            _check_expression(item, name, low, high)
