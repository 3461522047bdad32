"""Two `samplerr run` instances in one group with cooperative (incremental) rebalancing.

With ``partition.assignment.strategy = "cooperative-sticky"`` librdkafka hands partitions over by
difference: a member joining takes some partitions away from the other, which keeps consuming the
rest (``incremental_assign``/``incremental_unassign`` in the Kafka source). librdkafka's mock cluster
runs the classic group protocol, over which cooperative-sticky is an assignor of the clients, so it
supports it. The archives must come out as `samplerr downsample` computes them, whatever moved where.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

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
from tests.service.test_run_delivery import ARCHIVES, CONSOLIDATION, Setup, drained, produce_over

COOPERATIVE = {"partition.assignment.strategy": "cooperative-sticky"}


def cooperative_config(setup: Setup) -> tuple[Path, str]:
    prefix = f".c{uuid.uuid4().hex[:8]}-"
    path = setup.tmp / "cooperative.toml"
    path.write_text(
        config_text(
            es_url=setup.es.url,
            index_prefix=prefix,
            bootstrap=setup.kafka.bootstrap,
            topics=[setup.topic],
            group=f"g-{uuid.uuid4().hex[:8]}",
            checkpoint_dir=setup.tmp / "checkpoints",  # one host: both instances share it
            archives=ARCHIVES,
            consolidation=CONSOLIDATION,
            service='shutdown_timeout = "20s"',
            kafka_config=COOPERATIVE,
        )
    )
    return path, prefix


def handovers(service: Service, what: str) -> list[set[int]]:
    """The partitions of each ``assigned``/``revoked``/``lost`` line of the service's log, in order."""
    out = []
    for entry in service.log_lines():
        match = re.fullmatch(rf"{what} (.+)", entry.get("message", ""))
        if match:
            out.append({int(p) for p in re.findall(r"\[(\d+)\]", match.group(1))})
    return out


def cooperative_run(setup: Setup, events: int, seconds: float, seed: int) -> None:
    stream = make_stream(events, partitions=4, series=max(40, events // 1500), seed=seed)
    config, prefix = cooperative_config(setup)
    one = setup.service(config, "one").start()
    producer = produce_over(setup, stream, seconds)
    one.wait(lambda m: total(m, "samplerr_events_total") > events // 10, 60, "the first events")
    two = setup.service(config, "two").start()  # joins while the stream is being produced
    for service in (one, two):
        service.wait(lambda m: m.get("samplerr_assigned_partitions") == 2, 60, "half of the partitions each")
    moved = handovers(two, "assigned")[0]
    assert one.stop() == 0  # SIGTERM mid-stream: its partitions move to two, with their checkpoints
    two.wait(lambda m: m.get("samplerr_assigned_partitions") == 4, 60, "every partition")
    producer.join()
    drained(two, 4, timeout=180)
    assert two.stop() == 0

    # Incremental: when two joined, one gave up only the partitions two took, and kept the others
    # (an eager protocol revokes everything and assigns anew); two then added one's partitions to its own.
    assert handovers(one, "assigned") == [{0, 1, 2, 3}]
    assert handovers(one, "revoked") == [moved, {0, 1, 2, 3} - moved]
    assert handovers(two, "assigned") == [moved, {0, 1, 2, 3} - moved]
    assert not handovers(one, "lost") and not handovers(two, "lost")
    restored = [e for e in two.log_lines() if "restored from checkpoint" in e.get("message", "")]
    assert len(restored) >= 2  # the partitions one handed over, each from the checkpoint one made
    actual = by_suffix(without_marker(documents(setup.es.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, setup.tmp), prefix))


@pytest.fixture
def setup(tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess) -> Setup:
    topic = kafka.create_topic(f"coop-{uuid.uuid4().hex[:8]}", 4)
    return Setup(tmp_path, kafka, devserver, topic)


def test_cooperative_rebalancing_hands_partitions_over_incrementally_and_loses_nothing(setup: Setup):
    cooperative_run(setup, events=20_000, seconds=8.0, seed=31)


@pytest.mark.slow
def test_cooperative_rebalancing_over_200k_events(setup: Setup):
    cooperative_run(setup, events=200_000, seconds=40.0, seed=32)
