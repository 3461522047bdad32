"""Dates: formats, date math and histogram rounding, against the standard library."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.devserver import dates

MS = st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999)  # years 1..9999


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_civil_days_match_the_proleptic_gregorian_calendar(day):
    n = (day - date(1970, 1, 1)).days
    assert dates.days_from_civil(day.year, day.month, day.day) == n
    assert dates.civil_from_days(n) == (day.year, day.month, day.day)


@settings(max_examples=200, deadline=None)
@given(MS)
def test_default_format_prints_and_parses_back(ms):
    text = dates.DEFAULT.format(ms)
    assert dates.DEFAULT.parse(text) == ms
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    assert text == f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# hypothesis wants naive bounds when it attaches the time zone itself
NAIVE_BOUNDS = {"min_value": datetime(1900, 1, 1), "max_value": datetime(2200, 1, 1)}  # noqa: DTZ001


@settings(max_examples=200, deadline=None)
@given(st.datetimes(**NAIVE_BOUNDS, timezones=st.just(UTC)))
def test_iso_strings_parse_like_fromisoformat(moment):
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert dates.DEFAULT.parse(text) == expected
    assert dates.DEFAULT.fast_parse(text) == expected
    offset = moment.astimezone(ZoneInfo("America/New_York")).isoformat(timespec="seconds")
    assert dates.DEFAULT.parse(offset) == expected - expected % 1000


@pytest.mark.parametrize(
    ("text", "round_up", "expected"),
    [
        ("2026-11-22", False, "2026-11-22T00:00:00.000Z"),
        ("2026-11-22", True, "2026-11-22T23:59:59.999Z"),
        ("2026-11", True, "2026-11-30T23:59:59.999Z"),
        ("2026", True, "2026-12-31T23:59:59.999Z"),
        ("2026-11-22T10", True, "2026-11-22T10:59:59.999Z"),
        ("2026-11-22T10:31:40.5+01:00", False, "2026-11-22T09:31:40.500Z"),
        ("1795343500000", False, "2026-11-22T10:31:40.000Z"),
    ],
)
def test_partial_dates_round_up_like_elasticsearch(text, round_up, expected):
    assert dates.DEFAULT.format(dates.DEFAULT.parse(text, round_up=round_up)) == expected


@pytest.mark.parametrize(
    "text", ["2026-13-01", "2026-02-30", "2026-1-5", "22/11/2026", "yesterday", "2026-11-22 10:00"]
)
def test_strict_formats_refuse(text):
    with pytest.raises(dates.DateParseError):
        dates.DEFAULT.parse(text)


def test_lenient_and_custom_formats():
    assert dates.formatter("date_optional_time").parse("2026-1-5") == dates.DEFAULT.parse("2026-01-05")
    custom = dates.formatter("yyyy/MM/dd HH:mm:ss||epoch_second")
    ms = custom.parse("2026/11/22 10:31:40")
    assert custom.format(ms) == "2026/11/22 10:31:40"
    assert custom.parse("1795343500") == ms
    optional = dates.formatter("yyyy-MM-dd[ HH:mm]")
    assert optional.parse("2026-11-22") == dates.DEFAULT.parse("2026-11-22")
    assert optional.parse("2026-11-22 10:31") == dates.DEFAULT.parse("2026-11-22T10:31")
    assert dates.formatter("epoch_millis").format(-5) == "-5"


NOW = dates.DEFAULT.parse("2026-11-22T10:31:40.123Z")


@pytest.mark.parametrize(
    ("text", "round_up", "expected"),
    [
        ("now", False, "2026-11-22T10:31:40.123Z"),
        ("now-1d", False, "2026-11-21T10:31:40.123Z"),
        ("now/d", False, "2026-11-22T00:00:00.000Z"),
        ("now/d", True, "2026-11-22T23:59:59.999Z"),
        ("now-1M/M", False, "2026-10-01T00:00:00.000Z"),
        ("now+2h/h", False, "2026-11-22T12:00:00.000Z"),
        ("now/w", False, "2026-11-16T00:00:00.000Z"),
        ("2026-01-31||+1M", False, "2026-02-28T00:00:00.000Z"),
        ("2026-01-31||+1M/d", True, "2026-02-28T23:59:59.999Z"),
        ("now-90m/m", False, "2026-11-22T09:01:00.000Z"),
    ],
)
def test_date_math(text, round_up, expected):
    assert (
        dates.DEFAULT.format(dates.parse_date_math(text, dates.DEFAULT, NOW, round_up=round_up)) == expected
    )


def test_calendar_rounding_across_dst_in_paris():
    paris = dates.zone("Europe/Paris")
    day = dates.Rounding(None, "d", paris)
    start = day.round(dates.DEFAULT.parse("2026-03-29T12:00:00Z"))  # the spring-forward day
    assert dates.DEFAULT.format(start, paris) == "2026-03-29T00:00:00.000+01:00"
    assert day.next(start) - start == 23 * 3_600_000
    autumn = day.round(dates.DEFAULT.parse("2026-10-25T12:00:00Z"))
    assert day.next(autumn) - autumn == 25 * 3_600_000
    month = dates.Rounding(None, "M", dates.zone("UTC"))
    key = month.round(dates.DEFAULT.parse("2024-02-29T23:59:59.999Z"))
    assert dates.DEFAULT.format(month.next(key)) == "2024-03-01T00:00:00.000Z"
    quarter = dates.Rounding(None, "q", dates.zone("UTC"))
    assert (
        dates.DEFAULT.format(quarter.round(dates.DEFAULT.parse("2026-05-17"))) == "2026-04-01T00:00:00.000Z"
    )


@settings(max_examples=200, deadline=None)
@given(
    MS, st.sampled_from([1000, 60_000, 600_000, 3_600_000, 86_400_000]), st.integers(-3_600_000, 3_600_000)
)
def test_fixed_rounding_in_utc_is_floor_division(ms, size, offset):
    rounding = dates.Rounding(size, None, dates.zone("UTC"), offset)
    key = rounding.round(ms)
    assert key <= ms < rounding.next(key)
    assert (key - offset) % size == 0


def test_interval_parsing_errors():
    assert dates.parse_fixed_interval("90s") == 90_000
    with pytest.raises(Exception, match="failed to parse field \\[fixed_interval\\]"):
        dates.parse_fixed_interval("1M")
    with pytest.raises(Exception, match="calendar_interval"):
        dates.parse_calendar_interval("2d")
    with pytest.raises(Exception, match="Unknown time-zone ID"):
        dates.zone("Mars/Olympus")
