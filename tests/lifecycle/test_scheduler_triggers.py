"""When the lifecycle jobs fire (UTC, as tables of datetimes); a failing job never stops the scheduler."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from samplerr.adapters.es_connection import EsConnection
from samplerr.configfile import parse_text
from samplerr.core.config import Config, ElasticsearchSettings, ScheduleSettings
from samplerr.scheduler import (
    LifecycleJobs,
    build_scheduler,
    lifecycle_jobs,
    purge_trigger,
    rotate_trigger,
)

ARCHIVES = """
[[archives]]
tf = "YYYY.MM.DD"
step = "20s"
ttl = "2d"
[[archives]]
tf = "YYYY.MM"
step = "10m"
ttl = "2 months"
"""


def config(**schedule: str) -> Config:
    base = parse_text(ARCHIVES, "test", {})
    unreachable = ElasticsearchSettings(hosts=("http://127.0.0.1:9",), request_timeout=2.0)
    return dataclasses.replace(
        base, elasticsearch=unreachable, schedule=dataclasses.replace(ScheduleSettings(), **schedule)
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(trigger, start: str, count: int) -> list[str]:
    out, previous, now = [], None, utc(start)
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        out.append(fire.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"))
        previous, now = fire, fire + timedelta(microseconds=1)
    return out


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # every 5 minutes, plus 00:01 just after each UTC midnight
        (
            "2026-11-22T23:52:00",
            [
                "2026-11-22 23:55:00",
                "2026-11-23 00:00:00",
                "2026-11-23 00:01:00",
                "2026-11-23 00:05:00",
                "2026-11-23 00:10:00",
            ],
        ),
        # DST in Europe (29 March 2026) or the US changes nothing: the schedule is UTC
        ("2026-03-29T00:56:00", ["2026-03-29 01:00:00", "2026-03-29 01:05:00", "2026-03-29 01:10:00"]),
        ("2026-10-25T00:58:00", ["2026-10-25 01:00:00", "2026-10-25 01:05:00"]),
        # month end, leap day, year end
        ("2028-02-29T23:58:00", ["2028-03-01 00:00:00", "2028-03-01 00:01:00", "2028-03-01 00:05:00"]),
        ("2026-12-31T23:59:30", ["2027-01-01 00:00:00", "2027-01-01 00:01:00"]),
    ],
)
def test_rotate_fires_every_five_minutes_and_just_after_midnight(start, expected):
    assert fires(rotate_trigger(config()), start, len(expected)) == expected


@pytest.mark.parametrize(
    ("schedule", "start", "expected"),
    [
        ({}, "2026-11-22T12:00:00", ["2026-11-23 00:17:00", "2026-11-24 00:17:00"]),
        ({"purge": "30 3 * * sun"}, "2026-11-22T12:00:00", ["2026-11-29 03:30:00", "2026-12-06 03:30:00"]),
        ({"purge": "0 1 1 * *"}, "2026-11-22T12:00:00", ["2026-12-01 01:00:00", "2027-01-01 01:00:00"]),
    ],
)
def test_purge_follows_its_cron_in_utc(schedule, start, expected):
    assert fires(purge_trigger(config(**schedule)), start, len(expected)) == expected


def test_configured_rotate_cron_keeps_the_midnight_run():
    assert fires(rotate_trigger(config(rotate="0 * * * *")), "2026-11-22T22:30:00", 4) == [
        "2026-11-22 23:00:00",
        "2026-11-23 00:00:00",
        "2026-11-23 00:01:00",
        "2026-11-23 01:00:00",
    ]


def test_scheduler_jobs_never_overlap_themselves_and_coalesce():
    scheduler = build_scheduler(config(), lambda: EsConnection(config().elasticsearch), rotate_at_start=False)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"rotate", "purge"}
        for job in jobs.values():
            assert job.max_instances == 1
            assert job.coalesce is True
            assert job.misfire_grace_time > 0
        assert str(scheduler.timezone) == "UTC"
    finally:
        scheduler.shutdown(wait=False)


def test_disabled_schedule_schedules_nothing():
    disabled = dataclasses.replace(config(), schedule=ScheduleSettings(enabled=False))
    scheduler = build_scheduler(disabled, lambda: EsConnection(disabled.elasticsearch))
    scheduler.start(paused=True)
    try:
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown(wait=False)


def test_failing_jobs_are_reported_and_the_scheduler_keeps_running():
    """Elasticsearch is unreachable: each run fails, is reported, and the next run happens anyway."""
    cfg = config()
    results: list[tuple[str, str]] = []
    done = threading.Event()

    def listener(job: str, result: str, when: float) -> None:
        results.append((job, result))
        if len(results) >= 3:
            done.set()

    scheduler = build_scheduler(
        cfg, lambda: EsConnection(cfg.elasticsearch), on_result=listener, rotate_at_start=True
    )
    scheduler.start()
    try:
        scheduler.get_job("purge").modify(next_run_time=datetime.now(UTC))
        deadline = datetime.now(UTC) + timedelta(seconds=30)
        while len(results) < 2 and datetime.now(UTC) < deadline:
            done.wait(0.05)
        scheduler.get_job("rotate").modify(next_run_time=datetime.now(UTC))
        assert done.wait(30), results
        assert scheduler.running
        assert sorted(set(results)) == [("purge", "failed"), ("rotate", "failed")]
        assert results.count(("rotate", "failed")) >= 2
    finally:
        scheduler.shutdown(wait=False)


def test_a_job_that_raises_anything_returns_false():
    def broken() -> EsConnection:
        raise RuntimeError("boom")

    reported: list[str] = []
    jobs = LifecycleJobs(
        config(), broken, clock=lambda: 0.0, on_result=lambda job, result, when: reported.append(result)
    )
    assert jobs.rotate() is False
    assert jobs.purge() is False
    assert reported == ["failed", "failed"]


def test_service_hook_lists_rotate_midnight_and_purge():
    cfg = config(purge="5 2 * * *")
    connection = EsConnection(cfg.elasticsearch)
    try:
        jobs = lifecycle_jobs(cfg, connection)
    finally:
        connection.close()
    assert [(job.name, job.cron) for job in jobs] == [
        ("rotate", "*/5 * * * *"),
        ("rotate-midnight", "1 0 * * *"),
        ("purge", "5 2 * * *"),
    ]
