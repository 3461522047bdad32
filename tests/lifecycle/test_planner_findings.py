"""Planner behaviours seen while testing the lifecycle end to end, written down as expectations.

A weekly index whose ISO week starts in the previous year, created when the data starts on a Thursday
1 January, looks like the only copy of the last days of the previous year (no monthly or yearly index
exists there) when it is known by its name and document count only, and is kept as long as the yearly
archive keeps those days: 10 years instead of 3 weeks. Its data extent (min/max ``@timestamp``, as the
catalogue reads it) shows that nothing is there, and it expires with its archive.
"""

from __future__ import annotations

from datetime import UTC, datetime

from samplerr.core.config import Archive
from samplerr.core.durations import parse_duration
from samplerr.core.lifecycle import IndexInfo, plan_lifecycle
from samplerr.core.periods import parse_tf


def archive(tf: str, step: str, ttl: str) -> Archive:
    return Archive(parse_tf(tf), parse_duration(step).seconds, parse_duration(ttl), ("avg",))


ARCHIVES = (
    archive("YYYY.MM.DD", "20s", "2d"),
    archive("GGGG.[w]WW", "1m", "3w"),
    archive("YYYY.MM", "10m", "2mo"),
    archive("YYYY", "1h", "10y"),
)


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_an_expired_week_is_deleted_when_coarser_indices_hold_its_data():
    indices = [IndexInfo(name, 10) for name in (".s-2026.w02", ".s-2026.01", ".s-2026.02", ".s-2026")]
    plan = plan_lifecycle(ARCHIVES, ".s-", "s-", indices, [], now=ts("2026-03-10T00:00"))
    assert [d.index for d in plan.deletions] == [".s-2026.w02"]


def extent(first: str, last: str) -> dict[str, int]:
    return {"first_s": ts(first), "last_s": ts(last)}


# data from Thursday 2026-01-01: week 2026-W01 runs from Monday 2025-12-29; no 2025 index exists
FROM_THURSDAY = {
    ".s-2026.w01": extent("2026-01-01T00:00", "2026-01-04T23:59"),
    ".s-2026.w02": extent("2026-01-05T00:00", "2026-01-11T23:59"),
    ".s-2026.01": extent("2026-01-01T00:00", "2026-01-31T23:50"),
    ".s-2026.02": extent("2026-02-01T00:00", "2026-02-28T23:50"),
    ".s-2026": extent("2026-01-01T00:00", "2026-03-09T23:00"),
}


def test_a_week_reaching_into_a_year_without_data_expires_with_its_archive():
    indices = [IndexInfo(name, 10, **bounds) for name, bounds in FROM_THURSDAY.items()]
    plan = plan_lifecycle(ARCHIVES, ".s-", "s-", indices, [], now=ts("2026-03-10T00:00"))
    assert sorted(d.index for d in plan.deletions) == [".s-2026.w01", ".s-2026.w02"]
    (w01,) = (d for d in plan.deletions if d.index == ".s-2026.w01")
    assert "holds data in 2026-01-01T00:00:00Z .. 2026-01-05T00:00:00Z only" in w01.detail
    assert plan.problems == ()


def test_without_its_extent_the_week_is_kept_as_the_only_copy_of_the_last_days_of_2025():
    extents = {name: bounds for name, bounds in FROM_THURSDAY.items() if name != ".s-2026.w01"}
    indices = [IndexInfo(name, 10, **extents.get(name, {})) for name in FROM_THURSDAY]
    plan = plan_lifecycle(ARCHIVES, ".s-", "s-", indices, [], now=ts("2026-03-10T00:00"))
    assert [d.index for d in plan.deletions] == [".s-2026.w02"]
    (kept,) = (d for d in plan.kept if d.index == ".s-2026.w01")
    assert kept.reason == "only copy"
    assert "2025-12-29T00:00:00Z .. 2026-01-01T00:00:00Z" in kept.detail


def test_an_extent_outside_the_period_is_not_trusted():
    # a document of 2025-12-28 in week 2026-W01: the extent says nothing reliable about the index
    wrong = {**FROM_THURSDAY, ".s-2026.w01": extent("2025-12-28T12:00", "2026-01-04T23:59")}
    indices = [IndexInfo(name, 10, **bounds) for name, bounds in wrong.items()]
    plan = plan_lifecycle(ARCHIVES, ".s-", "s-", indices, [], now=ts("2026-03-10T00:00"))
    assert [d.index for d in plan.deletions] == [".s-2026.w02"]
    assert [d.reason for d in plan.kept if d.index == ".s-2026.w01"] == ["only copy"]
    (problem,) = plan.problems
    assert problem.startswith("index .s-2026.w01 reports data from 2025-12-28T12:00:00Z")
