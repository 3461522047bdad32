"""Durations: spellings, ambiguity, calendar arithmetic in UTC."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.core.durations import Duration, parse_duration


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20s", Duration(seconds=20)),
        ("1 second", Duration(seconds=1)),
        ("10m", Duration(seconds=600)),  # a bare m is minutes
        ("10 min", Duration(seconds=600)),
        ("10 minutes", Duration(seconds=600)),
        ("1h", Duration(seconds=3600)),
        ("1H", Duration(seconds=3600)),
        ("2d", Duration(seconds=172_800)),
        ("2 days", Duration(seconds=172_800)),
        ("1w", Duration(seconds=604_800)),
        ("2mo", Duration(months=2)),
        ("2 months", Duration(months=2)),
        ("1 month", Duration(months=1)),
        ("10y", Duration(months=120)),
        ("10 years", Duration(months=120)),
        (" 3h ", Duration(seconds=10_800)),
    ],
)
def test_valid_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1M", "ambiguous"),
        ("1 mon", "ambiguous"),
        ("1 Mon", "ambiguous"),
        ("500ms", "ambiguous"),
        ("0s", "positive"),
        ("0 months", "positive"),
        ("-1d", "positive"),
        ("1.5h", "not a duration"),
        ("1h30m", "not a duration"),
        ("h", "not a duration"),
        ("20", "not a duration"),
        ("", "not a duration"),
        ("2 fortnights", "unknown unit 'fortnights'"),
        ("\uff12d", "not a duration"),  # a fullwidth digit
        ("100000y", "longer than 1000 years"),
        ("999999999999d", "longer than 1000 years"),
    ],
)
def test_invalid_durations_say_why(text, says):
    with pytest.raises(ValueError, match=says) as info:
        parse_duration(text)
    if says in {"not a duration", "positive"} or says.startswith("unknown"):
        assert "s, m (minutes), h, d, w, mo (months) or y (years)" in str(info.value)


def test_ambiguous_m_names_both_readings():
    with pytest.raises(ValueError, match=r"'mo' \(months\) or 'm' \(minutes\)"):
        parse_duration("1M")


def test_fixed_durations_refuse_calendar_units():
    assert parse_duration("30s", fixed=True) == Duration(seconds=30)
    with pytest.raises(ValueError, match="months and years are not allowed here"):
        parse_duration("1mo", fixed=True)
    with pytest.raises(ValueError, match="months and years are not allowed here"):
        parse_duration("1y", fixed=True)


def test_zero_only_where_allowed():
    assert parse_duration("0s", fixed=True, allow_zero=True) == Duration()
    with pytest.raises(ValueError, match="positive"):
        parse_duration("-1s", allow_zero=True)
    with pytest.raises(ValueError, match="unknown unit"):
        parse_duration("0 parsecs", allow_zero=True)


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError, match="a duration is a string"):
        parse_duration(20)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "duration", "end"),
    [
        (ts(2026, 1, 31), "1mo", ts(2026, 2, 28)),
        (ts(2024, 1, 31), "1mo", ts(2024, 2, 29)),
        (ts(2024, 2, 29), "1y", ts(2025, 2, 28)),
        (ts(2026, 11, 1), "2 months", ts(2027, 1, 1)),
        (ts(2026, 1, 1), "10 years", ts(2036, 1, 1)),
        # DST changes do not exist in UTC: a day is 86,400 s on 2026-03-29 too
        (ts(2026, 3, 28, 12), "1d", ts(2026, 3, 29, 12)),
        (ts(2026, 3, 29, 0, 30), "1h", ts(2026, 3, 29, 1, 30)),
        (ts(2026, 10, 25, 0, 30), "2h", ts(2026, 10, 25, 2, 30)),
    ],
)
def test_add_to_is_calendar_arithmetic_in_utc(start, duration, end):
    assert parse_duration(duration).add_to(start) == end
    if parse_duration(duration).months == 0 or datetime.fromtimestamp(start, tz=UTC).day <= 28:
        assert parse_duration(duration).subtract_from(end) == start


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (Duration(seconds=20), "20s"),
        (Duration(seconds=600), "10m"),
        (Duration(seconds=3600), "1h"),
        (Duration(seconds=172_800), "2d"),
        (Duration(seconds=1_209_600), "2w"),
        (Duration(seconds=90), "90s"),
        (Duration(months=2), "2mo"),
        (Duration(months=120), "10y"),
        (Duration(months=18), "18mo"),
    ],
)
def test_str_reads_back(duration, text):
    assert str(duration) == text
    assert parse_duration(text) == duration


@settings(max_examples=150, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=500),
    unit=st.sampled_from(["s", "m", "h", "d", "w", "mo", "y", "seconds", "minutes", "months", "years"]),
    space=st.sampled_from(["", " "]),
)
def test_str_of_a_parsed_duration_reads_back_the_same(amount, unit, space):
    duration = parse_duration(f"{amount}{space}{unit}")
    assert parse_duration(str(duration)) == duration
    assert (duration.seconds == 0) != (duration.months == 0)
    assert duration.approx_seconds() > 0


@pytest.mark.parametrize(
    ("duration", "days"),
    [
        ("1mo", 31),
        ("2mo", 62),  # July + August, or December + January
        ("3mo", 92),
        ("1y", 366),
        ("4y", 1461),
        ("10y", 3653),  # at most three leap days in ten years
        ("100y", 36525),  # 2000..2100 holds 25 leap years (2100 is not one)
        ("2d", 2),
    ],
)
def test_max_seconds_is_the_longest_calendar_span(duration, days):
    assert parse_duration(duration).max_seconds() == days * 86_400


@settings(max_examples=150, deadline=None)
@given(
    months=st.integers(min_value=1, max_value=130),
    start=st.integers(min_value=ts(2000, 1, 1), max_value=ts(2399, 12, 31)),
)
def test_no_calendar_span_is_longer_than_max_seconds(months, start):
    duration = Duration(months=months)
    assert duration.add_to(start) - start <= duration.max_seconds()
