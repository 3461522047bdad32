"""The service's job scheduler (APScheduler 3, UTC): runs, failures, metrics, the lifecycle's jobs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from samplerr.adapters.es_connection import EsConnection
from samplerr.configfile import load_config
from samplerr.metrics import ServiceMetrics
from samplerr.service_jobs import JobScheduler, ScheduledJob, lifecycle_jobs

NOW = datetime(2026, 11, 22, 0, 2, 30, tzinfo=UTC)


def test_a_run_is_counted_and_its_success_time_exported():
    metrics = ServiceMetrics()
    seen: list[datetime] = []
    job = ScheduledJob("rotate", "*/5 * * * *", seen.append)
    scheduler = JobScheduler([job], metrics, clock=lambda: NOW)
    assert scheduler.run_job(job) is True
    assert seen == [NOW]
    assert metrics.lifecycle_runs.labels("rotate", "ok")._value.get() == 1
    assert metrics.lifecycle_last_success.labels("rotate")._value.get() == NOW.timestamp()


def test_a_failing_job_is_logged_and_counted_and_does_not_raise(caplog):
    metrics = ServiceMetrics()

    def boom(now: datetime) -> None:
        raise RuntimeError("Elasticsearch said no")

    job = ScheduledJob("purge", "17 0 * * *", boom)
    scheduler = JobScheduler([job], metrics, clock=lambda: NOW)
    assert scheduler.run_job(job) is False
    assert metrics.lifecycle_runs.labels("purge", "failed")._value.get() == 1
    assert metrics.lifecycle_last_success.labels("purge")._value.get() == 0
    assert "job purge failed" in caplog.text
    assert "Elasticsearch said no" in caplog.text


def test_an_invalid_cron_expression_names_the_job():
    with pytest.raises(ValueError, match="job rotate: invalid cron expression"):
        JobScheduler([ScheduledJob("rotate", "every five minutes", print)], ServiceMetrics())


def test_a_job_marked_at_start_runs_when_the_scheduler_starts():
    ran = threading.Event()
    metrics = ServiceMetrics()
    scheduler = JobScheduler(
        [ScheduledJob("rotate", "0 0 1 1 *", lambda now: ran.set(), at_start=True)], metrics
    )
    scheduler.start()
    try:
        assert ran.wait(10)
    finally:
        scheduler.shutdown()


def test_the_lifecycle_provides_rotate_and_purge_on_the_configured_schedule():
    config = load_config(None, env={})
    with EsConnection(config.elasticsearch) as connection:
        jobs = {job.name: job for job in lifecycle_jobs(config, connection)}
    assert jobs["rotate"].cron == config.schedule.rotate
    assert jobs["purge"].cron == config.schedule.purge
    JobScheduler(list(jobs.values()), ServiceMetrics())  # every expression is valid for APScheduler
