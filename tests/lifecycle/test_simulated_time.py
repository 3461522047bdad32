"""400 days of metrics through samplerr, one simulated day at a time, against the dev server over HTTP.

Each day the day's events are consolidated by samplerr's pipeline (the first day by the real
``samplerr downsample --es``) and written to the dev server; then ``purge`` (which rotates first)
runs at ``--now`` = the next day 00:05 — in-process for most days, through the real CLI on a few.
After each step the aliases are searched the way Grafana does (daily pattern ``[lcsim-]YYYY.MM.DD``
resolved to names over the last 7, 90 and 400 days, ``_msearch`` with ``ignore_unavailable`` and a
``date_histogram``) and the way Kibana does (``lcsim-*``, daily buckets in a browser time zone across
DST changes), and every bucket must hold exactly the documents of the finest archive kept at each
instant: no duplicate, no gap, nothing coarser than needed. The indices left must be exactly those
whose period has not expired (period end + ttl), within the round-robin footprint.

The calendar of the run: 2026-01-05 to 2027-02-14 crosses the DST changes of Europe and the US,
every month end, the year end, and ISO week 53 of 2026 (the weekly archive ``GGGG.[w]WW``). Once a
day the clock is also sent three days back. After the data stops, the clock moves on for ten weeks
and the coarser archives take over as the finer ones expire.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from samplerr.commands.check import archive_footprint
from samplerr.lifecycle_ops import purge, rotate
from tests.lifecycle.support import (
    DAY,
    DAY_WEEK_MONTH_YEAR,
    HOUR,
    LifecycleEnv,
    Sampling,
    aliases_by_index,
    existing_indices,
    iso,
    refresh,
)

MODELS = DAY_WEEK_MONTH_YEAR
FIRST_DAY = date(2026, 1, 5)  # a Monday, so no weekly index reaches into 2025, where no index is
DAYS = 406  # to Sunday 2027-02-14, so the last weekly index ends with the data
SERIES = 2
# Days checked whatever the profile, with the browser time zone Kibana buckets in: the DST changes
# of the US and Europe (23 and 25 hour days), month and year ends, ISO week 53 (None: Grafana only).
SPECIAL = {
    date(2026, 1, 31): None,
    date(2026, 2, 28): None,
    date(2026, 3, 8): "America/New_York",
    date(2026, 3, 29): "Europe/Paris",
    date(2026, 3, 31): None,
    date(2026, 6, 30): None,
    date(2026, 10, 25): "Europe/Paris",
    date(2026, 11, 1): "America/New_York",
    date(2026, 12, 28): None,
    date(2026, 12, 31): None,
    date(2027, 1, 3): "Asia/Kolkata",
    date(2027, 1, 31): None,
}
CLI_DAYS = {date(2026, 3, 29)}  # rotate and purge through the real CLI (subprocess)
BACKWARDS_DAYS = {date(2026, 6, 15), date(2026, 10, 25)}  # the clock goes back three days after these


def epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class Profile:
    """How dense the data is and how often the searches run (searches cost more than the steps)."""

    name: str
    fine_days: int  # the last days sampled every 20 s
    medium_days: int  # before those, every 10 min; earlier every hour
    week_every: int  # Grafana over the last 7 days every this many days (and on the special days)
    quarter_every: int  # Grafana over the last 90 days every this many days
    kibana_every: int  # Kibana over the last 7 days every this many days (and on the special days)
    year_days: tuple[int, ...]  # days (by number) with the 400-day searches, besides the last one


FAST = Profile(
    "fast", fine_days=3, medium_days=30, week_every=20, quarter_every=50, kibana_every=1000, year_days=(200,)
)
SLOW = Profile(
    "slow",
    fine_days=10,
    medium_days=120,
    week_every=1,
    quarter_every=7,
    kibana_every=7,
    year_days=(100, 200, 300),
)


def sampling_for(profile: Profile) -> Sampling:
    last = epoch(FIRST_DAY) + (DAYS - 1) * DAY

    def every(day: int) -> int:
        if day > last - profile.fine_days * DAY:
            return 20
        if day > last - (profile.fine_days + profile.medium_days) * DAY:
            return 600
        return 3600

    return Sampling(SERIES, every)


class Simulation(LifecycleEnv):
    def __init__(self, url: str, name: str, profile: Profile, tmp_path) -> None:
        super().__init__(url, name, MODELS, sampling_for(profile), tmp_path)
        self.profile = profile
        self.tmp_path = tmp_path
        self.max_indices = [0] * len(MODELS)

    # -- writing ------------------------------------------------------------------------------

    def write_with_cli(self, day: int) -> None:
        path = self.tmp_path / "events.jsonl"
        path.write_bytes(self.model.sampling.lines(day))
        self.run_cli("downsample", "--es", self.config.elasticsearch.hosts[0], "--input", str(path), "--json")
        self.model.written_days.add(day)

    # -- lifecycle ---------------------------------------------------------------------------

    def run_cli(self, *args: str) -> str:
        completed = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return completed.stdout

    def purge_at(self, now: int, how: str) -> None:
        if how == "subprocess":
            self.run_cli("purge", "--now", iso(now), "--json")
            # the rotation of purge left exactly the aliases rotate wants: nothing more to send
            assert orjson.loads(self.run_cli("rotate", "--now", iso(now), "--dry-run", "--json")) == {
                "actions": []
            }
        elif how == "clirunner":
            self.cli("purge", "--now", iso(now))
        else:
            purge(self.connection, self.config, now)

    # -- checks --------------------------------------------------------------------------------

    def check_storage(self, now: int) -> set[str]:
        found = existing_indices(self.connection, self.config)
        names = set(found)
        assert names == self.model.kept_indices(now), (
            f"at {iso(now)}: extra {sorted(names - self.model.kept_indices(now))}, "
            f"missing {sorted(self.model.kept_indices(now) - names)}"
        )
        for number, archive in enumerate(self.config.archives):
            mine = [name for name in names if self.model.archive_of(name) == number]
            footprint = archive_footprint(number, archive, "samplerr")
            docs = sum(found[name] for name in mine)
            assert docs <= footprint.docs_per_series * SERIES, (number, docs)
            self.max_indices[number] = max(self.max_indices[number], len(mine))
        return names

    def check_idempotent(self, now: int) -> None:
        assert rotate(self.connection, self.config, now, dry_run=True).plan.actions == ()

    def grafana(self, now: int, days: int, width: int, existing: set[str]) -> None:
        what = f"grafana {days}d at {iso(now)}"
        assert self.check_grafana(now - days * DAY, now, width, existing, what), "no buckets"

    def kibana(self, now: int, days: int, zone: str, existing: set[str]) -> None:
        start = now - days * DAY
        bounded = self.check_kibana(start, now, zone, existing, f"kibana {zone} {days}d at {iso(now)}")
        want = self.model.expected(start, now + 1, existing, now).count
        assert sum(bucket["doc_count"] for _, _, bucket in bounded) == want

    def searches(
        self,
        now: int,
        existing: set[str],
        *,
        quarter: bool = False,
        zone: str | None = None,
        year: bool = False,
    ) -> None:
        """Grafana over the last week (always), quarter, year; Kibana in ``zone`` over the last week."""
        refresh(self.connection, self.config)
        self.check_idempotent(now)
        self.grafana(now, 7, HOUR, existing)
        if quarter:
            self.grafana(now, 90, 6 * HOUR, existing)
        if zone is not None:
            self.kibana(now, 7, zone, existing)
        if year:
            self.grafana(now, 400, DAY, existing)
            self.kibana(now, 400, "America/New_York", existing)
            self.check_aliases_partition(existing)

    def check_aliases_partition(self, existing: set[str]) -> None:
        """Every alias targets only existing indices, and each daily alias names its own day."""
        aliases = aliases_by_index(self.connection, self.config)
        for alias, targets in aliases.items():
            assert alias.startswith(self.alias)
            assert set(targets) <= existing, alias


def run_simulation(url: str, name: str, profile: Profile, tmp_path) -> Simulation:
    sim = Simulation(url, name, profile, tmp_path)
    try:
        days = [FIRST_DAY + timedelta(days=i) for i in range(DAYS)]
        for i, day in enumerate(days):
            start = epoch(day)
            if i == 0:
                sim.write_with_cli(start)
            else:
                assert sim.write(start) > 0
            now = start + DAY + 300
            how = "subprocess" if day in CLI_DAYS else ("clirunner" if i % 50 == 1 else "inprocess")
            sim.purge_at(now, how)
            existing = sim.check_storage(now)
            last = i == len(days) - 1
            zone = SPECIAL.get(day) or ("UTC" if i % profile.kibana_every == 0 else None)
            if i % profile.week_every == 0 or day in SPECIAL or i >= len(days) - 3:
                sim.searches(
                    now,
                    existing,
                    quarter=i % profile.quarter_every == 0 or last,
                    zone=zone,
                    year=i in profile.year_days or last,
                )
            if day in BACKWARDS_DAYS:
                earlier = now - 3 * DAY
                sim.purge_at(earlier, "subprocess" if day == date(2026, 10, 25) else "inprocess")
                # nothing deleted, nothing back
                assert set(existing_indices(sim.connection, sim.config)) == existing
                sim.searches(earlier, existing, zone=SPECIAL.get(day))
                sim.purge_at(now, "inprocess")
                sim.searches(now, existing)
        # the data stops; the finer archives expire and the coarser ones take over, gap-free
        end = epoch(days[-1]) + DAY + 300
        for week in range(1, 11):
            now = end + week * 7 * DAY
            sim.purge_at(now, "inprocess")
            existing = sim.check_storage(now)
            sim.searches(now, existing, quarter=week % 3 == 0, year=week == 10)
        return sim
    finally:
        sim.close()


@pytest.mark.timeout(900)
def test_four_hundred_days_day_by_day(es_url, tmp_path):
    sim = run_simulation(es_url, "lcsim", FAST, tmp_path)
    # round-robin: never more than the retention allows at once (period + ttl), whatever the history
    assert sim.max_indices[0] <= 4  # daily, 2 days: the day just ended and the two before (+ today)
    assert sim.max_indices[1] <= 5  # weekly, 3 weeks
    assert sim.max_indices[2] <= 4  # monthly, 2 months
    assert sim.max_indices[3] == 2  # yearly: 2026, 2027


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_four_hundred_days_dense_every_day_checked(es_url, tmp_path):
    run_simulation(es_url, "lcsimslow", SLOW, tmp_path)
