"""Periods and tf: tables of datetimes, strict names, and round-trip properties.

The implementation uses integer day arithmetic; the tables here are written by hand and the
properties use pendulum (an independent calendar) as the oracle.
"""

import re
from datetime import UTC, datetime

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.core.periods import VALID_TF, Period, TimeFormat, parse_tf, round_trip_failures


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


DAILY = parse_tf("YYYY.MM.DD")
MONTHLY = parse_tf("YYYY.MM")
YEARLY = parse_tf("YYYY")
HOURLY = parse_tf("YYYY.MM.DD.HH")
WEEKLY = parse_tf("GGGG.WW")
ALL = (HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY)


# --- parse_tf --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("tf", "pattern", "unit"),
    [
        ("YYYY.MM.DD", "YYYY.MM.DD", "day"),
        ("YYYY.MM.dd", "YYYY.MM.DD", "day"),  # samplerr's Joda spelling
        ("YYYY.MM", "YYYY.MM", "month"),
        ("YYYY", "YYYY", "year"),
        ("YYYY.MM.DD.HH", "YYYY.MM.DD.HH", "hour"),
        ("YYYY-MM-DD_HH", "YYYY-MM-DD_HH", "hour"),
        ("GGGG.WW", "GGGG.WW", "week"),
        ("GGGG-[w]WW", "GGGG-[w]WW", "week"),
        ("YYYYMMDD", "YYYYMMDD", "day"),
        ("[metrics-]YYYY.MM.dd", "[metrics-]YYYY.MM.DD", "day"),
        ("MM.YYYY", "MM.YYYY", "month"),
    ],
)
def test_valid_tf(tf, pattern, unit):
    time_format = parse_tf(tf)
    assert (time_format.pattern, time_format.unit) == (pattern, unit)


@pytest.mark.parametrize(
    ("tf", "says"),
    [
        ("", "empty"),
        ("MM.DD", "no year"),
        ("YYYY.DD", "DD needs MM"),
        ("YYYY.MM.HH", "HH needs"),
        ("YYYY.mm", "minutes"),
        ("YYYY.MM.DD.HH.mm", "minutes"),
        ("yyyy.MM.dd", "lowercase"),
        ("YY.MM", "two-digit"),
        ("YYYY.MMM", "month names"),
        ("YYYY.DDDD", "day of year"),
        ("YYYY.MM.DD.hh", "12-hour"),
        ("YYYY.WW", "cannot be mixed"),
        ("GGGG.MM", "cannot be mixed"),
        ("GGGG", "WW is missing"),
        ("WW", "GGGG is missing"),
        ("YYYY.YYYY", "more than once"),
        ("YYYY.Q", "'Q' is not a supported token"),
        ("YYYY MM", "neither a token nor a separator"),
        ("YYYY/MM", "neither a token nor a separator"),
        ("YYYY[x", "never closed"),
        ("[Metrics]YYYY", "lowercase"),
        ("[a b]YYYY", "lowercase"),
        ("[x]", "no date token"),
    ],
)
def test_invalid_tf_says_why_and_what_is_valid(tf, says):
    with pytest.raises(ValueError, match=re.escape(VALID_TF)) as info:
        parse_tf(tf)
    assert says in str(info.value)


def test_time_format_must_be_consistent_when_built_directly():
    assert TimeFormat("YYYY.MM.DD", "day") == DAILY
    with pytest.raises(ValueError, match="names day periods"):
        TimeFormat("YYYY.MM.DD", "month")
    with pytest.raises(ValueError, match="normalised"):
        TimeFormat("YYYY.MM.dd", "day")


def test_time_formats_are_hashable_values():
    assert len({parse_tf("YYYY.MM.dd"), parse_tf("YYYY.MM.DD"), DAILY}) == 1


# --- format and parse: tables -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("time_format", "instant", "name", "period"),
    [
        # ordinary
        (DAILY, ts(2026, 11, 22, 10, 31, 40), "2026.11.22", (ts(2026, 11, 22), ts(2026, 11, 23))),
        (MONTHLY, ts(2026, 11, 22, 10, 31, 40), "2026.11", (ts(2026, 11, 1), ts(2026, 12, 1))),
        (YEARLY, ts(2026, 11, 22, 10, 31, 40), "2026", (ts(2026, 1, 1), ts(2027, 1, 1))),
        (HOURLY, ts(2026, 11, 22, 10, 31, 40), "2026.11.22.10", (ts(2026, 11, 22, 10), ts(2026, 11, 22, 11))),
        # the last second of a year, the first of the next
        (DAILY, ts(2026, 12, 31, 23, 59, 59), "2026.12.31", (ts(2026, 12, 31), ts(2027, 1, 1))),
        (YEARLY, ts(2026, 12, 31, 23, 59, 59), "2026", (ts(2026, 1, 1), ts(2027, 1, 1))),
        (YEARLY, ts(2027, 1, 1), "2027", (ts(2027, 1, 1), ts(2028, 1, 1))),
        (HOURLY, ts(2026, 12, 31, 23, 59, 59), "2026.12.31.23", (ts(2026, 12, 31, 23), ts(2027, 1, 1))),
        (MONTHLY, ts(2026, 12, 31, 23, 59, 59), "2026.12", (ts(2026, 12, 1), ts(2027, 1, 1))),
        # leap years: 2024 and 2000 are, 2100 is not
        (DAILY, ts(2024, 2, 29, 12), "2024.02.29", (ts(2024, 2, 29), ts(2024, 3, 1))),
        (MONTHLY, ts(2024, 2, 29, 12), "2024.02", (ts(2024, 2, 1), ts(2024, 3, 1))),
        (MONTHLY, ts(2100, 2, 28, 12), "2100.02", (ts(2100, 2, 1), ts(2100, 3, 1))),
        (DAILY, ts(2100, 2, 28, 23, 59, 59), "2100.02.28", (ts(2100, 2, 28), ts(2100, 3, 1))),
        (MONTHLY, ts(2000, 2, 29), "2000.02", (ts(2000, 2, 1), ts(2000, 3, 1))),
        # ISO weeks: 2026 has 53 weeks; 2026-12-31 and 2027-01-01..03 are in 2026-W53
        (WEEKLY, ts(2026, 12, 31), "2026.53", (ts(2026, 12, 28), ts(2027, 1, 4))),
        (WEEKLY, ts(2027, 1, 1), "2026.53", (ts(2026, 12, 28), ts(2027, 1, 4))),
        (WEEKLY, ts(2027, 1, 3, 23, 59, 59), "2026.53", (ts(2026, 12, 28), ts(2027, 1, 4))),
        (WEEKLY, ts(2027, 1, 4), "2027.01", (ts(2027, 1, 4), ts(2027, 1, 11))),
        (WEEKLY, ts(2020, 12, 31), "2020.53", (ts(2020, 12, 28), ts(2021, 1, 4))),
        (WEEKLY, ts(2021, 1, 3), "2020.53", (ts(2020, 12, 28), ts(2021, 1, 4))),
        # 2024-12-30 (a Monday) already belongs to ISO year 2025
        (WEEKLY, ts(2024, 12, 30), "2025.01", (ts(2024, 12, 30), ts(2025, 1, 6))),
        (WEEKLY, ts(2024, 12, 29, 23, 59, 59), "2024.52", (ts(2024, 12, 23), ts(2024, 12, 30))),
        (WEEKLY, ts(1970, 1, 1), "1970.01", (ts(1969, 12, 29), ts(1970, 1, 5))),
        # before the epoch (negative epoch seconds)
        (DAILY, ts(1969, 12, 31, 23, 59, 59), "1969.12.31", (ts(1969, 12, 31), ts(1970, 1, 1))),
        # a literal prefix
        (parse_tf("[m-]YYYY.MM.dd"), ts(2026, 1, 5), "m-2026.01.05", (ts(2026, 1, 5), ts(2026, 1, 6))),
    ],
)
def test_format_parse_and_period_of(time_format, instant, name, period):
    assert time_format.format(instant) == name
    assert time_format.period_of(instant) == Period(*period)
    assert time_format.parse(name) == Period(*period)


# DST changes in Europe (2026-03-29, 2026-10-25 at 01:00 UTC) and the US (2026-03-08 at 07:00 UTC,
# 2026-11-01 at 06:00 UTC) do not exist in UTC: every day is 86,400 s, every hour 3,600 s, and the
# hourly names around the change follow each other without a gap or a repeat.
@pytest.mark.parametrize("day", [(2026, 3, 29), (2026, 10, 25), (2026, 3, 8), (2026, 11, 1)])
def test_dst_changes_do_not_exist_in_utc(day):
    midnight = ts(*day)
    assert DAILY.period_of(midnight + 12 * 3600) == Period(midnight, midnight + 86_400)
    names = [HOURLY.format(midnight + hour * 3600) for hour in range(24)]
    assert names == [f"{day[0]}.{day[1]:02d}.{day[2]:02d}.{hour:02d}" for hour in range(24)]
    for hour in range(24):
        assert HOURLY.parse(names[hour]) == Period(midnight + hour * 3600, midnight + (hour + 1) * 3600)


@pytest.mark.parametrize(
    ("time_format", "name"),
    [
        (YEARLY, "2026.11.22"),  # a daily name is not a yearly one
        (YEARLY, "2026.11"),
        (MONTHLY, "2026.11.22"),
        (DAILY, "2026.11"),
        (DAILY, "2026.11.22.10"),
        (HOURLY, "2026.11.22"),
        (MONTHLY, "2026.13"),  # no 13th month
        (MONTHLY, "2026.00"),
        (MONTHLY, "2026.1"),  # not zero-padded
        (DAILY, "2026.02.30"),
        (DAILY, "2100.02.29"),  # 2100 is not a leap year
        (DAILY, "2026.11.22 "),
        (DAILY, " 2026.11.22"),
        (DAILY, "2026.11.22\n"),
        (DAILY, "2026-11-22"),
        (HOURLY, "2026.11.22.24"),
        (WEEKLY, "2025.53"),  # 2025 has 52 ISO weeks
        (WEEKLY, "2026.54"),
        (WEEKLY, "2026.00"),
        (YEARLY, "0000"),
        (YEARLY, "\uff12\uff10\uff12\uff16"),  # fullwidth 2026: a digit to \d, not to an index name
        (YEARLY, "20266"),
        (YEARLY, ""),
        (parse_tf("[m-]YYYY"), "2026"),
        (parse_tf("[m-]YYYY"), "n-2026"),
    ],
)
def test_parse_rejects_what_is_not_exactly_a_name(time_format, name):
    assert time_format.parse(name) is None


def test_period_lengths():
    assert YEARLY.parse("2024").seconds == 366 * 86_400
    assert YEARLY.parse("2100").seconds == 365 * 86_400
    assert YEARLY.parse("2000").seconds == 366 * 86_400
    assert MONTHLY.parse("2024.02").seconds == 29 * 86_400
    assert MONTHLY.parse("2026.02").seconds == 28 * 86_400
    assert MONTHLY.parse("2026.04").seconds == 30 * 86_400
    assert YEARLY.parse("9999").end == ts(9999, 12, 31) + 86_400


def test_next_and_previous_cross_year_ends():
    assert MONTHLY.next_period(MONTHLY.parse("2026.12")) == MONTHLY.parse("2027.01")
    assert MONTHLY.previous_period(MONTHLY.parse("2027.01")) == MONTHLY.parse("2026.12")
    assert WEEKLY.next_period(WEEKLY.parse("2026.52")) == WEEKLY.parse("2026.53")
    assert WEEKLY.next_period(WEEKLY.parse("2026.53")) == WEEKLY.parse("2027.01")
    assert WEEKLY.previous_period(WEEKLY.parse("2026.01")) == WEEKLY.parse("2025.52")
    assert HOURLY.next_period(HOURLY.parse("2024.02.28.23")) == HOURLY.parse("2024.02.29.00")
    assert DAILY.next_period(DAILY.parse("2100.02.28")) == DAILY.parse("2100.03.01")


def test_periods_between():
    names = [MONTHLY.format(p.start) for p in MONTHLY.periods(ts(2026, 11, 15), ts(2027, 2, 1))]
    assert names == ["2026.11", "2026.12", "2027.01"]
    assert list(DAILY.periods(ts(2026, 1, 1), ts(2026, 1, 1))) == []


def test_round_trip_check_reports_names_that_read_back_wrong():
    # A formatter that names weeks by calendar year and ISO week, the classic moment mistake
    # (YYYY.WW): 2027-01-01 is in 2026-W53 but would be named 2027.53.
    def calendar_year_week(epoch_s: int) -> str:
        day = datetime.fromtimestamp(epoch_s, tz=UTC)
        return f"{day.year}.{day.isocalendar().week:02d}"

    failures = round_trip_failures(calendar_year_week, WEEKLY.parse, WEEKLY.period_of)
    assert any(line.startswith("2027-01-01T") and "'2027.53'" in line for line in failures)
    assert round_trip_failures(WEEKLY.format, WEEKLY.parse, WEEKLY.period_of) == []


# --- properties --------------------------------------------------------------------------------

INSTANTS = st.integers(min_value=ts(2000, 1, 1), max_value=ts(2100, 1, 1) - 1)


@settings(max_examples=200, deadline=None)
@given(instant=INSTANTS, time_format=st.sampled_from(ALL))
def test_format_parse_contains(instant, time_format):
    name = time_format.format(instant)
    period = time_format.parse(name)
    assert period is not None
    assert period.contains(instant)
    assert period == time_format.period_of(instant)
    assert time_format.format(period.start) == name
    assert time_format.format(period.end - 1) == name
    assert time_format.format(period.end) != name


@settings(max_examples=200, deadline=None)
@given(instant=INSTANTS, time_format=st.sampled_from(ALL))
def test_periods_agree_with_pendulum(instant, time_format):
    moment = pendulum.from_timestamp(instant, tz="UTC")
    start = moment.start_of(time_format.unit)
    end = start.add(**{time_format.unit + "s": 1})
    assert time_format.period_of(instant) == Period(int(start.timestamp()), int(end.timestamp()))
    if time_format.unit == "week":
        year, week, _ = moment.isocalendar()
        assert time_format.format(instant) == f"{year:04d}.{week:02d}"
    else:
        assert time_format.format(instant) == moment.format(time_format.pattern)


@settings(max_examples=100, deadline=None)
@given(instant=INSTANTS, time_format=st.sampled_from(ALL))
def test_next_and_previous_are_adjacent_and_inverse(instant, time_format):
    period = time_format.period_of(instant)
    following = time_format.next_period(period)
    assert following.start == period.end
    assert following.end > following.start
    assert time_format.previous_period(following) == period
    assert time_format.previous_period(period).end == period.start
