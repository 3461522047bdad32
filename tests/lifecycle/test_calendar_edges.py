"""Calendar edges end to end through the commands: a leap day, a month end and a DST change with an
hourly archive, and the clock going back and forth across them (the year end and ISO week 53 are in
the 400-day simulation).

Days of events are written with samplerr's pipeline; then ``purge`` runs every few hours of
simulated time, through typer's CliRunner (``--now``), and the aliases are searched like Grafana
(daily pattern) and Kibana (``lc…-*``, daily buckets in a zone with DST) would.
"""

from __future__ import annotations

import pytest

from tests.lifecycle.support import (
    DAY,
    HOUR,
    ArchiveModel,
    LifecycleEnv,
    Sampling,
    existing_indices,
    iso,
    refresh,
    ts,
)

# No yearly archive here: aliases are made for every period of every archive from the oldest kept
# data on, so a yearly index would bring an hourly alias for every hour since 1 January.
MODELS = (
    ArchiveModel("YYYY.MM.DD.HH", 10, "6h"),
    ArchiveModel("YYYY.MM.DD", 60, "1d"),
    ArchiveModel("YYYY.MM", 600, "1 month"),
)
SAMPLING = Sampling(1, lambda day: 300)


@pytest.mark.parametrize(
    ("name", "first_day", "days", "zone"),
    [
        ("lcleap", "2028-02-27", 4, "Europe/Paris"),  # 29 February, then March
        ("lcdst", "2026-03-28", 3, "Europe/Paris"),  # the 23-hour day of the DST change
    ],
)
def test_stepping_every_few_hours_across_calendar_edges(es_url, tmp_path, name, first_day, days, zone):
    with LifecycleEnv(es_url, name, MODELS, SAMPLING, tmp_path) as env:
        start = ts(first_day)
        env.write(*(start + k * DAY for k in range(days)))
        end = start + days * DAY + 2 * DAY
        nows = list(range(start + 5 * HOUR, end, 7 * HOUR))
        nows[len(nows) // 2 : len(nows) // 2] = [nows[len(nows) // 2] - 2 * DAY]  # the clock goes back
        seen_deleted: set[str] = set()
        for now in nows:
            deleted = set(env.cli("purge", "--now", iso(now))["delete"])
            assert not deleted & env.model.kept_indices(now), iso(now)  # only what expired at this clock
            seen_deleted |= deleted
            found = set(existing_indices(env.connection, env.config))
            assert env.model.kept_indices(now) - seen_deleted <= found  # the rest of what is kept is there
            # and after each purge at a clock that has not gone back, exactly the unexpired indices remain
            if now == max(n for n in nows[: nows.index(now) + 1]):
                assert found == env.model.kept_indices(now), iso(now)
            assert env.cli("rotate", "--now", iso(now), "--dry-run") == {"actions": []}
            refresh(env.connection, env.config)
            env.check_grafana(max(start, now - 2 * DAY), now, HOUR, found, f"grafana {iso(now)}")
            env.check_kibana(start - DAY, now, zone, found, f"kibana {zone} {iso(now)}")


def test_leap_day_index_names_and_expiry(es_url, tmp_path):
    """The leap day has its own daily index and hourly ones, expiring at period end + ttl."""
    with LifecycleEnv(es_url, "lcleapnames", MODELS, SAMPLING, tmp_path) as env:
        env.write("2028-02-29")
        prefix = env.prefix
        found = set(existing_indices(env.connection, env.config))
        assert {prefix + "2028.02.29", prefix + "2028.02.29.23", prefix + "2028.02"} <= found
        assert len([name for name in found if name.startswith(prefix + "2028.02.29.")]) == 24
        status = env.cli("status", "--now", "2028-03-01T05:59:59Z")
        expiries = {
            index["index"]: index["expires"] for archive in status["archives"] for index in archive["indices"]
        }
        assert expiries[prefix + "2028.02.29"] == "2028-03-02T00:00:00Z"  # end of the day + 1 day
        assert expiries[prefix + "2028.02.29.23"] == "2028-03-01T06:00:00Z"  # end of the hour + 6 h
        assert expiries[prefix + "2028.02"] == "2028-04-01T00:00:00Z"  # end of February + 1 month
        decisions = {
            index["index"]: index["decision"]
            for archive in status["archives"]
            for index in archive["indices"]
        }
        assert decisions[prefix + "2028.02.29.23"] == "keep"
        assert decisions[prefix + "2028.02.29.22"] == "delete"
        assert env.model.kept_indices(ts("2028-03-01T05:59:59")) == {
            name for name, decision in decisions.items() if decision == "keep"
        }
