"""Prometheus metrics and the health endpoint of ``samplerr run``.

:class:`ServiceMetrics` holds every metric in its own ``CollectorRegistry`` (no global state: tests run
several services in one process). :class:`MetricsServer` serves, on ``[service] listen``
(``127.0.0.1:9108`` by default; port 0 takes a free port):

- ``GET /metrics``: the Prometheus text format;
- ``GET /healthz``: ``200`` and ``{"status": "ok", …}`` while the service works, ``503`` and
  ``{"status": "failing", "problems": […], …}`` when it does not (see ``Health``).

Metric names (all prefixed ``samplerr_``):

========================================  ==========  ==============================================
``events_total``                          counter     events decoded and consolidated
``events_rejected_total{reason}``         counter     input lines refused (``not_parseable`` …,
                                                      ``series_limit`` when ``max_series`` is reached)
``late_events_total{outcome}``            counter     late events ``merged`` into held windows or
                                                      ``dropped`` (later than ``late_hold``)
``open_windows``                          gauge       windows open or held, all archives
``live_series``                           gauge       series with state in memory
``series_evicted_total``                  counter     idle series whose state was released
``series_in_several_partitions``          gauge       series seen in two partitions (a keying problem)
``watermark_lag_seconds``                 gauge       wall clock minus the oldest partition watermark
``bulk_docs_total{result}``               counter     documents ``ok``, ``failed`` (refused for good),
                                                      ``retried`` (item resends)
``bulk_requests_total``                   counter     bulk requests sent (resends included)
``bulk_request_retries_total``            counter     whole bulk requests sent again
``sink_queue_bytes``                      gauge       NDJSON waiting for Elasticsearch
``sink_failing``                          gauge       1 while Elasticsearch does not take writes
``consumer_paused``                       gauge       1 while consumption is paused (backpressure)
``consumer_lag_messages{topic,partition}``  gauge     messages behind the end of each partition
``assigned_partitions``                   gauge       partitions this member owns
``kafka_errors_total{code}``              counter     errors librdkafka reported, by code (``_TRANSPORT``,
                                                      ``_ALL_BROKERS_DOWN`` …)
``kafka_brokers_reachable``               gauge       brokers the consumer is connected to (0 while none
                                                      answers), from librdkafka's statistics
``dead_letters_total{reason}``            counter     rejected lines in the dead-letter topic (acked) or file
``dead_letter_failures_total{reason}``    counter     rejected lines that could not be sent there
``checkpoints_total{result}``             counter     partition checkpoints ``ok`` or ``failed``
``last_checkpoint_timestamp_seconds``     gauge       when the last checkpoint round completed
``commits_total{result}``                 counter     offset commits ``ok`` or ``failed``
``lifecycle_runs_total{job,result}``      counter     lifecycle job runs ``ok`` or ``failed``
``lifecycle_last_success_timestamp_seconds{job}``  gauge  when each job last succeeded
========================================  ==========  ==============================================
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from samplerr.core.errors import ConfigError

log = logging.getLogger(__name__)


class ServiceMetrics:
    """Every metric of the service, registered in :attr:`registry`."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter("samplerr_events", "Events decoded and consolidated.", registry=r)
        self.rejected = Counter(
            "samplerr_events_rejected", "Input lines refused, by reason.", ["reason"], registry=r
        )
        self.late = Counter(
            "samplerr_late_events",
            "Late events merged into held windows or dropped.",
            ["outcome"],
            registry=r,
        )
        self.open_windows = Gauge("samplerr_open_windows", "Windows open or held, all archives.", registry=r)
        self.live_series = Gauge("samplerr_live_series", "Series with state in memory.", registry=r)
        self.series_evicted = Counter(
            "samplerr_series_evicted", "Idle series whose state was released.", registry=r
        )
        self.series_conflicts = Gauge(
            "samplerr_series_in_several_partitions",
            "Series seen in more than one partition (producers must key by series).",
            registry=r,
        )
        self.watermark_lag = Gauge(
            "samplerr_watermark_lag_seconds", "Wall clock minus the oldest partition watermark.", registry=r
        )
        self.bulk_docs = Counter("samplerr_bulk_docs", "Bulk documents by result.", ["result"], registry=r)
        self.bulk_requests = Counter("samplerr_bulk_requests", "Bulk requests sent.", registry=r)
        self.bulk_request_retries = Counter(
            "samplerr_bulk_request_retries", "Whole bulk requests sent again.", registry=r
        )
        self.sink_queue_bytes = Gauge(
            "samplerr_sink_queue_bytes", "Bulk NDJSON waiting for Elasticsearch.", registry=r
        )
        self.sink_failing = Gauge(
            "samplerr_sink_failing", "1 while Elasticsearch does not take writes.", registry=r
        )
        self.consumer_paused = Gauge(
            "samplerr_consumer_paused", "1 while consumption is paused by backpressure.", registry=r
        )
        self.consumer_lag = Gauge(
            "samplerr_consumer_lag_messages",
            "Messages behind the end of each partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            "samplerr_assigned_partitions", "Partitions this member owns.", registry=r
        )
        self.kafka_errors = Counter(
            "samplerr_kafka_errors", "Errors the Kafka client reported, by code.", ["code"], registry=r
        )
        self.dead_letters = Counter(
            "samplerr_dead_letters",
            "Rejected lines in the dead-letter topic (acknowledged) or file, by reason.",
            ["reason"],
            registry=r,
        )
        self.dead_letter_failures = Counter(
            "samplerr_dead_letter_failures",
            "Rejected lines that could not be sent to the dead-letter topic or file, by reason.",
            ["reason"],
            registry=r,
        )
        self.kafka_brokers_reachable = Gauge(
            "samplerr_kafka_brokers_reachable",
            "Kafka brokers the consumer is connected to (0 while none answers).",
            registry=r,
        )
        self.checkpoints = Counter(
            "samplerr_checkpoints", "Partition checkpoints written, by result.", ["result"], registry=r
        )
        self.last_checkpoint = Gauge(
            "samplerr_last_checkpoint_timestamp_seconds",
            "When the last checkpoint round completed.",
            registry=r,
        )
        self.commits = Counter("samplerr_commits", "Offset commits, by result.", ["result"], registry=r)
        self.lifecycle_runs = Counter(
            "samplerr_lifecycle_runs", "Lifecycle job runs, by job and result.", ["job", "result"], registry=r
        )
        self.lifecycle_last_success = Gauge(
            "samplerr_lifecycle_last_success_timestamp_seconds",
            "When each lifecycle job last succeeded.",
            ["job"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass(slots=True)
class Health:
    """What ``/healthz`` reports; the service updates it, the HTTP thread reads it."""

    problems_source: Callable[[], list[str]] = field(default=list)
    details_source: Callable[[], dict[str, Any]] = field(default=dict)

    def report(self) -> tuple[int, bytes]:
        try:
            problems = self.problems_source()
            details = self.details_source()
        except Exception as exc:  # noqa: BLE001 - a health probe must answer, whatever failed
            problems, details = [f"health check failed: {exc}"], {}
        body = {"status": "failing" if problems else "ok", "problems": problems, **details}
        return (503 if problems else 200), orjson.dumps(body)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9108`` for IPv6, ``:9108`` for every interface) as (host, port)."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError("[service]", "listen", f"{listen!r} is not HOST:PORT (e.g. 127.0.0.1:9108)")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - ':PORT' asks for every interface explicitly
    return host, int(port_text)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            self._answer(200, self.server.metrics.render(), CONTENT_TYPE_LATEST)
        elif path in {"/healthz", "/health"}:
            status, body = self.server.health.report()
            self._answer(status, body, "application/json")
        elif path == "/":
            self._answer(200, b"samplerr: see /metrics and /healthz\n", "text/plain; charset=utf-8")
        else:
            self._answer(404, b"not found\n", "text/plain; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("metrics %s " + format, self.address_string(), *args)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    metrics: ServiceMetrics
    health: Health


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` from a background thread."""

    def __init__(self, listen: str, metrics: ServiceMetrics, health: Health) -> None:
        host, port = parse_listen(listen)
        try:
            server_class = _Server6 if ":" in host else _Server
            self._server = server_class((host, port), _Handler)
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise ConfigError("[service]", "listen", f"cannot listen on {listen}: {why}") from exc
        self._server.metrics = metrics
        self._server.health = health
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.5,), name="metrics", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{text}]" if ":" in text else text
        return f"http://{shown}:{port}"

    def start(self) -> None:
        self._thread.start()
        log.info("metrics on %s/metrics, health on %s/healthz", self.url, self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
