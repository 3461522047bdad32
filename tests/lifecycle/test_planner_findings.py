"""Planner behaviours seen while testing the lifecycle end to end, written down as expectations.

An index is known by its name and document count only, so the planner treats it as holding data over
its whole period. A weekly index whose ISO week starts in the previous year, created when the data
starts on a Thursday 1 January, then looks like the only copy of the last days of the previous year
(no monthly or yearly index exists there), and is kept as long as the yearly archive keeps those days:
10 years instead of 3 weeks. Knowing each index's data extent (min/max ``@timestamp``) would let the
planner see that nothing is there.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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


@pytest.mark.xfail(
    strict=True,
    reason="the planner cannot know that week 2026-W01 holds no data in 2025 (29-31 December): it keeps "
    "it as the only copy of what the yearly archive keeps, for 10 years",
)
def test_a_week_reaching_into_a_year_without_data_expires_with_its_archive():
    # data from Thursday 2026-01-01: week 2026-W01 runs from Monday 2025-12-29; no 2025 index exists
    indices = [
        IndexInfo(name, 10) for name in (".s-2026.w01", ".s-2026.w02", ".s-2026.01", ".s-2026.02", ".s-2026")
    ]
    plan = plan_lifecycle(ARCHIVES, ".s-", "s-", indices, [], now=ts("2026-03-10T00:00"))
    assert sorted(d.index for d in plan.deletions) == [".s-2026.w01", ".s-2026.w02"]
