"""Wiring of ``samplerr run``: builds the source, writer, store, metrics and jobs, and runs them.

:func:`run_service` is what the command calls (and what tests may call directly). Order at start:
metrics server (so ``/healthz`` answers while waiting), Elasticsearch reachable and the index template
installed (waiting as long as it takes, a line in the log per failure), the writer thread, the
lifecycle jobs, then the consuming loop. At the end the same in reverse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Literal, Protocol

from samplerr.adapters.checkpoint import (
    CheckpointStore,
    EsCheckpointStore,
    FsCheckpointStore,
    checkpoint_index,
)
from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.adapters.es_template import install_template
from samplerr.adapters.kafka import KafkaSource
from samplerr.adapters.kafka_dead_letters import DeadLetterProducer
from samplerr.core.config import Config, InputFormat
from samplerr.core.errors import SamplerrError
from samplerr.metrics import Health, MetricsServer, ServiceMetrics
from samplerr.service import KafkaOptions, KafkaService
from samplerr.service_jobs import JobScheduler, ScheduledJob, lifecycle_jobs
from samplerr.service_sink import Sink
from samplerr.service_stream import StreamService

log = logging.getLogger(__name__)

SourceKind = Literal["kafka", "file", "stdin"]
# /healthz fails once one of these has lasted [service] health_grace (60 s by default): the consuming
# loop without an iteration, Elasticsearch without a successful write, Kafka without any broker.
MAX_WAIT = 30.0  # seconds between two attempts to reach Elasticsearch at start


@dataclass(frozen=True, slots=True)
class RunOptions:
    source: SourceKind = "kafka"
    input_path: str = "-"  # for source "file"
    fmt: InputFormat | None = None  # for file/stdin; Kafka uses [kafka] format / topic_formats
    lifecycle: bool = True
    listen: str | None = None  # overrides [service] listen
    dead_letter_file: str | None = None  # for file/stdin; Kafka uses [kafka] dead_letter_topic
    kafka: KafkaOptions = field(default_factory=KafkaOptions)


class _Loop(Protocol):
    last_progress: float

    def run(self) -> int: ...

    def request_stop(self) -> None: ...

    @property
    def stopping(self) -> bool: ...


def make_store(config: Config, connection: EsConnection) -> CheckpointStore:
    if config.service.checkpoint == "elasticsearch":
        return EsCheckpointStore(connection, checkpoint_index(config.elasticsearch.index_prefix))
    return FsCheckpointStore(config.service.checkpoint_dir)


def run_service(config: Config, options: RunOptions, *, install_signals: bool = True) -> int:
    """Run until the input ends (file, stdin) or a signal arrives (Kafka); return the exit status.

    Raises :class:`~samplerr.core.errors.ConfigError` for settings found unusable at start (listen
    address, librdkafka configuration) and other :class:`SamplerrError` s for what cannot start
    (checkpoint directory not writable, Elasticsearch hosts unusable).
    """
    with contextlib.ExitStack() as stack:
        metrics = ServiceMetrics()
        connection = stack.enter_context(EsConnection(config.elasticsearch))
        store = make_store(config, connection)
        if isinstance(store, FsCheckpointStore) and options.source == "kafka":
            store.check()
        sink = Sink(
            BulkWriter(connection).write,
            store if options.source == "kafka" else None,
            metrics,
            batch_bytes=config.elasticsearch.bulk_max_bytes,
            high_water=options.kafka.high_water,
        )
        loop: _Loop
        if options.source == "kafka":
            client_id = f"samplerr-{socket.gethostname()}"
            source = KafkaSource(config.kafka, client_id=client_id)
            stack.callback(source.close)
            dead_letters = None
            if config.kafka.dead_letter_topic:
                topic = config.kafka.dead_letter_topic
                dead_letters = DeadLetterProducer(config.kafka, topic, client_id=client_id)
                stack.callback(dead_letters.close)
            loop = KafkaService(
                config, source, sink, store, metrics, options.kafka, dead_letters=dead_letters
            )
        else:
            path = options.input_path if options.source == "file" else "-"
            loop = StreamService(
                config,
                path,
                options.fmt or config.kafka.format,
                sink,
                metrics,
                dead_letter_file=options.dead_letter_file,
            )
        grace = float(config.service.health_grace)
        health = Health(
            problems_source=lambda: _problems(loop, sink, grace),
            details_source=lambda: _details(options, loop, sink),
        )
        server = MetricsServer(options.listen or config.service.listen, metrics, health)
        server.start()
        stack.callback(server.stop)
        if install_signals:
            _install_signals(loop)
        try:
            if not _prepare_elasticsearch(connection, config, loop):
                return 1 if not loop.stopping else 0
            jobs: list[ScheduledJob] = []
            if options.lifecycle and config.schedule.enabled:
                jobs = lifecycle_jobs(config, connection)
            scheduler = JobScheduler(jobs, metrics)
            stack.callback(scheduler.shutdown)
            sink.start()
            scheduler.start()
            status = loop.run()
            drained = _drain(sink, config, options, loop)
            return status if drained else 1
        except SamplerrError as exc:
            log.error("%s", exc)
            return 1
    raise AssertionError("unreachable")  # pragma: no cover - mypy: ExitStack may swallow exceptions


def _prepare_elasticsearch(connection: EsConnection, config: Config, loop: _Loop) -> bool:
    """Reach Elasticsearch and install the template, waiting while it is down; False if it refuses."""
    pause = 1.0
    while not loop.stopping:
        try:
            result = install_template(connection, config)
        except EsRequestError as exc:
            if not exc.retryable:
                log.error("Elasticsearch refuses samplerr: %s", exc)
                return False
            log.warning("waiting for Elasticsearch (again in %.0f s): %s", pause, exc)
            deadline = time.monotonic() + pause
            while time.monotonic() < deadline and not loop.stopping:
                time.sleep(0.1)
            pause = min(MAX_WAIT, pause * 2)
            continue
        log.info("index template %s: %s", result.name, result.action)
        return True
    return False


def _drain(sink: Sink, config: Config, options: RunOptions, loop: _Loop) -> bool:
    """Let the writer finish; a file or stdin waits for every document, Kafka up to a second."""
    if options.source == "kafka":
        return sink.close(1.0)
    while not sink.wait_idle(1.0):
        if sink.fatal is not None:
            return False
        if loop.stopping and not sink.wait_idle(float(config.service.shutdown_timeout)):
            log.error("stopped before Elasticsearch took every document: %s", sink.last_error or "time is up")
            sink.close(0)
            return False
    return sink.close(1.0)


def _problems(loop: _Loop, sink: Sink, grace: float) -> list[str]:
    problems = []
    stalled = time.monotonic() - loop.last_progress
    if stalled > grace:
        problems.append(f"the consuming loop has not progressed for {stalled:.0f} s")
    if isinstance(loop, KafkaService):
        down = loop.source.brokers_down_for
        if down > grace:
            problems.append(f"kafka: all brokers down for {down:.0f} s")
    failing = sink.failing_for
    if failing > grace:
        problems.append(f"Elasticsearch has not taken writes for {failing:.0f} s: {sink.last_error}")
    if sink.fatal is not None:
        problems.append(f"the Elasticsearch writer stopped: {sink.fatal}")
    return problems


def _details(options: RunOptions, loop: _Loop, sink: Sink) -> dict[str, Any]:
    details: dict[str, Any] = {"source": options.source, "queued_bytes": sink.queued_bytes}
    if isinstance(loop, KafkaService):
        details["partitions"] = sorted(str(tp) for tp in loop.partitions)
        details["paused"] = loop.source.paused
        details["kafka_brokers_reachable"] = loop.source.brokers_up
    return details


def _install_signals(loop: _Loop) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if loop.stopping:
            log.error("%s again: exiting now (the last checkpoints stand)", name)
            os._exit(1)
        log.info("%s: stopping", name)
        loop.request_stop()

    def hangup(signum: int, frame: FrameType | None) -> None:
        log.warning("SIGHUP ignored: samplerr reads its configuration at start; restart it to change it")

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGHUP, hangup)
