"""`[kafka] dead_letter_topic`: every line rejected for an input error lands there once, with why.

Separate `samplerr run` processes against librdkafka's mock cluster and the development server. The
dead letters are read back from the mock cluster: their values, headers (reason, source topic,
partition, offset) and count; and the valid events around them must still be archived exactly.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import confluent_kafka
import pytest

from samplerr.adapters.kafka import PartitionBatch, TopicPart
from samplerr.adapters.kafka_dead_letters import MAX_LINE_BYTES, source_offsets
from samplerr.pipeline import FEED_BYTES
from tests.devserver.process import DevServerProcess
from tests.service.harness import FAST_GROUP, Service, documents, total
from tests.service.kafka_mock import API_PRODUCE, MockKafka
from tests.service.streams import (
    assert_same_documents,
    by_suffix,
    downsample_reference,
    make_stream,
    without_marker,
)
from tests.service.test_run_delivery import caught_up, drained
from tests.service.test_run_operations import GARBAGE, ZSTD
from tests.service.test_run_operations import write_config as run_config

NOT_ENOUGH_REPLICAS = 19  # a Kafka error librdkafka's producer retries
Letter = tuple[str, bytes, str, int, int | None]  # reason, value, source topic, partition, offset


def write_config(
    tmp: Path, es_url: str, kafka: MockKafka, topic: str, dead_letter_topic: str
) -> tuple[Path, str]:
    return run_config(tmp, es_url, kafka, topic, kafka_lines=f'dead_letter_topic = "{dead_letter_topic}"')


def read_topic(kafka: MockKafka, topic: str, at_least: int, timeout: float = 30) -> list[Letter]:
    """Every message of ``topic`` as a letter; waits for ``at_least`` of them, then for quiet."""
    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP,
        }
    )
    consumer.subscribe([topic])
    letters: list[Letter] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    try:
        while time.monotonic() < deadline:
            messages = consumer.consume(1000, 0.2)
            for message in messages:
                assert message.error() is None, message.error()
                assert message.key() is None
                head = {key: value.decode() for key, value in message.headers() or []}
                offset = head.get("samplerr.offset")
                value = message.value()
                if "samplerr.truncated" in head:
                    value += b"<truncated from %s>" % head["samplerr.truncated"].encode()
                letters.append(
                    (
                        head["samplerr.reason"],
                        value,
                        head["samplerr.topic"],
                        int(head["samplerr.partition"]),
                        None if offset is None else int(offset),
                    )
                )
            if len(letters) >= at_least:
                if messages or quiet_until is None:
                    quiet_until = time.monotonic() + 1.0
                elif time.monotonic() >= quiet_until:
                    break
    finally:
        consumer.close()
    return letters


def with_offsets(messages: list[tuple[int, bytes]]) -> list[tuple[int, int, bytes]]:
    """(partition, offset, value) in production order: a new topic's offsets count from 0 per partition."""
    next_offset: Counter[int] = Counter()
    out = []
    for partition, value in messages:
        out.append((partition, next_offset[partition], value))
        next_offset[partition] += 1
    return out


def expected_letter(reason: str, line: bytes, topic: str, partition: int, offset: int) -> Letter:
    if len(line) > MAX_LINE_BYTES:
        line = line[:MAX_LINE_BYTES] + b"<truncated from %d>" % len(line)
    return (reason, line, topic, partition, offset)


def test_rejected_lines_go_to_the_dead_letter_topic_once_with_their_reason_and_source(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    topic = kafka.create_topic(f"dlq-src-{uuid.uuid4().hex[:8]}", 4)
    dead = f"dlq-{uuid.uuid4().hex[:8]}"
    stream = make_stream(8_000, partitions=4, series=16, seed=41)
    messages = list(stream.messages[:-4])
    for i, (_, line) in enumerate(GARBAGE * 2):
        index = 100 + i * 293
        messages.insert(index, (i % 4, line))
    two_lines = b'{"host": "h", "service": "s", "metric": 1, "time": 1}\n\xff\n'  # one good-looking, both bad
    messages.insert(4_000, (1, two_lines))
    messages += stream.messages[-4:]  # the markers last
    garbage = {line: reason for reason, line in GARBAGE}
    expected: list[Letter] = []
    for partition, offset, value in with_offsets(messages):
        if value == two_lines:
            expected.append(
                expected_letter("time_out_of_range", value.split(b"\n")[0], topic, partition, offset)
            )
            expected.append(expected_letter("not_parseable", b"\xff", topic, partition, offset))
        elif value in garbage:
            expected.append(expected_letter(garbage[value], value, topic, partition, offset))
    assert len(expected) == 2 * len(GARBAGE) + 2
    kafka.produce(topic, messages, config={**ZSTD, "message.max.bytes": 4_000_000})
    config, prefix = write_config(tmp_path, devserver.url, kafka, topic, dead)
    service = Service(config, tmp_path / "run.log").start()
    metrics = drained(service, 4)
    assert metrics["samplerr_events_total"] == stream.events
    metrics = service.wait(
        lambda m: total(m, "samplerr_dead_letters_total") >= len(expected), 30, "the dead letters"
    )
    assert service.stop() == 0
    delivered = {
        key.split('"')[1]: value
        for key, value in metrics.items()
        if key.startswith("samplerr_dead_letters_total{")
    }
    assert delivered == Counter(letter[0] for letter in expected)
    assert total(metrics, "samplerr_dead_letter_failures_total") == 0

    letters = read_topic(kafka, dead, len(expected))
    assert Counter(letters) == Counter(expected)  # each bad line once, nothing else
    log = " ".join(e.get("message", "") for e in service.log_lines())
    assert f"go to dead-letter topic {dead}" in log
    assert "not supported" not in log
    actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))


def test_large_polls_are_fed_in_pieces_and_each_rejected_line_keeps_its_offset(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    """Messages of 20 lines, megabytes per partition and poll: the service feeds them in pieces
    (FEED_BYTES); the same bad line, repeated in messages of several pieces, is traced to each of
    its messages, and the archives are those of the events."""
    topic = kafka.create_topic(f"dlq-big-{uuid.uuid4().hex[:8]}", 2)
    dead = f"dlq-{uuid.uuid4().hex[:8]}"
    stream = make_stream(60_000, partitions=2, series=40, seed=43)
    bad = b'{"host": "h", "service": "s", "metric": "x", "time": 1}'  # no_value, the same each time
    messages: list[tuple[int, bytes]] = []
    pending: dict[int, list[bytes]] = {0: [], 1: []}
    for i, (partition, line) in enumerate(stream.messages[:-2]):
        pending[partition].append(line)
        if i % 997 == 0:
            pending[partition].append(bad)
        if len(pending[partition]) >= 20:
            messages.append((partition, b"\n".join(pending[partition])))
            pending[partition] = []
    messages += [(p, b"\n".join(lines)) for p, lines in pending.items() if lines]
    messages += stream.messages[-2:]  # the markers last
    expected = [
        expected_letter("no_value", bad, topic, partition, offset)
        for partition, offset, value in with_offsets(messages)
        for line in value.split(b"\n")
        if line == bad
    ]
    assert len(expected) > 40
    assert sum(len(v) for p, v in messages if p == 0) > 4 * FEED_BYTES
    kafka.produce(topic, messages, config={**ZSTD, "message.max.bytes": 4_000_000})
    config, prefix = write_config(tmp_path, devserver.url, kafka, topic, dead)
    service = Service(config, tmp_path / "run.log").start()
    metrics = drained(service, 2)
    assert metrics["samplerr_events_total"] == stream.events
    service.wait(lambda m: total(m, "samplerr_dead_letters_total") >= len(expected), 30, "the dead letters")
    assert service.stop() == 0
    assert Counter(read_topic(kafka, dead, len(expected))) == Counter(expected)
    actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))


def test_a_crash_before_kafka_acknowledged_the_dead_letters_loses_none_of_them(
    tmp_path: Path, devserver: DevServerProcess
):
    """The mock refuses every Produce request (retriably) during the first run: the dead letters stay
    unacknowledged, so no checkpoint may pass their offsets; kill -9, and the next run sends them."""
    cluster = MockKafka()
    try:
        topic = cluster.create_topic(f"dlq-crash-{uuid.uuid4().hex[:8]}", 2)
        dead = cluster.create_topic(f"dlq-{uuid.uuid4().hex[:8]}", 1)
        stream = make_stream(3_000, partitions=2, series=6, seed=42)
        messages = list(stream.messages[:-2])
        for i, (_, line) in enumerate(GARBAGE[3:8]):  # short ones
            messages.insert(500 + i * 300, (i % 2, line))
        messages += stream.messages[-2:]
        garbage = {line: reason for reason, line in GARBAGE}
        expected = {
            expected_letter(garbage[value], value, topic, partition, offset)
            for partition, offset, value in with_offsets(messages)
            if value in garbage
        }
        cluster.produce(topic, messages)
        cluster.fail_requests(API_PRODUCE, NOT_ENOUGH_REPLICAS, 100_000)
        config, prefix = write_config(tmp_path, devserver.url, cluster, topic, dead)
        first = Service(config, tmp_path / "first.log", extra=("--checkpoint-interval", "1s")).start()
        first.wait(
            lambda m: caught_up(m, 2) and m.get("samplerr_events_total") == stream.events,
            60,
            "every event to be consumed",
        )
        time.sleep(3.0)  # three checkpoint intervals
        metrics = first.metrics()
        assert total(metrics, "samplerr_dead_letters_total") == 0  # none acknowledged
        assert total(metrics, 'samplerr_checkpoints_total{result="ok"}') == 0  # so no checkpoint passed them
        first.kill()
        cluster.clear_request_errors(API_PRODUCE)

        again = Service(config, tmp_path / "again.log", extra=("--checkpoint-interval", "1s")).start()
        metrics = drained(again, 2)
        again.wait(lambda m: total(m, "samplerr_dead_letters_total") >= len(expected), 30, "the dead letters")
        assert again.stop() == 0
        letters = read_topic(cluster, dead, len(expected))
        assert set(letters) == expected  # every one, possibly twice
        actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
        assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))
    finally:
        cluster.close()


# -- where a rejected line came from ----------------------------------------------------------------


def batch(values: list[bytes], first: int = 10, **counts: int) -> PartitionBatch:
    skipped = counts.get("empty", 0) + counts.get("duplicates", 0)
    return PartitionBatch(
        TopicPart("t", 0), values, first_offset=first, next_offset=first + len(values) + skipped, **counts
    )


@pytest.mark.parametrize(
    ("values", "lines", "expected"),
    [
        ([b"a\nbad\nc"], [b"bad"], [10]),
        ([b"x1", b"bad", b"x2", b"bad"], [b"bad", b"bad"], [11, 13]),  # the n-th copy is the n-th one
        ([b"bad\nbad", b"bad"], [b"bad", b"bad", b"bad"], [10, 10, 11]),
        ([b"1 bad 1", b"ba", b"x\nbad"], [b"ba", b"bad"], [11, 12]),  # whole lines only, not substrings
        ([b"a", b"b\n"], [b"b"], [11]),
    ],
)
def test_each_rejected_line_is_traced_to_its_message(values, lines, expected):
    assert source_offsets(batch(values), lines) == expected


def test_offsets_are_not_guessed_when_messages_were_skipped():
    assert source_offsets(batch([b"bad", b"x"], empty=1), [b"bad"]) == [None]
    assert source_offsets(batch([b"bad", b"x"], duplicates=2), [b"bad"]) == [None]
    gap = PartitionBatch(TopicPart("t", 0), [b"bad", b"x"], first_offset=5, next_offset=9)  # compacted
    assert source_offsets(gap, [b"bad"]) == [None]
