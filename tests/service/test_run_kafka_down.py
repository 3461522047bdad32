"""`samplerr run` while no Kafka broker answers: /healthz, the metrics and the log say so; it recovers.

Each test owns its mock cluster (the session's is shared): one takes the broker down and up again
with librdkafka's ``rd_kafka_mock_broker_set_down``/``set_up`` (the port stays the same, connections
are refused meanwhile, like a broker being restarted), the other points samplerr at a closed port.
"""

from __future__ import annotations

import logging
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError

from samplerr.adapters.kafka import KafkaSource, consumer_config, reachable_brokers
from samplerr.core.config import KafkaSettings
from tests.devserver.process import DevServerProcess
from tests.service.harness import Service, config_text, documents, total
from tests.service.kafka_mock import MockKafka
from tests.service.streams import (
    assert_same_documents,
    by_suffix,
    downsample_reference,
    make_stream,
    without_marker,
)
from tests.service.test_run_delivery import ARCHIVES, CONSOLIDATION, caught_up, drained

GRACE_S = 3
DOWN_REASON = re.compile(r"kafka: all brokers down for \d+ s")


# -- the source's bookkeeping, through the callbacks it hands to librdkafka ---------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def statistics(*brokers: tuple[str, str, str]) -> str:
    """librdkafka's statistics JSON with brokers given as (name, source, state)."""
    return orjson.dumps(
        {
            "brokers": {
                name: {"name": name, "nodename": name.rsplit("/", 1)[0], "source": source, "state": state}
                for name, source, state in brokers
            }
        }
    ).decode()


@pytest.fixture
def callbacks() -> tuple[KafkaSource, dict[str, object], FakeClock]:
    clock = FakeClock()
    given: dict[str, object] = {}

    def factory(config: dict[str, object]) -> object:
        given.update(config)
        return object()

    source = KafkaSource(KafkaSettings(bootstrap_servers="b:9092"), clock=clock, consumer_factory=factory)
    return source, given, clock


def test_brokers_up_are_counted_once_per_address_and_logical_ones_left_out():
    text = statistics(
        ("k1:9092/bootstrap", "configured", "UP"),
        ("k1:9092/1", "learned", "UP"),
        ("k2:9092/2", "learned", "UPDATE"),
        ("k3:9092/3", "learned", "CONNECT"),
        ("GroupCoordinator", "logical", "UP"),
    )
    assert reachable_brokers(orjson.loads(text)) == 2
    assert reachable_brokers({"brokers": {}}) == 0


def test_statistics_are_always_on_and_a_chosen_interval_is_kept():
    assert consumer_config(KafkaSettings())["statistics.interval.ms"] == 5000
    assert (
        consumer_config(KafkaSettings(config={"statistics.interval.ms": 0}))["statistics.interval.ms"] == 5000
    )
    assert (
        consumer_config(KafkaSettings(config={"statistics.interval.ms": 800}))["statistics.interval.ms"]
        == 800
    )


def test_all_brokers_down_is_timed_and_logged_once_and_a_broker_up_ends_it(callbacks, caplog):
    source, given, clock = callbacks
    caplog.set_level(logging.INFO)
    on_error, on_statistics = given["error_cb"], given["stats_cb"]
    assert callable(on_error) and callable(on_statistics)
    on_statistics(statistics(("k1:9092/1", "learned", "UP")))
    assert (source.brokers_up, source.all_brokers_down, source.brokers_down_for) == (1, False, 0.0)
    on_error(KafkaError(KafkaError._TRANSPORT, "k1:9092/1: Disconnected"))
    on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    for _ in range(50):
        clock.now += 0.1
        on_error(KafkaError(KafkaError._TRANSPORT, "k1:9092/bootstrap: Connect failed"))
    on_statistics(statistics(("k1:9092/bootstrap", "configured", "INIT")))
    assert source.all_brokers_down
    assert source.brokers_up == 0
    assert source.brokers_down_for == pytest.approx(5.0)
    assert source.errors == {"_TRANSPORT": 51, "_ALL_BROKERS_DOWN": 1}
    on_statistics(statistics(("k1:9092/1", "learned", "UP")))
    assert (source.brokers_up, source.all_brokers_down, source.brokers_down_for) == (1, False, 0.0)
    lines = [r.getMessage() for r in caplog.records if r.name == "samplerr.adapters.kafka"]
    assert lines == [
        "Kafka: k1:9092/1: Disconnected (_TRANSPORT)",
        "Kafka: no broker answers (1/1 brokers are down); "
        "samplerr keeps trying and consumes again when one does",
        "Kafka: a broker answers again after 5 s",
    ]


def test_librdkafka_connection_failures_are_rate_limited_and_silent_while_every_broker_is_down(
    callbacks, caplog
):
    _, given, clock = callbacks
    logger = given["logger"]
    fail = ("%s [%s] %s", "FAIL", "samplerr#consumer-1", "k1:9092/1: Connect failed")
    for _ in range(10):
        logger.log(40, *fail)  # type: ignore[attr-defined]
        clock.now += 1
    logger.log(30, "%s [%s] %s", "SESSTMOUT", "samplerr#consumer-1", "session timed out")  # type: ignore[attr-defined]
    given["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))  # type: ignore[operator]
    clock.now += 60
    logger.log(40, *fail)  # type: ignore[attr-defined]
    given["stats_cb"](statistics(("k1:9092/1", "learned", "UP")))  # type: ignore[operator]
    logger.log(40, *fail)  # type: ignore[attr-defined]
    lines = [r.getMessage() for r in caplog.records if r.name == "samplerr.librdkafka"]
    assert [line.split(" ", 1)[0] for line in lines] == ["FAIL", "SESSTMOUT", "FAIL"]


def write_config(tmp: Path, es_url: str, bootstrap: str, topic: str) -> tuple[Path, str]:
    prefix = f".k{uuid.uuid4().hex[:8]}-"
    path = tmp / "run.toml"
    path.write_text(
        config_text(
            es_url=es_url,
            index_prefix=prefix,
            bootstrap=bootstrap,
            topics=[topic],
            group=f"g-{uuid.uuid4().hex[:8]}",
            checkpoint_dir=tmp / "checkpoints",
            archives=ARCHIVES,
            consolidation=CONSOLIDATION,
            service=f'shutdown_timeout = "20s"\nhealth_grace = "{GRACE_S}s"',
        )
    )
    return path, prefix


def health(service: Service) -> tuple[int, dict[str, Any]]:
    assert service.url is not None
    try:
        with urllib.request.urlopen(service.url + "/healthz", timeout=5) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def wait_health(
    service: Service, condition: Callable[[int, dict[str, Any]], bool], timeout: float, what: str
) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    status, body = 0, {}
    while time.monotonic() < deadline:
        assert service.process is not None and service.process.poll() is None, "samplerr run exited"
        status, body = health(service)
        if condition(status, body):
            return status, body
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last /healthz: {status} {body}")


def kafka_down(status: int, body: dict[str, Any]) -> bool:
    return status == 503 and any(DOWN_REASON.fullmatch(p) for p in body["problems"])


def messages(service: Service, pattern: str) -> list[str]:
    return [e["message"] for e in service.log_lines() if re.search(pattern, e.get("message", ""))]


def test_all_brokers_down_fails_health_with_the_reason_and_a_broker_back_restores_it(
    tmp_path: Path, devserver: DevServerProcess
):
    cluster = MockKafka()
    try:
        topic = cluster.create_topic(f"down-{uuid.uuid4().hex[:8]}", 2)
        stream = make_stream(3_000, partitions=2, series=6, seed=21)
        half = len(stream.messages) // 2
        cluster.produce(topic, stream.messages[:half])
        config, prefix = write_config(tmp_path, devserver.url, cluster.bootstrap, topic)
        service = Service(config, tmp_path / "run.log", extra=("--checkpoint-interval", "1s")).start()
        service.wait(
            lambda m: caught_up(m, 2) and m.get("samplerr_kafka_brokers_reachable", 0) >= 1,
            60,
            "the partitions to be consumed and a broker to be seen up",
        )
        assert health(service)[0] == 200

        cluster.broker_down()
        down_at = time.monotonic()
        wait_health(service, kafka_down, 30, "/healthz to say that Kafka is down")
        assert time.monotonic() - down_at >= GRACE_S  # not before the grace period
        metrics = service.metrics()
        assert metrics["samplerr_kafka_brokers_reachable"] == 0
        assert metrics['samplerr_kafka_errors_total{code="_ALL_BROKERS_DOWN"}'] >= 1
        time.sleep(1.0)  # librdkafka keeps failing to connect: counted, not logged
        metrics = service.metrics()
        assert total(metrics, "samplerr_kafka_errors_total") >= 10
        assert len(messages(service, "no broker answers")) == 1
        assert len(messages(service, r"^Kafka: .*\(_TRANSPORT\)")) <= 1  # the disconnection, at most
        assert len(messages(service, r"^FAIL ")) <= 1  # librdkafka's own lines about it too

        cluster.broker_up()
        cluster.produce(topic, stream.messages[half:])
        wait_health(service, lambda status, _: status == 200, 60, "/healthz to recover")
        service.wait(lambda m: m["samplerr_kafka_brokers_reachable"] >= 1, 30, "a broker seen up again")
        assert len(messages(service, "a broker answers again after")) == 1
        metrics = drained(service, 2)
        assert service.stop() == 0
        # Nothing was lost across the outage (the group lost its members and rebalanced meanwhile).
        actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
        assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))
    finally:
        cluster.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_brokers_never_reachable_fail_health_and_sigterm_still_stops_cleanly(
    tmp_path: Path, devserver: DevServerProcess
):
    config, _ = write_config(tmp_path, devserver.url, f"127.0.0.1:{closed_port()}", "nowhere")
    service = Service(config, tmp_path / "run.log").start()
    service.wait_for_url()
    _, body = wait_health(service, kafka_down, 30, "/healthz to say that Kafka is down")
    assert body["kafka_brokers_reachable"] == 0
    metrics = service.metrics()
    assert metrics['samplerr_kafka_errors_total{code="_ALL_BROKERS_DOWN"}'] == 1
    assert metrics['samplerr_kafka_errors_total{code="_TRANSPORT"}'] >= 1
    started = time.monotonic()
    assert service.stop(timeout=30) == 0
    assert time.monotonic() - started < 15
    assert len(messages(service, "no broker answers")) == 1
