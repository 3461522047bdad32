"""The pure cron check accepts only what APScheduler 3's from_crontab accepts, and means what it says."""

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.core.cron import check_cron


def apscheduler_accepts(expression: str) -> bool:
    try:
        CronTrigger.from_crontab(expression, timezone="UTC")
    except ValueError:
        return False
    return True


VALID = [
    "*/5 * * * *",
    "17 0 * * *",
    "0 0 * * sun",
    "0 0 * * mon-fri",
    "0 0 * * SAT,sun",
    "0,30 */2 1-15 * *",
    "5/15 * * * *",
    "0 0 1 jan-jun *",
    "0 0 1 dec *",
    "59 23 31 12 *",
    "0-59/10 0-23/6 * * *",
]
INVALID = [
    ("*/5 * * *", "has 4 fields"),
    ("* * * * * *", "has 6 fields"),
    ("", "has 0 fields"),
    ("60 * * * *", "0-59"),
    ("* 24 * * *", "0-23"),
    ("* * 0 * *", "1-31"),
    ("* * * 13 *", "1-12"),
    ("*/0 * * * *", "step"),
    ("*/60 * * * *", "step"),
    ("10-5 * * * *", "runs backwards"),
    ("* * * * 0", "0 = Monday"),
    ("* * * * 1-5", "write names"),
    ("* * * * sun-mon", "runs backwards"),
    ("* * * * funday", "is not a name"),
    ("* * * foo *", "is not a name"),
    ("* * * jan/2 *", "not a valid expression"),
    ("1,,2 * * * *", "not a valid expression"),
    ("? * * * *", "not a valid expression"),
    ("\uff15 * * * *", "not a valid expression"),  # a fullwidth digit five
]


@pytest.mark.parametrize("expression", VALID)
def test_valid_expressions_are_valid_for_apscheduler_too(expression):
    check_cron(expression)
    assert apscheduler_accepts(expression)


@pytest.mark.parametrize(("expression", "says"), INVALID)
def test_invalid_expressions_say_why(expression, says):
    with pytest.raises(ValueError, match=says):
        check_cron(expression)


def test_numbered_weekdays_are_refused_because_apscheduler_reads_0_as_monday():
    trigger = CronTrigger.from_crontab("0 0 * * 0", timezone="UTC")
    assert "mon" in str(trigger)  # the trap this check keeps users out of
    with pytest.raises(ValueError, match="0 = Sunday"):
        check_cron("0 0 * * 0")


ITEM = st.one_of(
    st.just("*"),
    st.integers(0, 70).map(str),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(lambda r: f"{r[0]}-{r[1]}"),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(lambda r: f"{r[0]}/{r[1]}"),
    st.integers(0, 70).map(lambda s: f"*/{s}"),
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)).map(
        lambda r: f"{r[0]}-{r[1]}/{r[2]}"
    ),
    st.sampled_from(["mon", "sun", "fri-sun", "jan", "feb-dec", "last", "x"]),
)
FIELD = st.lists(ITEM, min_size=1, max_size=3).map(",".join)
WEEKDAY_FIELD = st.one_of(FIELD, st.sampled_from(["*", "mon", "sat,sun", "mon-fri", "tue-thu,sun", "*/2"]))


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(FIELD, min_size=4, max_size=4), weekday=WEEKDAY_FIELD)
def test_whatever_the_check_accepts_apscheduler_accepts(fields, weekday):
    expression = " ".join([*fields, weekday])
    try:
        check_cron(expression)
    except ValueError:
        return
    assert apscheduler_accepts(expression), expression
