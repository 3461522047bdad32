"""``samplerr demo``: months of metrics through the real pipeline in simulated time, against a dev server.

The run, oldest first, one simulated tick at a time (every 6 hours, and at each job's time):

1. the events that *arrived* before the tick (late bursts arrive after their time) are decoded
   from line protocol and consolidated by :class:`~samplerr.pipeline.Pipeline`, and the windows
   that are final at the tick (``collect(now)``) are written by the real
   :class:`~samplerr.adapters.es_bulk.BulkWriter` to the development server;
2. the lifecycle jobs run with the simulated ``now``, in a thread of their own as in ``samplerr
   run`` (at most one job behind the writes): each day at 23:05, the rotate job's first step
   (creating the next day's indices ahead of the boundary, which the every-5-minutes job does in
   the hour before one), and the purge job at the configured time (00:17), which rotates first —
   doing what the 00:01 midnight rotation would have done, 16 minutes later. The other 5-minute
   rotations would find nothing to change (indices appear and expire only at midnight) and are
   left out;
3. at the end (the current time, unless ``--now``), the open windows are written, the aliases
   rotated once more, and the state read for the report (:mod:`samplerr.demo_report`).

How the demo is scaled to run in well under a minute is in :mod:`samplerr.demo_scale`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger

from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_catalogue import create_index
from samplerr.adapters.es_connection import EsConnection
from samplerr.adapters.es_template import install_template
from samplerr.core.config import Config
from samplerr.core.errors import SamplerrError
from samplerr.core.lifecycle import next_period_indices
from samplerr.demo_data import DemoEvents, demo_series, generate
from samplerr.demo_plot import default_panels
from samplerr.demo_report import ServedCheck, Window, read_served
from samplerr.demo_scale import DAY, Tier, demo_config, dense_events, sampling_tiers
from samplerr.demo_server import DevServerError, DevServerProcess
from samplerr.lifecycle_ops import LifecycleState, plan_for, purge, read_state, rotate
from samplerr.lifecycle_report import StatusReport, status_report
from samplerr.pipeline import Pipeline
from samplerr.scheduler import CREATE_AHEAD_S

log = logging.getLogger(__name__)

TICK_S = 6 * 3_600  # consolidate and write at least this often (simulated)
CREATE_AHEAD_AT_S = DAY - 55 * 60  # 23:05: the first 5-minute rotate job within the hour before midnight


@dataclass(frozen=True, slots=True)
class DemoOptions:
    days: int = 120
    series: int = 6
    step_factor: int = 6
    seed: int = 1
    now: int | None = None  # epoch seconds; default: the wall clock


@dataclass(slots=True)
class Totals:
    """What happened during the run (counts and seconds)."""

    events: int = 0
    raw_bytes: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    docs_rendered: int = 0
    docs_written: int = 0
    docs_failed: int = 0
    bulk_requests: int = 0
    late_merged: tuple[int, ...] = ()
    late_dropped: tuple[int, ...] = ()
    rotations: int = 0
    purges: int = 0
    alias_actions: int = 0
    created_ahead: int = 0
    deleted: list[tuple[str, int]] = field(default_factory=list)  # (index, documents it held)
    seconds: dict[str, float] = field(default_factory=dict)  # by phase


@dataclass(frozen=True, slots=True)
class Job:
    at: int
    name: str  # "tick" (consolidate and write), "ahead" (create indices ahead), "purge", "end"


def job_times(config: Config, start: int, end: int) -> list[Job]:
    """Every tick of the simulation in ``(start, end]``, jobs after the tick at the same instant."""
    jobs = [Job(at, "tick") for at in range(start - start % TICK_S + TICK_S, end, TICK_S)]
    first_day = start - start % DAY
    jobs += [
        Job(day + CREATE_AHEAD_AT_S, "ahead")
        for day in range(first_day, end, DAY)
        if start < day + CREATE_AHEAD_AT_S < end
    ]
    purge_trigger = CronTrigger.from_crontab(config.schedule.purge, timezone=UTC)
    moment = purge_trigger.get_next_fire_time(None, datetime.fromtimestamp(start, tz=UTC))
    while moment is not None and moment.timestamp() < end:
        jobs.append(Job(int(moment.timestamp()), "purge"))
        moment = purge_trigger.get_next_fire_time(
            moment, datetime.fromtimestamp(moment.timestamp() + 1, tz=UTC)
        )
    order = {"tick": 0, "ahead": 1, "purge": 2}
    jobs.sort(key=lambda job: (job.at, order[job.name]))
    jobs.append(Job(end, "end"))
    return jobs


Progress = Callable[[int, Totals], None]


class Simulation:
    """The run itself, against an Elasticsearch-compatible server at ``config.elasticsearch.hosts``."""

    def __init__(self, config: Config, events: DemoEvents, start: int, end: int) -> None:
        self.config = config
        self.events = events
        self.start = start
        self.end = end
        self.totals = Totals()
        self.pipeline = Pipeline(config, "influx")
        self.connection = EsConnection(config.elasticsearch)
        self.writer = BulkWriter(self.connection)
        self._fed = 0

    def close(self) -> None:
        self.connection.close()

    def _spent(self, phase: str, seconds: float) -> None:
        self.totals.seconds[phase] = self.totals.seconds.get(phase, 0.0) + seconds

    def run(self, on_progress: Progress | None = None) -> Totals:
        began = time.perf_counter()
        install_template(self.connection, self.config)
        with LifecycleWorker(self) as worker:
            for job in job_times(self.config, self.start, self.end):
                self._consolidate(job.at, final=job.name == "end")
                if job.name == "end":
                    worker.drain()
                    self.rotate_at(job.at)
                elif job.name in ("ahead", "purge"):
                    worker.submit(job)
                if on_progress is not None:
                    on_progress(job.at, self.totals)
        stats = self.pipeline.consolidator.stats
        self.totals.late_merged = stats.late_merged_by_archive
        self.totals.late_dropped = stats.late_dropped_by_archive
        self.totals.rejected = Counter(self.pipeline.counters.rejected)
        self.totals.seconds["simulation"] = time.perf_counter() - began
        return self.totals

    def _consolidate(self, now: int, *, final: bool) -> None:
        clock = time.perf_counter()
        upto = self.events.arrived_before(now + 1 if final else now)
        if upto > self._fed:
            data = self.events.lines(self._fed, upto)
            self.totals.raw_bytes += len(data)
            self.totals.events += upto - self._fed
            self._fed = upto
            self._spent("generate", time.perf_counter() - clock)
            clock = time.perf_counter()
            self.pipeline.feed_buffer(data)
        bodies = self.pipeline.finish() if final else self.pipeline.collect(now)
        self._spent("consolidate", time.perf_counter() - clock)
        clock = time.perf_counter()
        docs = sum(body.docs for body in bodies)
        self.totals.docs_rendered += docs
        report = self.writer.write(b"".join(body.body for body in bodies), docs=docs)
        self.totals.docs_written += report.docs_ok
        self.totals.docs_failed += report.docs_failed_total
        self.totals.bulk_requests += report.requests
        self._spent("write", time.perf_counter() - clock)

    def create_ahead(self, now: int, connection: EsConnection) -> None:
        """The rotate job's first step at ``now``: create the next periods' indices when their boundary
        is within :data:`~samplerr.scheduler.CREATE_AHEAD_S`."""
        clock = time.perf_counter()
        names = next_period_indices(
            self.config.archives, self.config.elasticsearch.index_prefix, now, CREATE_AHEAD_S
        )
        self.totals.created_ahead += sum(1 for name in names if create_index(connection, name))
        self._spent("lifecycle", time.perf_counter() - clock)

    def rotate_at(self, now: int, connection: EsConnection | None = None) -> None:
        """A rotation at ``now``."""
        clock = time.perf_counter()
        result = rotate(connection or self.connection, self.config, now)
        self.totals.rotations += 1
        self.totals.alias_actions += len(result.plan.actions)
        self._spent("lifecycle", time.perf_counter() - clock)

    def purge_at(self, now: int, connection: EsConnection | None = None) -> None:
        """The purge job at ``now``: rotate, then delete what the retention policy lets go."""
        connection = connection or self.connection
        clock = time.perf_counter()
        result = purge(connection, self.config, now)
        self.totals.purges += 1
        self.totals.alias_actions += len(result.rotation.plan.actions)
        state: LifecycleState = result.rotation.state
        for decision in result.deleted:
            info = state.index(decision.index)
            self.totals.deleted.append((decision.index, info.docs if info is not None else 0))
        self._spent("lifecycle", time.perf_counter() - clock)


class LifecycleWorker:
    """Runs the lifecycle jobs in a thread of their own, as ``samplerr run``'s scheduler does.

    :meth:`submit` hands over the next job once the previous one is done, so the lifecycle never
    lags more than one job behind the writes; :meth:`drain` waits for it. A job's exception is
    raised again in the caller at the next :meth:`submit` or :meth:`drain`.
    """

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.connection = EsConnection(simulation.config.elasticsearch)
        self._jobs: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._done = threading.Semaphore(1)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._work, name="demo-lifecycle", daemon=True)

    def __enter__(self) -> LifecycleWorker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._jobs.put(None)
        self._thread.join()
        self.connection.close()

    def submit(self, job: Job) -> None:
        self._done.acquire()
        self._raise()
        self._jobs.put(job)

    def drain(self) -> None:
        self._done.acquire()
        self._done.release()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if job.name == "ahead":
                    self.simulation.create_ahead(job.at, self.connection)
                elif job.name == "purge":
                    self.simulation.purge_at(job.at, self.connection)
            except Exception as exc:  # noqa: BLE001 (handed to the main thread, raised there)
                self._error = exc
            finally:
                self._done.release()


@dataclass(frozen=True, slots=True)
class Run:
    """The prepared demo: configuration, time range, sampling and events."""

    config: Config
    start: int
    end: int
    tiers: tuple[Tier, ...]
    events: DemoEvents


def prepare(options: DemoOptions, es_url: str) -> Run:
    """Configuration, time range and events for ``options`` (raises ``ValueError`` for bad options)."""
    if options.days < 1:
        raise ValueError(f"--days must be at least 1, not {options.days}")
    config = demo_config(options.step_factor, es_url)
    end = options.now if options.now is not None else int(time.time())
    end -= end % 60
    coarsest = config.archives[-1].step
    start = end - options.days * DAY
    start -= start % coarsest
    tiers = sampling_tiers(config, start, end)
    events = generate(demo_series(options.series), tiers, config.consolidation.late_hold, options.seed)
    return Run(config, start, end, tiers, events)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything the report shows, read back from the server at the end of the run."""

    run: Run
    totals: Totals
    status: StatusReport
    served: ServedCheck
    pictured: tuple[str, str]  # (host, service) drawn
    windows: tuple[Window, ...]  # the pictured series as served, every cfunc
    aliases: tuple[str, ...]  # distinct alias names at the end, sorted
    pending_actions: int  # what one more rotation at the end would change (0 expected)
    dense_events: int  # events a feed at the finest sampling over the whole run would have been


def read_outcome(run: Run, totals: Totals, connection: EsConnection) -> Outcome:
    """Read the final state, the served series and the pictured one back through the aliases."""
    state = read_state(connection, run.config)
    plan = plan_for(run.config, state, run.end)
    series = [(spec.host, spec.service) for spec in run.events.series]
    until = run.end + run.config.archives[-1].step
    host, service = series[0]
    # min and max only where the picture draws bands: its panels after the first (the whole run)
    extremes_since = min((panel.start for panel in default_panels(run.start, run.end)[1:]), default=None)
    served, windows = read_served(connection, run.config, host, service, run.start, until, extremes_since)
    return Outcome(
        run=run,
        totals=totals,
        status=status_report(run.config, state, plan),
        served=served,
        pictured=(host, service),
        windows=tuple(windows),
        aliases=tuple(sorted({alias.alias for alias in state.aliases})),
        pending_actions=len(plan.actions),
        dense_events=dense_events(run.tiers, len(series)),
    )


def run_demo(
    options: DemoOptions,
    data_dir: Path | None = None,
    on_start: Callable[[Run], None] | None = None,
    on_progress: Progress | None = None,
) -> Outcome:
    """Start a dev server (on ``data_dir`` if given), run the demo against it, read the outcome, stop.

    Raises :class:`~samplerr.demo_server.DevServerError`, :class:`~samplerr.core.errors.SamplerrError`
    (Elasticsearch refused or unreachable) or ``OSError``.
    """
    with DevServerProcess(data_dir) as server:
        run = prepare(options, server.url)
        if on_start is not None:
            on_start(run)
        simulation = Simulation(run.config, run.events, run.start, run.end)
        try:
            totals = simulation.run(on_progress)
            clock = time.perf_counter()
            outcome = read_outcome(run, totals, simulation.connection)
            totals.seconds["read back"] = time.perf_counter() - clock
            return outcome
        except SamplerrError as exc:
            if not server.alive():
                raise DevServerError(f"the development server died: {server.errors() or exc}") from exc
            raise
        finally:
            simulation.close()
