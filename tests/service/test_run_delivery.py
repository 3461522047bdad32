"""`samplerr run` end to end: Kafka (mock cluster) in, the development server out, in separate processes.

The delivery guarantee under test (ARCHITECTURE §6): whatever happens to the process — SIGTERM, kill -9
at any moment — the documents in Elasticsearch end up equal to those of one uninterrupted run, and to
what `samplerr downsample` computes from each partition's events.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.devserver.process import DevServerProcess
from tests.service.harness import Service, config_text, documents, total
from tests.service.kafka_mock import MockKafka
from tests.service.streams import (
    Stream,
    assert_same_documents,
    by_suffix,
    downsample_reference,
    make_stream,
    without_marker,
)

ARCHIVES = """
[[archives]]
tf = "YYYY.MM.DD"
step = "1m"
ttl = "2d"
cfuncs = ["avg", "min", "max", "count"]
[[archives]]
tf = "YYYY.MM"
step = "10m"
ttl = "2mo"
cfuncs = ["avg", "max", "first", "last"]
[[archives]]
tf = "YYYY"
step = "1h"
ttl = "1y"
cfuncs = ["avg", "sum"]
"""
CONSOLIDATION = 'layout = "compact"\nlateness = "30s"\nlate_hold = "10m"\nidle_flush = "30s"'


@dataclass
class Setup:
    tmp: Path
    kafka: MockKafka
    es: DevServerProcess
    topic: str

    def config(self, name: str, group: str, **extra: str) -> tuple[Path, str]:
        prefix = f".t{uuid.uuid4().hex[:8]}-"
        path = self.tmp / f"{name}.toml"
        path.write_text(
            config_text(
                es_url=self.es.url,
                index_prefix=prefix,
                bootstrap=self.kafka.bootstrap,
                topics=[self.topic],
                group=group,
                checkpoint_dir=self.tmp / f"{name}-checkpoints",
                archives=ARCHIVES,
                consolidation=CONSOLIDATION,
                service=extra.get("service", 'shutdown_timeout = "20s"'),
            )
        )
        return path, prefix

    def service(self, config: Path, name: str, *extra: str) -> Service:
        return Service(config, self.tmp / f"{name}.log", extra=("--checkpoint-interval", "1s", *extra))

    def produce(self, messages: list[tuple[int, bytes]]) -> None:
        self.kafka.produce(self.topic, messages, config={"compression.type": "zstd", "linger.ms": 20})


@pytest.fixture
def setup(tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess) -> Setup:
    topic = kafka.create_topic(f"delivery-{uuid.uuid4().hex[:8]}", 4)
    return Setup(tmp_path, kafka, devserver, topic)


def caught_up(m: dict[str, float], partitions: int) -> bool:
    lags = [v for k, v in m.items() if k.startswith("samplerr_consumer_lag_messages{")]
    return len(lags) == partitions and not any(lags)


def drained(service: Service, partitions: int, timeout: float = 120) -> dict[str, float]:
    """Wait until every partition is consumed to its end and Elasticsearch has everything queued."""

    def done(m: dict[str, float]) -> bool:
        return caught_up(m, partitions) and m.get("samplerr_sink_queue_bytes") == 0

    service.wait(done, timeout, "the topic to be consumed and written")
    time.sleep(1.0)  # the last windows emitted by the last batch
    return service.wait(done, timeout, "the last documents to be written")


def uninterrupted(setup: Setup, stream: Stream) -> dict[tuple[str, str], dict]:
    config, prefix = setup.config("uninterrupted", f"g-{uuid.uuid4().hex[:8]}")
    service = setup.service(config, "uninterrupted").start()
    drained(service, stream.partitions)
    assert service.stop() == 0
    return by_suffix(without_marker(documents(setup.es.url, prefix + "*")), prefix)


def produce_over(setup: Setup, stream: Stream, seconds: float) -> threading.Thread:
    """Produce the stream in slices spread over ``seconds`` (a live topic), in a thread."""

    def run() -> None:
        slices = 40
        size = -(-len(stream.messages) // slices)
        for i in range(slices):
            setup.produce(stream.messages[i * size : (i + 1) * size])
            time.sleep(seconds / slices)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_an_uninterrupted_run_equals_downsample(setup: Setup):
    stream = make_stream(12_000, partitions=4, series=24, seed=1)
    setup.produce(stream.messages)
    config, prefix = setup.config("run", "g-run")
    service = setup.service(config, "run").start()
    metrics = drained(service, 4)
    assert total(metrics, "samplerr_events_total") == stream.events
    assert total(metrics, 'samplerr_late_events_total{outcome="merged"}') > 0
    assert total(metrics, 'samplerr_late_events_total{outcome="dropped"}') > 0
    assert total(metrics, "samplerr_checkpoints_total") > 0
    assert service.stop() == 0
    actual = by_suffix(without_marker(documents(setup.es.url, prefix + "*")), prefix)
    expected = by_suffix(downsample_reference(config, stream, setup.tmp), prefix)
    assert len(expected) > 1000
    assert_same_documents(actual, expected)


def test_sigterm_mid_stream_then_restart_gives_the_same_archives(setup: Setup):
    stream = make_stream(30_000, partitions=4, series=40, seed=2)
    producer = produce_over(setup, stream, 6.0)
    config, prefix = setup.config("graceful", "g-graceful")
    service = setup.service(config, "graceful").start()
    service.wait(lambda m: total(m, "samplerr_events_total") > 2000, 60, "events to flow")
    assert service.process is not None
    service.process.send_signal(signal.SIGHUP)  # logged and ignored
    service.wait(lambda m: total(m, "samplerr_events_total") > 4000, 60, "events to flow after SIGHUP")
    started = time.monotonic()
    assert service.stop(timeout=30) == 0  # checkpoint and commit within shutdown_timeout
    assert time.monotonic() - started < 20
    log = " ".join(entry.get("message", "") for entry in service.log_lines())
    assert "stopped cleanly" in log
    assert "SIGHUP ignored" in log
    producer.join()
    again = setup.service(config, "graceful").start()
    drained(again, 4)
    assert again.stop() == 0
    restored = [e for e in again.log_lines() if "restored from checkpoint" in e.get("message", "")]
    assert len(restored) == 4
    actual = by_suffix(without_marker(documents(setup.es.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, setup.tmp), prefix))


def crash_run(setup: Setup, events: int, kills: int, seconds: float, seed: int) -> None:
    """Kill -9 samplerr at ``kills`` random moments while the stream is produced; then compare."""
    rnd = random.Random(seed)
    stream = make_stream(events, partitions=4, series=max(40, events // 1500), seed=seed)
    config, prefix = setup.config("crash", "g-crash")
    producer = produce_over(setup, stream, seconds)
    checkpoints = 0.0
    for number in range(kills):
        service = setup.service(config, "crash").start()
        # A moment while it consumes: after its first events, before or after checkpoints.
        seen = service.wait(lambda m: total(m, "samplerr_events_total") > 0 or caught_up(m, 4), 60, "events")
        time.sleep(rnd.uniform(0.0, 3.0))
        try:
            checkpoints += total(service.metrics(), 'samplerr_checkpoints_total{result="ok"}')
        except OSError:
            checkpoints += total(seen, 'samplerr_checkpoints_total{result="ok"}')
        service.kill()
        assert service.process is not None and service.process.returncode == -9, f"kill {number}"
    producer.join()
    final = setup.service(config, "crash").start()
    drained(final, 4, timeout=300)
    assert final.stop() == 0
    actual = by_suffix(without_marker(documents(setup.es.url, prefix + "*")), prefix)
    expected = by_suffix(downsample_reference(config, stream, setup.tmp), prefix)
    assert_same_documents(actual, expected)
    assert_same_documents(actual, uninterrupted(setup, stream))
    restored = [e for e in final.log_lines() if "restored from checkpoint" in e.get("message", "")]
    assert checkpoints > 0
    assert restored, "the final run started from scratch: the test proved less than it should"


def test_kill_9_at_ten_random_moments_over_200k_events(setup: Setup):
    """The crash test, full size and in every CI run (about a minute)."""
    crash_run(setup, events=200_000, kills=10, seconds=45.0, seed=12)


def test_a_backlog_hours_old_is_consolidated_by_event_time_and_nothing_is_dropped_for_waiting(setup: Setup):
    """Two days of lag: every window is final by the wall clock as soon as it is seen, yet a late event
    must merge into its full window (ARCHITECTURE §6) — the clock only counts once caught up."""
    stream = make_stream(12_000, partitions=4, series=24, seed=9, start_s=time.time() - 3 * 86_400)
    setup.produce(stream.messages)
    config, prefix = setup.config("backlog", "g-backlog")
    service = setup.service(config, "backlog").start()
    metrics = drained(service, 4)
    with urllib.request.urlopen(service.url + "/healthz", timeout=5) as answer:
        health = json.loads(answer.read())
    assert health["status"] == "ok"
    assert len(health["partitions"]) == 4
    assert service.stop() == 0
    expected = by_suffix(downsample_reference(config, stream, setup.tmp, keep_marker=True), prefix)
    # downsample decides lateness by event time alone; so must the service, however old the events
    assert total(metrics, 'samplerr_late_events_total{outcome="merged"}') > 0
    actual = by_suffix(documents(setup.es.url, prefix + "*"), prefix)
    assert_same_documents(actual, expected)


def test_a_quiet_stream_is_flushed_by_the_wall_clock(setup: Setup):
    hours_ago = (time.time() // 3600 - 2) * 3600  # even its 1 h windows have ended
    stream = make_stream(2_000, partitions=4, series=8, step_s=1.0, seed=10, start_s=hours_ago)
    setup.produce(stream.messages[:-4])  # no marker: nothing pushes the watermark past the last windows
    config, prefix = setup.config("quiet", "g-quiet")
    text = config.read_text().replace('idle_flush = "30s"', 'idle_flush = "2s"')
    config.write_text(text)
    service = setup.service(config, "quiet").start()
    drained(service, 4)
    quiet = Stream(stream.messages[:-4], 4, stream.events - 4)
    expected = by_suffix(downsample_reference(config, quiet, setup.tmp), prefix)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the last windows end after the last event: by the clock
        actual = by_suffix(documents(setup.es.url, prefix + "*"), prefix)
        if actual.keys() == expected.keys():
            break
        time.sleep(0.5)
    assert service.stop() == 0
    assert_same_documents(actual, expected)
