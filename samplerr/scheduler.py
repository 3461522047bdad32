"""The lifecycle jobs of ``samplerr run``: rotate and purge on APScheduler 3 cron triggers, in UTC.

=================  ==========================================================================
job                when (``[schedule]``, UTC)                 what
=================  ==========================================================================
``rotate``         ``schedule.rotate`` (default every 5 min)  create the next period's indices
                   and :data:`MIDNIGHT_ROTATE` after each     ahead of their boundary, then
                   UTC midnight                               rotate the aliases
``purge``          ``schedule.purge`` (default 00:17 daily)   rotate, then delete what the
                                                              retention policy lets go
=================  ==========================================================================

Each job is one APScheduler job (``max_instances=1``: it never overlaps itself; ``coalesce``: a
backlog of missed runs runs once). Rotate and purge exclude each other, and any other samplerr
instance, through the lifecycle lock in Elasticsearch. A job that fails (Elasticsearch down, lock
busy, anything unexpected) logs one line and returns: the next tick tries again, and the
service goes on. The clock is injected, so tests run the jobs at any simulated instant.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import Config
from samplerr.core.errors import SamplerrError
from samplerr.lifecycle_ops import create_next_indices, purge, read_state, rotate
from samplerr.service_jobs import ScheduledJob

log = logging.getLogger(__name__)

JobName = Literal["rotate", "purge"]
JobResult = Literal["ok", "failed"]
ResultListener = Callable[[JobName, JobResult, float], None]

# The extra rotation just after each UTC midnight: writers have started the new day's indices.
MIDNIGHT_ROTATE = {"hour": 0, "minute": 1, "second": 0}
CREATE_AHEAD_S = 3_600  # create the next period's index up to an hour before its boundary
JOB_LOCK_WAIT_S = 30.0  # a job waits this long for another instance's run; else it retries next tick
ROTATE_MISFIRE_S = 120  # a rotation more than 2 min late is skipped (the next one is at most 5 min away)
PURGE_MISFIRE_S = 6 * 3_600  # a late purge still runs (e.g. after a restart), up to 6 h late


@dataclass(frozen=True, slots=True)
class LifecycleJobs:
    """The jobs as plain callables working at ``clock()`` (or a given ``now``).

    ``connect`` gives the connection of one run; it is closed afterwards when ``close_after``
    (a factory of fresh connections), left open otherwise (the service's shared connection).
    :meth:`rotate` and :meth:`purge` never raise; :meth:`rotate_at` and :meth:`purge_at` do.
    """

    config: Config
    connect: Callable[[], EsConnection]
    clock: Callable[[], float] = time.time
    on_result: ResultListener | None = None
    create_ahead_s: int = CREATE_AHEAD_S
    lock_wait_s: float = JOB_LOCK_WAIT_S
    close_after: bool = True

    def rotate(self) -> bool:
        """Create the upcoming periods' indices, then rotate. ``True`` when it succeeded."""
        return self._run("rotate", self.rotate_at)

    def purge(self) -> bool:
        """Rotate, then delete what the policy lets go. ``True`` when it succeeded."""
        return self._run("purge", self.purge_at)

    def rotate_at(self, now: int) -> None:
        """One rotate run at ``now``; raises :class:`~samplerr.core.errors.SamplerrError` on failure."""
        with self._connection() as connection:
            state = read_state(connection, self.config)
            create_next_indices(connection, self.config, now, ahead_s=self.create_ahead_s, state=state)
            result = rotate(connection, self.config, now, lock_wait_s=self.lock_wait_s)
        if result.plan.actions:
            log.info("rotate at %s: %d alias actions applied", _iso(now), len(result.plan.actions))

    def purge_at(self, now: int) -> None:
        """One purge run at ``now``; raises :class:`~samplerr.core.errors.SamplerrError` on failure."""
        with self._connection() as connection:
            result = purge(connection, self.config, now, lock_wait_s=self.lock_wait_s)
        log.info("purge at %s: %d indices deleted, %d kept", _iso(now), len(result.deleted), len(result.kept))

    @contextmanager
    def _connection(self) -> Iterator[EsConnection]:
        connection = self.connect()
        try:
            yield connection
        finally:
            if self.close_after:
                connection.close()

    def _run(self, name: JobName, work: Callable[[int], None]) -> bool:
        try:
            work(math.floor(self.clock()))
        except SamplerrError as exc:
            log.error("lifecycle %s failed, retrying at the next tick: %s", name, exc)
            self._report(name, "failed")
            return False
        except Exception:  # a job must never take the service down
            log.exception("lifecycle %s failed unexpectedly, retrying at the next tick", name)
            self._report(name, "failed")
            return False
        self._report(name, "ok")
        return True

    def _report(self, name: JobName, result: JobResult) -> None:
        if self.on_result is not None:
            try:
                self.on_result(name, result, self.clock())
            except Exception:
                log.exception("lifecycle result listener failed")


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rotate_trigger(config: Config) -> OrTrigger:
    """``schedule.rotate`` or just after each UTC midnight."""
    return OrTrigger(
        [
            CronTrigger.from_crontab(config.schedule.rotate, timezone=UTC),
            CronTrigger(**MIDNIGHT_ROTATE, timezone=UTC),
        ]
    )


def purge_trigger(config: Config) -> CronTrigger:
    return CronTrigger.from_crontab(config.schedule.purge, timezone=UTC)


def build_scheduler(
    config: Config,
    es_factory: Callable[[], EsConnection],
    clock: Callable[[], float] = time.time,
    *,
    on_result: ResultListener | None = None,
    rotate_at_start: bool = True,
) -> BackgroundScheduler:
    """A stopped ``BackgroundScheduler`` (UTC) with the rotate and purge jobs; ``start()`` it.

    ``es_factory`` opens a connection per run (closed afterwards). With ``rotate_at_start`` the
    rotation also runs as soon as the scheduler starts, so the aliases are right from the start.
    ``on_result(job, "ok" | "failed", when)`` is called after every run (metrics).
    Nothing is scheduled when ``schedule.enabled`` is false.
    """
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": ROTATE_MISFIRE_S},
    )
    if not config.schedule.enabled:
        return scheduler
    jobs = LifecycleJobs(config, es_factory, clock, on_result)
    first = {"next_run_time": datetime.now(UTC)} if rotate_at_start else {}
    scheduler.add_job(
        jobs.rotate,
        rotate_trigger(config),
        id="rotate",
        name="samplerr rotate",
        replace_existing=True,
        **first,
    )
    scheduler.add_job(
        jobs.purge,
        purge_trigger(config),
        id="purge",
        name="samplerr purge",
        misfire_grace_time=PURGE_MISFIRE_S,
        replace_existing=True,
    )
    return scheduler


MIDNIGHT_CRON = f"{MIDNIGHT_ROTATE['minute']} {MIDNIGHT_ROTATE['hour']} * * *"


def lifecycle_jobs(config: Config, connection: EsConnection) -> list[ScheduledJob]:
    """The jobs for ``samplerr run``'s :class:`~samplerr.service_jobs.JobScheduler`.

    ``rotate`` (``schedule.rotate``), ``rotate-midnight`` (:data:`MIDNIGHT_CRON`) and ``purge``
    (``schedule.purge``), each called with the UTC time of the run, sharing the service's
    connection (left open). They raise on failure; the job scheduler logs, counts and retries.
    """
    jobs = LifecycleJobs(config, lambda: connection, close_after=False)

    def run_rotate(now: datetime) -> None:
        jobs.rotate_at(math.floor(now.timestamp()))

    def run_purge(now: datetime) -> None:
        jobs.purge_at(math.floor(now.timestamp()))

    return [
        ScheduledJob("rotate", config.schedule.rotate, run_rotate),
        ScheduledJob("rotate-midnight", MIDNIGHT_CRON, run_rotate),
        ScheduledJob("purge", config.schedule.purge, run_purge),
    ]
