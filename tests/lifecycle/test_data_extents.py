"""Data extents end to end: data that starts on Thursday 1 January with a weekly archive.

ISO week 2026-W01 runs from Monday 2025-12-29, so the weekly index ``.lcthu-2026.w01`` is the only
index whose period reaches into 2025 (no daily, monthly or yearly index of 2025 exists). Known by its
name alone it would look like the only copy of 29-31 December that the yearly archive keeps for 10
years; its data extent (read from Elasticsearch by ``status``/``purge``) shows it starts on
1 January, so ``purge`` deletes it when it expires, 3 weeks after its period.
"""

from __future__ import annotations

from typing import Any

from tests.lifecycle.support import (
    DAY,
    DAY_WEEK_MONTH_YEAR,
    LifecycleEnv,
    Sampling,
    aliases_by_index,
    existing_indices,
    iso,
    ts,
)

MODELS = DAY_WEEK_MONTH_YEAR
SAMPLING = Sampling(1, lambda day: 1800)
FIRST_DAY = ts("2026-01-01")  # a Thursday
EXPIRY = ts("2026-01-26")  # the end of week 2026-W01 (Monday 5 January) + 3 weeks


def index_status(status: dict[str, Any], name: str) -> dict[str, Any]:
    indices = [index for archive in status["archives"] for index in archive["indices"]]
    (found,) = (index for index in indices if index["index"] == name)
    return found


def test_purge_deletes_the_first_week_when_it_expires(es_url, tmp_path):
    with LifecycleEnv(es_url, "lcthu", MODELS, SAMPLING, tmp_path) as env:
        env.write(*(FIRST_DAY + k * DAY for k in range(11)))  # 1 to 11 January
        w01 = env.prefix + "2026.w01"
        assert not [name for name in existing_indices(env.connection, env.config) if "2025" in name]

        before = EXPIRY - 300
        status = env.cli("status", "--now", iso(before))
        week = index_status(status, w01)
        assert week["period"] == {"start": "2025-12-29T00:00:00Z", "end": "2026-01-05T00:00:00Z"}
        assert week["data"] == {"first": "2026-01-01T00:00:00Z", "last": "2026-01-04T23:30:00Z"}
        assert (week["decision"], week["reason"]) == ("keep", "unexpired")
        assert status["problems"] == []

        assert w01 not in env.cli("purge", "--now", iso(before))["delete"]
        assert w01 in existing_indices(env.connection, env.config)

        after = EXPIRY + 300
        week = index_status(env.cli("status", "--now", iso(after)), w01)
        assert (week["decision"], week["reason"]) == ("delete", "expired")
        assert week["detail"] == (
            "expired 2026-01-26T00:00:00Z (period end + 3w); "
            "holds data in 2026-01-01T00:00:00Z .. 2026-01-04T23:31:00Z only"
        )
        dry = env.cli("purge", "--now", iso(after), "--dry-run")
        assert w01 in dry["delete"]
        assert w01 in existing_indices(env.connection, env.config)  # a dry run deletes nothing

        assert w01 in env.cli("purge", "--now", iso(after))["delete"]
        found = existing_indices(env.connection, env.config)
        assert w01 not in found
        assert set(found) == env.model.kept_indices(after)
        assert not [alias for alias in aliases_by_index(env.connection, env.config) if "2025" in alias]
        assert env.cli("rotate", "--now", iso(after), "--dry-run") == {"actions": []}
        env.assert_served_correctly(after, days=30)  # 1-4 January now come from the monthly index
