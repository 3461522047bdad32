"""The Kafka source against librdkafka's mock cluster (the real protocol, in this process)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator, Mapping

import pytest

from samplerr.adapters.kafka import KafkaSource, PartitionBatch, TopicPart, consumer_config
from samplerr.core.config import KafkaSettings
from samplerr.core.errors import SourceError
from tests.service.kafka_mock import MockKafka

FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 200}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def settings(kafka: MockKafka, topic: str, group: str, **config: object) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=kafka.bootstrap, topics=(topic,), group_id=group, config={**FAST_GROUP, **config}
    )


class Recorder:
    """Rebalance callbacks that remember what happened and start partitions where told."""

    def __init__(self, starts: Mapping[TopicPart, int] | None = None) -> None:
        self.starts = dict(starts or {})
        self.assigned: list[TopicPart] = []
        self.revoked: list[tuple[list[TopicPart], bool]] = []

    def on_assigned(self, parts: list[TopicPart]) -> dict[TopicPart, int | None]:
        self.assigned.extend(parts)
        return {tp: self.starts.get(tp) for tp in parts}

    def on_revoked(self, parts: list[TopicPart], lost: bool) -> None:
        self.revoked.append((parts, lost))


@pytest.fixture
def open_source() -> Iterator[Callable[[KafkaSettings], KafkaSource]]:
    made: list[KafkaSource] = []

    def make(s: KafkaSettings) -> KafkaSource:
        source = KafkaSource(s)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def poll_until(
    source: KafkaSource, done: Callable[[list[PartitionBatch]], bool], timeout: float = 20.0
) -> list[PartitionBatch]:
    got: list[PartitionBatch] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got.extend(source.poll(1000, 0.1))
        if done(got):
            return got
    raise AssertionError(f"condition not met in {timeout} s; got {len(got)} batches")


def values_by_partition(batches: list[PartitionBatch]) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    for batch in batches:
        out.setdefault(batch.tp.partition, []).extend(batch.values)
    return out


def test_the_configuration_forces_manual_offsets_and_keeps_user_settings():
    config = consumer_config(
        KafkaSettings(
            bootstrap_servers="b:9092",
            group_id="g",
            config={"enable.auto.commit": True, "auto.offset.reset": "latest", "security.protocol": "SSL"},
        )
    )
    assert config["enable.auto.commit"] is False
    assert config["enable.auto.offset.store"] is False
    assert config["auto.offset.reset"] == "latest"
    assert config["security.protocol"] == "SSL"
    assert config["bootstrap.servers"] == "b:9092"
    assert config["group.id"] == "g"


def test_batches_come_per_partition_in_offset_order(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("order"), 3)
    kafka.produce(topic, [(i % 3, b"m%d" % i) for i in range(300)] + [(0, b"")])
    recorder = Recorder()
    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(recorder.on_assigned, recorder.on_revoked)
    batches = poll_until(source, lambda got: sum(len(b.values) + b.empty for b in got) >= 301)
    by_partition = values_by_partition(batches)
    for partition in range(3):
        assert by_partition[partition] == [b"m%d" % i for i in range(partition, 300, 3)]
    last = {b.tp.partition: b.next_offset for b in batches}
    assert last == {0: 101, 1: 100, 2: 100}  # the tombstone on partition 0 counts as read
    assert sum(b.empty for b in batches) == 1
    assert sorted(recorder.assigned) == [TopicPart(topic, p) for p in range(3)]
    assert source.assigned == {TopicPart(topic, p) for p in range(3)}


def test_batches_of_several_topics_stay_apart(kafka: MockKafka, open_source):
    """Subscribed to two topics, each message is filed under its own topic and partition."""
    first, second = kafka.create_topic(unique("one"), 2), kafka.create_topic(unique("two"), 2)
    kafka.produce(first, [(i % 2, b"a%d" % i) for i in range(200)])
    kafka.produce(second, [(i % 2, b"b%d" % i) for i in range(100)])
    both = dataclasses.replace(settings(kafka, first, unique("g")), topics=(first, second))
    source = open_source(both)
    source.subscribe(Recorder().on_assigned, Recorder().on_revoked)
    batches = poll_until(source, lambda got: sum(len(b.values) for b in got) >= 300)
    got: dict[TopicPart, list[bytes]] = {}
    for batch in batches:
        got.setdefault(batch.tp, []).extend(batch.values)
    assert got == {
        TopicPart(first, 0): [b"a%d" % i for i in range(0, 200, 2)],
        TopicPart(first, 1): [b"a%d" % i for i in range(1, 200, 2)],
        TopicPart(second, 0): [b"b%d" % i for i in range(0, 100, 2)],
        TopicPart(second, 1): [b"b%d" % i for i in range(1, 100, 2)],
    }
    assert {b.tp: b.next_offset for b in batches} == {
        TopicPart(first, 0): 100,
        TopicPart(first, 1): 100,
        TopicPart(second, 0): 50,
        TopicPart(second, 1): 50,
    }


def test_assignment_starts_each_partition_where_the_service_says(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("start"), 2)
    kafka.produce(topic, [(i % 2, b"m%d" % i) for i in range(100)])
    recorder = Recorder(starts={TopicPart(topic, 0): 40})  # partition 1: from the beginning
    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(recorder.on_assigned, recorder.on_revoked)
    batches = poll_until(source, lambda got: sum(len(b.values) for b in got) >= 10 + 50)
    by_partition = values_by_partition(batches)
    assert by_partition[0] == [b"m%d" % i for i in range(80, 100, 2)]
    assert by_partition[1] == [b"m%d" % i for i in range(1, 100, 2)]


def test_commits_carry_metadata_and_a_new_member_starts_there(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("commit"), 1)
    group = unique("g")
    kafka.produce(topic, [(0, b"m%d" % i) for i in range(20)])
    tp = TopicPart(topic, 0)
    first = open_source(settings(kafka, topic, group))
    first.subscribe(Recorder().on_assigned, Recorder().on_revoked)
    poll_until(first, lambda got: sum(len(b.values) for b in got) >= 20)
    first.commit({tp: (12, "samplerr fs:host #3")})
    committed = first.committed([tp])[tp]
    assert (committed.offset, committed.metadata) == (12, "samplerr fs:host #3")
    first.close()

    second = open_source(settings(kafka, topic, group))
    second.subscribe(Recorder().on_assigned, Recorder().on_revoked)
    batches = poll_until(second, lambda got: sum(len(b.values) for b in got) >= 8)
    assert values_by_partition(batches)[0] == [b"m%d" % i for i in range(12, 20)]


def test_paused_partitions_deliver_nothing_until_resumed(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("pause"), 2)
    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(Recorder().on_assigned, Recorder().on_revoked)
    kafka.produce(topic, [(0, b"first")])
    poll_until(source, lambda got: any(b.values for b in got))
    source.pause()
    assert source.paused
    kafka.produce(topic, [(i % 2, b"later") for i in range(10)])
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert source.poll(1000, 0.1) == []
    source.resume()
    batches = poll_until(source, lambda got: sum(len(b.values) for b in got) >= 10)
    assert sum(len(b.values) for b in batches) == 10


def test_lag_is_measured_from_the_high_watermark(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("lag"), 1)
    tp = TopicPart(topic, 0)
    kafka.produce(topic, [(0, b"m%d" % i) for i in range(50)])
    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(Recorder().on_assigned, Recorder().on_revoked)
    poll_until(source, lambda got: sum(len(b.values) for b in got) >= 50)
    assert source.lag({tp: 50}) == {tp: 0}
    assert source.lag({tp: 30}) == {tp: 20}


def test_a_second_member_takes_partitions_away_through_the_callbacks(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("rebalance"), 4)
    group = unique("g")
    one, two = Recorder(), Recorder()
    first = open_source(settings(kafka, topic, group))
    first.subscribe(one.on_assigned, one.on_revoked)
    kafka.produce(topic, [(p, b"x") for p in range(4)])
    poll_until(first, lambda got: sum(len(b.values) for b in got) >= 4)
    assert len(first.assigned) == 4
    second = open_source(settings(kafka, topic, group))
    second.subscribe(two.on_assigned, two.on_revoked)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (first.assigned and second.assigned):
        first.poll(100, 0.05)
        second.poll(100, 0.05)
    assert first.assigned and second.assigned
    assert first.assigned.isdisjoint(second.assigned)
    assert first.assigned | second.assigned == {TopicPart(topic, p) for p in range(4)}
    assert one.revoked and not one.revoked[0][1]  # revoked, not lost


def test_a_failing_rebalance_callback_surfaces_as_a_source_error(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("boom"), 1)

    def refuse(parts: list[TopicPart]) -> dict[TopicPart, int | None]:
        raise SourceError("state of partition missing")

    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(refuse, Recorder().on_revoked)
    with pytest.raises(SourceError, match="state of partition missing"):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            source.poll(100, 0.1)


def test_messages_deleted_by_retention_before_being_read_are_reported(kafka: MockKafka, open_source):
    topic = kafka.create_topic(unique("retention"), 1)
    tp = TopicPart(topic, 0)
    # The mock keeps 5 MiB per partition: 80,000 messages of 100 bytes push the oldest out.
    kafka.produce(topic, [(0, b"%099d" % i) for i in range(80_000)])
    source = open_source(settings(kafka, topic, unique("g")))
    source.subscribe(Recorder(starts={tp: 0}).on_assigned, Recorder().on_revoked)
    batches = poll_until(source, lambda got: bool(got) and got[-1].next_offset == 80_000)
    first = batches[0].first_offset
    assert first > 0
    assert source.skipped_messages == first
    assert sum(len(b.values) for b in batches) == 80_000 - first
