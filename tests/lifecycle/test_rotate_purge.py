"""rotate, purge and status against the dev server: request bodies, reasons, idempotency, next periods.

Each test writes a few days of events with samplerr's pipeline into its own prefix, then runs the
commands (through typer's CliRunner, or the functions they call) at a chosen ``--now``.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from samplerr.adapters.es_catalogue import create_index
from samplerr.adapters.es_connection import EsConnection
from samplerr.cli import build_app
from samplerr.lifecycle_ops import purge, rotate
from samplerr.metrics import ServiceMetrics
from samplerr.scheduler import LifecycleJobs, lifecycle_jobs
from samplerr.service_jobs import JobScheduler
from tests.lifecycle.support import (
    DAY_MONTH_YEAR,
    LifecycleEnv,
    Sampling,
    aliases_by_index,
    existing_indices,
    ts,
)

SAMPLING = Sampling(2, lambda day: 1800)
NOW = "2026-11-22T12:00:00Z"

runner = CliRunner()


@pytest.fixture
def env(es_url, tmp_path, request):
    name = "lc" + request.node.name.replace("test_", "").replace("_", "")[:20].lower()
    with LifecycleEnv(es_url, name, DAY_MONTH_YEAR, SAMPLING, tmp_path) as environment:
        yield environment


def apply_body(state: dict[str, dict], body: dict) -> dict[str, dict]:
    """What the aliases become after ``body``, applied in order like Elasticsearch does."""
    out = {alias: dict(targets) for alias, targets in state.items()}
    for action in body["actions"]:
        ((op, spec),) = action.items()
        if op == "add":
            out.setdefault(spec["alias"], {})[spec["index"]] = spec.get("filter")
        else:
            out[spec["alias"]].pop(spec["index"])
            if not out[spec["alias"]]:
                del out[spec["alias"]]
    return out


def test_rotate_dry_run_prints_the_exact_body_and_changes_nothing(env):
    env.write("2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22")
    body = env.cli("rotate", "--now", NOW, "--dry-run")
    assert set(body) == {"actions"}
    assert body["actions"], "a fresh prefix needs aliases"
    assert all(set(action) == {"add"} for action in body["actions"])
    assert aliases_by_index(env.connection, env.config) == {}  # dry run: nothing changed

    assert env.cli("rotate", "--now", NOW) == body  # the same body, now applied
    assert aliases_by_index(env.connection, env.config) == apply_body({}, body)
    assert env.cli("rotate", "--now", NOW) == {"actions": []}  # a second run does nothing

    aliases = aliases_by_index(env.connection, env.config)
    # the days still kept at 20 s are served whole by their daily index
    assert aliases[env.alias + "2026.11.22"] == {env.prefix + "2026.11.22": None}
    assert aliases[env.alias + "2026.11.20"] == {env.prefix + "2026.11.20": None}
    # 11-18 and 11-19 expired (period end + 2 days): the monthly index serves them, filtered to the day
    assert set(aliases[env.alias + "2026.11.18"]) == {env.prefix + "2026.11"}
    # the monthly alias serves November from the monthly index except the daily indices' days
    month = aliases[env.alias + "2026.11"]
    assert set(month) == set(env.names("2026.11", "2026.11.20", "2026.11.21", "2026.11.22"))
    assert month[env.prefix + "2026.11.22"] is None  # a daily index serves its whole day
    assert month[env.prefix + "2026.11"] is not None
    env.assert_served_correctly(ts(NOW))


def test_rotate_table_shows_changes_then_nothing_to_do(env):
    env.write("2026-11-21", "2026-11-22")
    result = runner.invoke(
        build_app(), ["rotate", "--config", env.path, "--now", NOW], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert env.alias + "2026.11.22" in result.output
    assert "add" in result.output
    assert "one POST _aliases" in result.output
    again = runner.invoke(build_app(), ["rotate", "--config", env.path, "--now", NOW], env={"COLUMNS": "250"})
    assert again.exit_code == 0
    assert "nothing to do" in again.output


def test_rotate_moves_aliases_when_a_day_expires(env):
    env.write("2026-11-20", "2026-11-21", "2026-11-22")
    env.cli("rotate", "--now", NOW)
    tomorrow = "2026-11-23T00:05:00Z"  # 11-20 expires at 11-23 00:00
    body = env.cli("rotate", "--now", tomorrow, "--dry-run")
    changed = {
        (op, spec["alias"], spec["index"]) for action in body["actions"] for op, spec in action.items()
    }
    assert ("remove", env.alias + "2026.11.20", env.prefix + "2026.11.20") in changed
    assert ("add", env.alias + "2026.11.20", env.prefix + "2026.11") in changed
    before = aliases_by_index(env.connection, env.config)
    env.cli("rotate", "--now", tomorrow)
    assert aliases_by_index(env.connection, env.config) == apply_body(before, body)
    env.assert_served_correctly(ts(tomorrow))


def test_purge_lists_every_index_with_its_reason_then_deletes_only_what_it_may(env):
    env.write("2025-06-01", "2026-08-15", *(f"2026-11-{day}" for day in range(15, 23)))
    # the coarser copies of 2025-06-01 are gone: its expired daily index is the only copy the yearly
    # archive (10 years) still keeps
    env.delete("2025.06", "2025")
    create_index(env.connection, env.prefix + "2026.11.23")  # the next period, created ahead
    create_index(env.connection, env.prefix + "junk")
    create_index(env.connection, env.prefix + "2026.11.22-old")

    report = env.cli("purge", "--now", NOW, "--dry-run")
    expired = env.names("2026.08", "2026.08.15", *(f"2026.11.{day}" for day in range(15, 20)))
    assert sorted(report["delete"]) == sorted(expired)
    reasons = {entry["index"]: entry["reason"] for entry in report["keep"]}
    assert reasons == {
        env.prefix + "2025.06.01": "only copy",
        env.prefix + "2026.11.20": "unexpired",
        env.prefix + "2026.11.21": "unexpired",
        env.prefix + "2026.11.22": "current period",
        env.prefix + "2026.11.23": "future period",
        env.prefix + "2026.11": "current period",
        env.prefix + "2026": "current period",
        env.prefix + "junk": "unknown name",
        env.prefix + "2026.11.22-old": "unknown name",
    }
    only = next(entry for entry in report["keep"] if entry["index"] == env.prefix + "2025.06.01")
    assert "YYYY" in only["detail"]
    assert set(existing_indices(env.connection, env.config)) >= set(expired)  # dry run deleted nothing

    done = env.cli("purge", "--now", NOW)
    assert sorted(done["delete"]) == sorted(expired)
    left = set(existing_indices(env.connection, env.config))
    assert left == set(reasons)
    assert env.cli("purge", "--now", NOW)["delete"] == []  # nothing more the second time
    env.assert_served_correctly(ts(NOW), days=20)
    # the only copy is served: its day is searchable through its daily alias
    assert env.prefix + "2025.06.01" in aliases_by_index(env.connection, env.config)[env.alias + "2025.06.01"]


def test_purge_table_says_delete_and_keep_with_reasons(env):
    env.write("2026-11-15", "2026-11-22")
    result = runner.invoke(
        build_app(), ["purge", "--config", env.path, "--now", NOW, "--dry-run"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(env.prefix + "2026.11.15" in line and "delete" in line and "expired" in line for line in lines)
    assert any(
        env.prefix + "2026.11.22" in line and "keep" in line and "current period" in line for line in lines
    )
    assert "would delete 1 indices" in result.output


def test_status_reports_archives_unknown_indices_and_coverage(env, tmp_path):
    env.write("2026-10-03", "2026-11-20", "2026-11-21", "2026-11-22")
    create_index(env.connection, env.prefix + "2026.11.22-old")
    env.cli("rotate", "--now", NOW)
    status = env.cli("status", "--now", NOW)
    daily = status["archives"][0]
    assert [index["index"] for index in daily["indices"]] == env.names(
        "2026.10.03", "2026.11.20", "2026.11.21", "2026.11.22"
    )
    first = daily["indices"][0]
    assert first["decision"] == "delete" and first["reason"] == "expired"
    assert first["expires"] == "2026-10-06T00:00:00Z"
    assert first["docs"] == 2 * 48
    assert daily["indices"][-1]["serves"] == [
        {"start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    ]
    assert status["unknown"][0]["index"] == env.prefix + "2026.11.22-old"
    assert status["aliases"]["pending_actions"] == 0
    coverage = status["coverage"]
    assert coverage[0]["start"] == "2026-01-01T00:00:00Z"  # the yearly index's period
    assert coverage[-1]["end"] == "2026-11-22T12:00:00Z"  # up to now, not to the end of the period
    for left, right in itertools.pairwise(coverage):
        assert left["end"] == right["start"]  # contiguous, gaps included as archive None
    served = [
        (segment["start"][:10], segment["archive"]) for segment in coverage if segment["archive"] is not None
    ]
    assert ("2026-11-20", 0) in served and ("2026-11-01", 1) in served

    plot = tmp_path / "coverage.svg"
    result = runner.invoke(
        build_app(),
        ["status", "--config", env.path, "--now", NOW, "--plot", str(plot)],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    for words in ("archive 0", "archive 2", "coverage", env.prefix + "2026.11.22-old", "1d", "now"):
        assert words in result.output
    svg = ET.fromstring(plot.read_text(encoding="utf-8"))
    texts = " ".join(element.text or "" for element in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "YYYY.MM.DD" in texts and "served" in texts
    titles = [element.text or "" for element in svg.iter("{http://www.w3.org/2000/svg}title")]
    assert any(env.prefix + "2026.10.03" in title and "delete" in title for title in titles)


def test_rotate_job_creates_the_next_periods_ahead_of_midnight(env):
    env.write("2026-11-30")
    clock = {"now": float(ts("2026-11-30T22:50:00Z"))}
    jobs = LifecycleJobs(
        env.config, lambda: EsConnection(env.config.elasticsearch), clock=lambda: clock["now"]
    )
    assert jobs.rotate()
    assert env.prefix + "2026.12.01" not in existing_indices(
        env.connection, env.config
    )  # more than 1 h ahead
    clock["now"] = float(ts("2026-11-30T23:05:00Z"))
    assert jobs.rotate()
    found = existing_indices(env.connection, env.config)
    assert {env.prefix + "2026.12.01", env.prefix + "2026.12"} <= set(found)
    assert env.prefix + "2027" not in found  # the year ends a month later
    aliases = aliases_by_index(env.connection, env.config)
    # at midnight the new day already has its alias on its own (empty) index
    assert aliases[env.alias + "2026.12.01"] == {env.prefix + "2026.12.01": None}
    clock["now"] = float(ts("2026-12-01T00:01:00Z"))
    assert jobs.rotate()
    assert jobs.purge()
    assert rotate(env.connection, env.config, ts("2026-12-01T00:01:00Z"), dry_run=True).plan.actions == ()


def test_clock_going_backwards_between_runs(env):
    env.write("2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22")
    later, earlier = ts("2026-11-24T01:00:00Z"), ts("2026-11-21T01:00:00Z")
    purge(env.connection, env.config, later)
    after_later = set(existing_indices(env.connection, env.config))
    assert env.prefix + "2026.11.21" not in after_later  # expired at 11-24
    body = env.cli("rotate", "--now", "2026-11-21T01:00:00Z", "--dry-run")
    env.cli("purge", "--now", "2026-11-21T01:00:00Z")
    assert set(existing_indices(env.connection, env.config)) == after_later  # nothing deleted, nothing back
    assert env.cli("rotate", "--now", "2026-11-21T01:00:00Z") == {"actions": []}
    assert body["actions"]  # the earlier clock did want other aliases (days 11-22 .. are the future then)
    env.assert_served_correctly(earlier, days=5)
    env.cli("rotate", "--now", "2026-11-24T01:00:00Z")
    env.assert_served_correctly(later, days=5)


def test_service_jobs_rotate_and_purge_through_the_job_scheduler(env):
    """samplerr run's JobScheduler runs the lifecycle's jobs on the service's shared connection."""
    env.write("2026-11-15", "2026-11-22")
    moment = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    metrics = ServiceMetrics()
    jobs = {job.name: job for job in lifecycle_jobs(env.config, env.connection)}
    scheduler = JobScheduler(list(jobs.values()), metrics, clock=lambda: moment)
    assert scheduler.run_job(jobs["rotate"])
    assert scheduler.run_job(jobs["purge"])
    found = set(existing_indices(env.connection, env.config))
    assert env.prefix + "2026.11.23" in found  # created ahead of midnight
    assert env.prefix + "2026.11.15" not in found  # purged
    assert rotate(env.connection, env.config, int(moment.timestamp()), dry_run=True).plan.actions == ()
    env.connection.request("GET", "/")  # the shared connection is still open
    assert b'samplerr_lifecycle_runs_total{job="purge",result="ok"} 1.0' in metrics.render()
