"""`samplerr run` in bad weather: Elasticsearch outages and 429s, garbage on the topic, lost checkpoints,
two instances sharing a group — and the file and stdin sources. Separate processes, real protocols."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.devserver.process import DevServerProcess
from tests.service.harness import ROOT, Service, config_text, documents, samplerr_command, total
from tests.service.kafka_mock import MockKafka
from tests.service.streams import (
    assert_same_documents,
    by_suffix,
    downsample_reference,
    make_stream,
    without_marker,
)
from tests.service.test_run_delivery import ARCHIVES, CONSOLIDATION, caught_up, drained

ZSTD = {"compression.type": "zstd", "linger.ms": 20}


def write_config(
    tmp: Path, es_url: str, kafka: MockKafka, topic: str, name: str = "run", kafka_lines: str = ""
) -> tuple[Path, str]:
    prefix = f".o{uuid.uuid4().hex[:8]}-"
    path = tmp / f"{name}.toml"
    path.write_text(
        config_text(
            es_url=es_url,
            index_prefix=prefix,
            bootstrap=kafka.bootstrap,
            topics=[topic],
            group=f"g-{uuid.uuid4().hex[:8]}",
            checkpoint_dir=tmp / "checkpoints",
            archives=ARCHIVES,
            consolidation=CONSOLIDATION,
            service='shutdown_timeout = "20s"',
            kafka_lines=kafka_lines,
        )
    )
    return path, prefix


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_an_outage_and_429s_pause_consumption_lose_nothing_and_keep_memory_bounded(
    tmp_path: Path, kafka: MockKafka, start_devserver
):
    es: DevServerProcess = start_devserver(data_dir=tmp_path / "es")
    topic = kafka.create_topic(f"outage-{uuid.uuid4().hex[:8]}", 4)
    stream = make_stream(24_000, partitions=4, series=60, seed=3)
    half = len(stream.messages) // 2
    kafka.produce(topic, stream.messages[:half], config=ZSTD)
    config, prefix = write_config(tmp_path, es.url, kafka, topic)
    service = Service(
        config,
        tmp_path / "run.log",
        # small polls, so that the burst below cannot be taken in one while Elasticsearch is away
        extra=("--queue-mib", "0.1", "--checkpoint-interval", "1s", "--max-poll-messages", "1000"),
    )
    service.start()
    service.wait(lambda m: total(m, 'samplerr_bulk_docs_total{result="ok"}') > 0, 60, "first documents")

    es.set_faults(unavailable_for_s=5, bulk_item_429_ratio=0.2, seed=5)
    kafka.produce(topic, stream.messages[half:], config=ZSTD)
    assert service.process is not None
    baseline = rss_kib(service.process.pid)
    peak, lagging, failing = baseline, 0.0, 0.0
    service.wait(lambda m: m.get("samplerr_consumer_paused") == 1, 30, "consumption to pause")
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:  # while Elasticsearch is away: Kafka keeps the backlog
        metrics = service.metrics()
        lagging = max(lagging, total(metrics, "samplerr_consumer_lag_messages"))
        failing = max(failing, metrics["samplerr_sink_failing"])
        assert metrics["samplerr_sink_queue_bytes"] < 1 << 20
        peak = max(peak, rss_kib(service.process.pid))
        time.sleep(0.2)
    assert lagging > 500  # the rest waits in Kafka, not in memory
    assert failing == 1
    assert peak - baseline < 64 * 1024, f"RSS grew by {(peak - baseline) // 1024} MiB during the outage"

    metrics = drained(service, 4, timeout=120)
    assert metrics["samplerr_consumer_paused"] == 0
    assert metrics["samplerr_sink_failing"] == 0
    assert metrics['samplerr_bulk_docs_total{result="retried"}'] > 0  # the 429s
    assert service.stop() == 0
    es.clear_faults()
    actual = by_suffix(without_marker(documents(es.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))
    log = [e["message"] for e in service.log_lines() if "message" in e]
    assert any("pausing consumption" in m for m in log)
    assert any("takes writes again" in m for m in log)


GARBAGE: list[tuple[str, bytes]] = [
    ("not_parseable", b"\xff\xfe not utf-8 \x80"),
    ("not_parseable", b'{"host": "h", "service": "s", "metric": 1, "ti'),
    ("not_parseable", b'{"host": "h", "service": "' + b"x" * (1_200_000) + b'", "metric": 1, "time": 1}'),
    ("not_finite", b'{"host": "h", "service": "s", "metric": NaN, "time": 1795600000}'),
    ("not_finite", b'{"host": "h", "service": "s", "metric": "Infinity", "time": 1795600000}'),
    ("no_value", b'{"host": "h", "service": "s", "time": 1795600000}'),
    ("no_value", b'{"host": "h", "service": "s", "metric": "twelve", "time": 1795600000}'),
    ("no_time", b'{"host": "h", "service": "s", "metric": 1}'),
    ("time_out_of_range", b'{"host": "h", "service": "s", "metric": 1, "time": 32503680000}'),
    ("time_out_of_range", b'{"host": "h", "service": "s", "metric": 1, "time": -5}'),
]


def test_garbage_on_the_topic_is_counted_by_reason_and_every_valid_event_is_archived(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    topic = kafka.create_topic(f"garbage-{uuid.uuid4().hex[:8]}", 4)
    stream = make_stream(8_000, partitions=4, series=16, seed=4)
    messages = list(stream.messages[:-4])
    expected = Counter()
    for i, (reason, line) in enumerate(GARBAGE * 3):
        messages.insert(100 + i * 211, (i % 4, line))
        expected[reason] += 1
    messages.append((1, b'{"host": "h", "service": "s", "metric": 1, "time": 1}\n\xff\n'))  # one of each
    expected.update({"time_out_of_range": 1, "not_parseable": 1})
    messages += stream.messages[-4:]  # the markers last
    kafka.produce(topic, messages, config={**ZSTD, "message.max.bytes": 4_000_000})
    config, prefix = write_config(tmp_path, devserver.url, kafka, topic)
    service = Service(config, tmp_path / "run.log").start()
    metrics = drained(service, 4)
    rejected = {
        key.split('"')[1]: value
        for key, value in metrics.items()
        if key.startswith("samplerr_events_rejected_total{")
    }
    assert rejected == dict(expected)
    assert metrics["samplerr_events_total"] == stream.events
    assert service.stop() == 0
    log = " ".join(e.get("message", "") for e in service.log_lines())
    assert "input lines or events rejected" in log
    actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))


def test_a_lost_checkpoint_is_refused_rather_than_overwriting_windows(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    topic = kafka.create_topic(f"lost-{uuid.uuid4().hex[:8]}", 2)
    stream = make_stream(2_000, partitions=2, series=4, seed=5)
    kafka.produce(topic, stream.messages[: len(stream.messages) // 2])
    config, _ = write_config(tmp_path, devserver.url, kafka, topic)
    first = Service(config, tmp_path / "first.log", extra=("--checkpoint-interval", "1s")).start()
    first.wait(lambda m: total(m, 'samplerr_commits_total{result="ok"}') >= 2, 60, "offsets to be committed")
    assert first.stop() == 0
    for path in (tmp_path / "checkpoints").rglob("*.ckpt"):
        path.unlink()

    again = Service(config, tmp_path / "again.log").start()
    assert again.exit_status(60) == 1
    errors = [e["message"] for e in again.log_lines() if e.get("level") == "error"]
    assert any("not in the directory" in m and "--discard-state" in m for m in errors), errors

    forced = Service(config, tmp_path / "forced.log", extra=("--discard-state",)).start()
    forced.wait(lambda m: caught_up(m, 2), 60, "the partitions to start")
    assert forced.stop() == 0


def test_two_instances_share_the_partitions_and_hand_them_over(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    topic = kafka.create_topic(f"pair-{uuid.uuid4().hex[:8]}", 4)
    stream = make_stream(20_000, partitions=4, series=40, seed=6)
    half = len(stream.messages) // 2
    kafka.produce(topic, stream.messages[:half], config=ZSTD)
    config, prefix = write_config(tmp_path, devserver.url, kafka, topic)
    one = Service(config, tmp_path / "one.log", extra=("--checkpoint-interval", "1s")).start()
    two = Service(config, tmp_path / "two.log", extra=("--checkpoint-interval", "1s")).start()
    for service in (one, two):
        service.wait(lambda m: m.get("samplerr_assigned_partitions") == 2, 60, "half of the partitions each")
    assert one.stop() == 0  # its partitions move to the other, with their checkpoints
    two.wait(lambda m: m.get("samplerr_assigned_partitions") == 4, 60, "all partitions")
    kafka.produce(topic, stream.messages[half:], config=ZSTD)
    drained(two, 4)
    assert two.stop() == 0
    restored = [e for e in two.log_lines() if "restored from checkpoint" in e.get("message", "")]
    assert len(restored) >= 2
    actual = by_suffix(without_marker(documents(devserver.url, prefix + "*")), prefix)
    assert_same_documents(actual, by_suffix(downsample_reference(config, stream, tmp_path), prefix))


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_file_and_stdin_sources_run_to_the_end_of_input(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess, source: str
):
    stream = make_stream(6_000, partitions=1, series=12, seed=8, start_s=1_795_000_000)
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(value for _, value in stream.messages) + b"\nnot json\n")
    config, prefix = write_config(tmp_path, devserver.url, kafka, "unused")
    args = ["run", "--config", str(config), "--no-lifecycle", "--log-format", "json", "--source", source]
    if source == "file":
        args += ["--input", str(events)]
    result = subprocess.run(
        samplerr_command(*args),
        input=events.read_bytes() if source == "stdin" else None,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    log = [json.loads(line)["message"] for line in result.stderr.decode().splitlines()]
    assert any("not_parseable 1" in m for m in log), log
    actual = by_suffix(documents(devserver.url, prefix + "*"), prefix)
    # At the end of input every window is written, as `samplerr downsample` does (markers included).
    expected = by_suffix(downsample_reference(config, stream, tmp_path, keep_marker=True), prefix)
    assert_same_documents(actual, expected)


def test_a_pipe_that_stays_open_is_consumed_as_lines_arrive(
    tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess
):
    """``telegraf | samplerr run --source stdin``: a few lines are taken without waiting for more."""
    stream = make_stream(300, partitions=1, series=6, seed=15, start_s=1_795_000_000)
    config, _ = write_config(tmp_path, devserver.url, kafka, "unused")
    read_end, write_end = os.pipe()
    service = Service(config, tmp_path / "pipe.log", extra=("--source", "stdin"), stdin=read_end).start()
    os.close(read_end)
    try:
        os.write(write_end, b"\n".join(value for _, value in stream.messages) + b"\n")  # ~30 KiB
        service.wait(lambda m: total(m, "samplerr_events_total") == len(stream.messages), 30, "the lines")
    finally:
        os.close(write_end)  # end of input: the service writes what is open and exits
    assert service.exit_status(60) == 0


def test_each_topic_is_read_in_its_own_format(tmp_path: Path, kafka: MockKafka, devserver: DevServerProcess):
    json_topic = kafka.create_topic(f"json-{uuid.uuid4().hex[:8]}", 2)
    influx_topic = kafka.create_topic(f"influx-{uuid.uuid4().hex[:8]}", 2)
    events = make_stream(2_000, partitions=2, series=6, seed=13)
    lines = make_stream(2_000, partitions=2, series=6, seed=14)
    influx = [(p, influx_line(value)) for p, value in lines.messages]
    kafka.produce(json_topic, events.messages)
    kafka.produce(influx_topic, influx)
    prefix = f".f{uuid.uuid4().hex[:8]}-"
    config = tmp_path / "formats.toml"
    config.write_text(
        config_text(
            es_url=devserver.url,
            index_prefix=prefix,
            bootstrap=kafka.bootstrap,
            topics=[json_topic, influx_topic],
            group=f"g-{uuid.uuid4().hex[:8]}",
            checkpoint_dir=tmp_path / "checkpoints",
            archives=ARCHIVES,
            consolidation=CONSOLIDATION,
            kafka_lines=f'topic_formats = {{ "{influx_topic}" = "influx" }}',
        )
    )
    service = Service(config, tmp_path / "run.log").start()
    metrics = drained(service, 4)
    assert metrics["samplerr_events_total"] == events.events + lines.events
    assert service.stop() == 0
    influx_stream = type(lines)(influx, 2, lines.events)
    (tmp_path / "json").mkdir()
    (tmp_path / "influx").mkdir()
    expected = downsample_reference(config, events, tmp_path / "json", keep_marker=True)
    expected |= downsample_reference(
        config, influx_stream, tmp_path / "influx", keep_marker=True, fmt="influx"
    )
    actual = documents(devserver.url, prefix + "*")
    assert_same_documents(without_marker(actual), without_marker(expected))
    assert any(doc.get("service") == "cpu.value" for doc in actual.values())  # <measurement>.<field>


def influx_line(event_json: bytes) -> bytes:
    event = json.loads(event_json)
    host = event["host"].replace(" ", "\\ ")
    return f"{event['service']},host={host} value={event['metric']!r} {round(event['time'] * 1e9)}".encode()
