"""Periodic jobs inside ``samplerr run`` (the lifecycle's rotate and purge), on APScheduler 3.

A job is a :class:`ScheduledJob`: a name, a 5-field crontab expression evaluated in UTC, and a
function called with the UTC time of the run. :class:`JobScheduler` runs them in APScheduler's
``BackgroundScheduler`` (its own threads) with ``coalesce`` (runs missed while the process was busy or
asleep collapse into one), ``max_instances = 1`` (a job never overlaps itself) and a misfire grace of
a minute. A job that raises is logged and counted, and runs again at its next time: it never stops the
service. Runs and the time of each job's last success are exported as metrics
(``samplerr_lifecycle_runs_total{job,result}``, ``samplerr_lifecycle_last_success_timestamp_seconds``).

The lifecycle provides its jobs through :func:`lifecycle_jobs`, which looks for a function
``lifecycle_jobs(config, connection) -> list[ScheduledJob]`` in the module named by
:data:`LIFECYCLE_MODULE`; without it the service runs without lifecycle jobs and says so.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from samplerr.metrics import ServiceMetrics

if TYPE_CHECKING:
    from samplerr.adapters.es_connection import EsConnection
    from samplerr.core.config import Config

log = logging.getLogger(__name__)

LIFECYCLE_MODULE = "samplerr.scheduler"
MISFIRE_GRACE = 60  # seconds


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """``run(now)`` at the times of ``cron`` (minute hour day month weekday, UTC; weekdays by name),
    and once as soon as the scheduler starts when ``at_start``."""

    name: str
    cron: str
    run: Callable[[datetime], object]
    at_start: bool = False


class JobScheduler:
    """Runs :class:`ScheduledJob` s in background threads; see the module docstring."""

    def __init__(
        self,
        jobs: Sequence[ScheduledJob],
        metrics: ServiceMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._metrics = metrics
        self._clock = clock
        self._scheduler: Any = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        )
        self.jobs = tuple(jobs)
        for job in self.jobs:
            try:
                trigger = CronTrigger.from_crontab(job.cron, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"job {job.name}: invalid cron expression {job.cron!r}: {exc}") from exc
            first = {"next_run_time": clock()} if job.at_start else {}
            self._scheduler.add_job(self.run_job, trigger, args=(job,), id=job.name, name=job.name, **first)

    def run_job(self, job: ScheduledJob) -> bool:
        """Run ``job`` once now (what the scheduler calls); True when it succeeded."""
        now = self._clock()
        try:
            job.run(now)
        except Exception:
            self._metrics.lifecycle_runs.labels(job.name, "failed").inc()
            log.exception("job %s failed (it runs again at its next time)", job.name)
            return False
        self._metrics.lifecycle_runs.labels(job.name, "ok").inc()
        self._metrics.lifecycle_last_success.labels(job.name).set(now.timestamp())
        log.info("job %s done", job.name)
        return True

    def start(self) -> None:
        if not self.jobs:
            return
        self._scheduler.start()
        for job in self._scheduler.get_jobs():
            log.info("job %s scheduled; next run %s", job.name, job.next_run_time)

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)


def lifecycle_jobs(config: Config, connection: EsConnection) -> list[ScheduledJob]:
    """The lifecycle's jobs (rotate, purge …) for this configuration, or none when not available."""
    try:
        module = importlib.import_module(LIFECYCLE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != LIFECYCLE_MODULE:
            raise
        log.warning("lifecycle jobs are not available in this build (%s): not scheduled", LIFECYCLE_MODULE)
        return []
    factory: Callable[[Config, EsConnection], list[ScheduledJob]] = module.lifecycle_jobs
    return list(factory(config, connection))
