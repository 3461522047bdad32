"""Retention: when an archive's period expires, and which instants an archive's policy still keeps.

A period of an archive expires when its end plus the archive's ``ttl`` is at or before now
(calendar arithmetic in UTC for months and years). An archive's policy keeps an instant while
the period of that archive holding it is unexpired, whether or not its index exists.
"""

from __future__ import annotations

from samplerr.core.config import Archive
from samplerr.core.lifecycle_spans import END_OF_TIME, MIN_EPOCH, Spans, normalize
from samplerr.core.periods import Period

DAY = 86_400
# Adding then subtracting months in UTC moves an instant by less than 3 days (31 January + 1 month
# is 28 February), so around ``now - ttl`` only a few days of periods need checking one by one.
_CALENDAR_SLACK_BEFORE = 6 * DAY
_CALENDAR_SLACK_AFTER = 10 * DAY
# No period (at most a leap year long) starting after this ends before the year 10000.
_LAST_PERIOD_START = END_OF_TIME - 2 * 366 * DAY


def expires_at(archive: Archive, period: Period) -> int:
    """The instant the index of ``period`` expires: period end + ttl (capped at year 10000)."""
    try:
        return min(archive.ttl.add_to(period.end), END_OF_TIME)
    except ValueError:  # beyond the year 9999
        return END_OF_TIME


def is_expired(archive: Archive, period: Period, now: int) -> bool:
    return expires_at(archive, period) <= now


def retained_spans(archive: Archive, now: int) -> Spans:
    """The instants ``archive``'s policy keeps at ``now``: those whose period is unexpired.

    The result is bounded by the years 0001-9999. Calendar ttls are not monotonic to the hour
    (an hourly period ending on 30 January at 23:00 plus one month outlives the one ending on
    31 January at 00:00), so the periods near the boundary are checked one by one.
    """
    ttl = archive.ttl
    if ttl.is_calendar:
        try:
            boundary = ttl.subtract_from(now)
        except ValueError:  # before the year 1: everything since is kept
            boundary = MIN_EPOCH
    else:
        boundary = now - ttl.seconds
    low = max(boundary - _CALENDAR_SLACK_BEFORE, MIN_EPOCH)
    if low >= _LAST_PERIOD_START:
        return ()
    high = boundary + _CALENDAR_SLACK_AFTER if ttl.is_calendar else boundary
    kept: list[tuple[int, int]] = []
    period = archive.tf.period_of(low)
    while True:
        if not is_expired(archive, period, now):
            kept.append((period.start, period.end))
        if period.end >= _LAST_PERIOD_START:
            break
        period = archive.tf.next_period(period)
        if period.start > high:
            kept.append((period.start, END_OF_TIME))
            break
    return normalize(kept)
