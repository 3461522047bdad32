"""Calendar edges end to end through the commands: a leap day, a month end and a DST change with an
hourly archive, and the clock going back and forth across them (the year end and ISO week 53 are in
the 400-day simulation).

Days of events are written with samplerr's pipeline; then ``purge`` runs every few hours of
simulated time, through typer's CliRunner (``--now``), and the aliases are searched like Grafana
(daily pattern) and Kibana (``lc…-*``, daily buckets in a zone with DST) would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from typer.testing import CliRunner

from samplerr.adapters.es_connection import EsConnection
from samplerr.cli import build_app
from tests.lifecycle.support import (
    DAY,
    HOUR,
    ArchiveModel,
    Model,
    Sampling,
    bucket_bounds,
    check_buckets,
    config_file,
    existing_indices,
    fixed,
    grafana_daily_names,
    grafana_msearch,
    iso,
    kibana_search,
    make_config,
    refresh,
    ts,
    write_days,
)

ARCHIVES = """
[[archives]]
tf = "YYYY.MM.DD.HH"
step = "10s"
ttl = "6h"
cfuncs = ["avg"]

[[archives]]
tf = "YYYY.MM.DD"
step = "1m"
ttl = "1d"
cfuncs = ["avg"]

[[archives]]
tf = "YYYY.MM"
step = "10m"
ttl = "1 month"
cfuncs = ["avg"]
"""
# No yearly archive here: aliases are made for every period of every archive from the oldest kept
# data on, so a yearly index would bring an hourly alias for every hour since 1 January.
MODELS = (
    ArchiveModel("YYYY.MM.DD.HH", 10, "6h"),
    ArchiveModel("YYYY.MM.DD", 60, "1d"),
    ArchiveModel("YYYY.MM", 600, "1mo"),
)
SAMPLING = Sampling(1, lambda day: 300)
runner = CliRunner()


def local_day(zone: str):
    tz = ZoneInfo(zone)

    def width(low: int) -> int:
        start = datetime.fromtimestamp(low, tz=tz)
        following = datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=tz)
        return int(following.timestamp()) - low

    return width


@pytest.mark.parametrize(
    ("name", "first_day", "days", "zone"),
    [
        ("lcleap", "2028-02-27", 4, "Europe/Paris"),  # 29 February, then March
        ("lcdst", "2026-03-28", 3, "Europe/Paris"),  # the 23-hour day of the DST change
    ],
)
def test_stepping_every_few_hours_across_calendar_edges(es_url, tmp_path, name, first_day, days, zone):
    config = make_config(es_url, name, ARCHIVES)
    path = config_file(tmp_path, config, ARCHIVES)
    model = Model(MODELS, config.elasticsearch.index_prefix, SAMPLING)
    with EsConnection(config.elasticsearch) as connection:
        start = ts(first_day)
        day_starts = [start + k * DAY for k in range(days)]
        write_days(connection, config, SAMPLING, day_starts)
        model.written_days.update(day_starts)
        end = start + days * DAY + 2 * DAY
        nows = list(range(start + 5 * HOUR, end, 7 * HOUR))
        nows[len(nows) // 2 : len(nows) // 2] = [nows[len(nows) // 2] - 2 * DAY]  # the clock goes back
        seen_deleted: set[str] = set()
        for now in nows:
            result = runner.invoke(build_app(), ["purge", "--config", path, "--now", iso(now), "--json"])
            assert result.exit_code == 0, result.output
            deleted = set(orjson.loads(result.stdout)["delete"])
            assert not deleted & model.kept_indices(now), iso(now)  # only what expired at this clock
            seen_deleted |= deleted
            found = set(existing_indices(connection, config))
            assert model.kept_indices(now) - seen_deleted <= found  # the rest of what is kept is there
            # and after each purge at a clock that has not gone back, exactly the unexpired indices remain
            if now == max(n for n in nows[: nows.index(now) + 1]):
                assert found == model.kept_indices(now), iso(now)
            again = runner.invoke(
                build_app(), ["rotate", "--config", path, "--now", iso(now), "--dry-run", "--json"]
            )
            assert orjson.loads(again.stdout) == {"actions": []}
            refresh(connection, config)
            low = max(start, now - 2 * DAY)
            names = grafana_daily_names(config.elasticsearch.alias_prefix, low, now)
            buckets = grafana_msearch(connection, names, low, now, "1h")
            check_buckets(
                model, found, now, bucket_bounds(buckets, low, now, fixed(HOUR)), f"grafana {iso(now)}"
            )
            buckets = kibana_search(
                connection, config.elasticsearch.alias_prefix + "*", start - DAY, now, zone
            )
            bounded = bucket_bounds(buckets, start - DAY, now, local_day(zone))
            check_buckets(model, found, now, bounded, f"kibana {zone} {iso(now)}")


def test_leap_day_index_names_and_expiry(es_url, tmp_path):
    """The leap day has its own daily index and hourly ones, expiring at period end + ttl."""
    config = make_config(es_url, "lcleapnames", ARCHIVES)
    model = Model(MODELS, config.elasticsearch.index_prefix, SAMPLING)
    prefix = config.elasticsearch.index_prefix
    with EsConnection(config.elasticsearch) as connection:
        write_days(connection, config, SAMPLING, [ts("2028-02-29")])
        model.written_days.add(ts("2028-02-29"))
        found = set(existing_indices(connection, config))
        assert {prefix + "2028.02.29", prefix + "2028.02.29.23", prefix + "2028.02"} <= found
        assert len([name for name in found if name.startswith(prefix + "2028.02.29.")]) == 24
        path = config_file(tmp_path, config, ARCHIVES)
        report = runner.invoke(
            build_app(), ["status", "--config", path, "--now", "2028-03-01T05:59:59Z", "--json"]
        )
        status = orjson.loads(report.stdout)
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
        assert model.kept_indices(ts("2028-03-01T05:59:59")) == {
            name for name, decision in decisions.items() if decision == "keep"
        }
