#!/usr/bin/env python3
"""Benchmark: `samplerr run` from Kafka (librdkafka's mock cluster) to Elasticsearch (the dev server).

    scripts/bench run [--runs 3] [--partitions 8] [--modes single,batch] [--es URL] [--json]
    scripts/bench_run.py …                     # the same, standalone

The workload of scripts/bench_workload.py (1.44 M Riemann JSON events, 2,000 series) is produced to a
topic of ``--partitions`` partitions, keyed by host (as samplerr requires of producers: all events
of a series in one partition), zstd-compressed (the mock keeps 5 MiB per partition). Two message
shapes: ``single`` (one event per message) and ``batch`` (Telegraf-style: the lines of one host, up
to 20, per message). Producing is not measured.

Then `samplerr run` (archives 20 s / 10 min / 1 h, avg/min/max, checkpoints every 5 s) consumes the
topic and writes to a dev server (started here unless --es). Measured on the samplerr process only
(its utime + stime from /proc, librdkafka's threads included; the mock cluster and the dev server
run in other processes): CPU seconds per million events — from the moment it is ready (imports,
configuration and Elasticsearch done: reported apart as startup) to the moment everything is
consumed and acknowledged — and the wall-clock rate from its first event, which the dev server may
bound (/metrics is scraped every second to follow progress, as Prometheus would, only more
often). Target: ≤ 4 CPU-s per million events. Medians of --runs runs.

For scale, the same topic is also read by a bare consumer in its own process — the same
librdkafka settings, ``consume(10000)`` and ``value()`` of each message, nothing else — whose CPU
per million events is the floor any Python consumer of that topic pays (column ``floor``). And
after the run, samplerr's CPU use while idle for 10 s with its state held (``idle CPU %``): the
cost of time itself (ticks, checkpoints, statistics), which the events of a run against a slow
Elasticsearch carry more of than those of a fast one.

And the yardstick the target was set with ("consuming from the mock cluster costs ~5 µs per
message with ``json.loads`` in a simple loop"): the bare consumer again, with ``json.loads`` of
each line of each message (column ``json loop``, CPU-s per million events), measured next to each
run too. The target of 4 CPU-s per million events was set on a machine where that loop cost ~5 µs
a message; ``x json loop`` (samplerr's CPU / that loop's, run by run) is the reading of the target that does
not move with this machine's speed: ≤ 0.8 for one event per message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from bench_workload import DEFAULT_PATH, ensure_events_file  # noqa: E402

from tests.service.harness import scrape as metrics  # noqa: E402
from tests.service.harness import total  # noqa: E402
from tests.service.kafka_mock import MockKafka  # noqa: E402

TARGET_CPU_S_PER_MILLION = 4.0
IDLE_S = 10.0
STALL_S = 300.0  # a run that reads and writes nothing for that long has failed
BATCH_LINES = 20
CONFIG = """
[elasticsearch]
hosts = ["{es}"]
index_prefix = "{prefix}"
alias_prefix = "{alias}"
[kafka]
bootstrap_servers = "{bootstrap}"
topics = ["{topic}"]
group_id = "{group}"
format = "json"
[kafka.config]
"session.timeout.ms" = 6000
[service]
listen = "127.0.0.1:0"
checkpoint_dir = "{checkpoints}"
[consolidation]
lateness = "30s"
late_hold = "10m"
idle_flush = "30s"
[[archives]]
tf = "YYYY.MM.DD"
step = "20s"
ttl = "2d"
cfuncs = ["avg", "min", "max"]
[[archives]]
tf = "YYYY.MM"
step = "10m"
ttl = "2mo"
cfuncs = ["avg", "min", "max"]
[[archives]]
tf = "YYYY"
step = "1h"
ttl = "10y"
cfuncs = ["avg", "min", "max"]
"""


@dataclass(frozen=True)
class Result:
    mode: str
    events: int
    messages: int
    startup_cpu_s: float
    cpu_s: float  # from the first event to the end
    wall_s: float
    docs: int
    floor_cpu_s: float = 0.0  # a bare consumer reading the same topic
    idle_cpu_per_s: float = 0.0  # samplerr's CPU seconds per second once everything is written
    times_floor: float = 0.0  # samplerr's CPU / the floor's, each run next to its own floor
    json_loop_cpu_s: float = 0.0  # the bare consumer with json.loads of each line
    times_json_loop: float = 0.0  # samplerr's CPU / that loop's, each run next to its own

    @property
    def cpu_s_per_million(self) -> float:
        return self.cpu_s / self.events * 1e6

    @property
    def floor_cpu_s_per_million(self) -> float:
        return self.floor_cpu_s / self.events * 1e6

    @property
    def json_loop_cpu_s_per_million(self) -> float:
        return self.json_loop_cpu_s / self.events * 1e6

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_s

    def as_dict(self) -> dict[str, object]:
        return asdict(self) | {
            "cpu_s_per_million_events": round(self.cpu_s_per_million, 3),
            "floor_cpu_s_per_million_events": round(self.floor_cpu_s_per_million, 3),
            "events_per_s": round(self.events_per_s),
            "events_per_cpu_s": round(self.events_per_cpu_s),
            "times_floor": round(self.times_floor, 2),
            "json_loop_cpu_s_per_million_events": round(self.json_loop_cpu_s_per_million, 3),
            "times_json_loop": round(self.times_json_loop, 2),
        }


def host_of(line: bytes) -> bytes:
    start = line.index(b'"host":"') + 8
    return line[start : line.index(b'"', start)]


def messages(lines: list[bytes], mode: str, partitions: int) -> list[tuple[int, bytes]]:
    """(partition, value) in arrival order: one event each, or up to 20 lines of one host."""
    if mode == "single":
        return [(zlib.crc32(host_of(line)) % partitions, line.rstrip(b"\n")) for line in lines]
    out: list[tuple[int, bytes]] = []
    pending: dict[bytes, list[bytes]] = {}
    for line in lines:
        host = host_of(line)
        batch = pending.setdefault(host, [])
        batch.append(line.rstrip(b"\n"))
        if len(batch) == BATCH_LINES:
            out.append((zlib.crc32(host) % partitions, b"\n".join(batch)))
            pending[host] = []
    out.extend((zlib.crc32(h) % partitions, b"\n".join(b)) for h, b in pending.items() if b)
    return out


@contextlib.contextmanager
def dev_server() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "samplerr", "devserver", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    match = re.search(r"listening on (http://\S+)", process.stdout.readline())
    if match is None:
        process.kill()
        raise RuntimeError("the dev server did not start")
    try:
        yield match.group(1).rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(kafka: MockKafka, es: str, topic: str, count: int, mode: str, work: Path) -> Result:
    config = work / f"{uuid.uuid4().hex[:8]}.toml"
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    config.write_text(
        CONFIG.format(
            es=es,
            prefix=prefix,
            alias=f"a{prefix}",
            bootstrap=kafka.bootstrap,
            topic=topic,
            group=f"bench-{uuid.uuid4().hex}",
            checkpoints=work / "checkpoints",
        )
    )
    log = (work / "run.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samplerr",
            "run",
            "-c",
            str(config),
            "--no-lifecycle",
            "--log-format",
            "json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        cwd=ROOT,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            found = re.search(rb"metrics on (http://\S+?)/metrics", (work / "run.log").read_bytes())
            url = found.group(1).decode() if found else None
            time.sleep(0.05)
        if url is None:
            raise RuntimeError("samplerr run did not start: see " + str(work / "run.log"))
        startup_cpu = cpu_seconds(process.pid)  # imports, configuration, Elasticsearch reached
        first_wall = None
        progress = (-1.0, -1.0)
        progress_at = time.monotonic()
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"samplerr run exited with {process.returncode}")
            sample = metrics(url)
            events = total(sample, "samplerr_events_total")
            if first_wall is None and events > 0:
                first_wall = time.monotonic()
            if events >= count and sample.get("samplerr_sink_queue_bytes") == 0:
                end_cpu, end_wall = cpu_seconds(process.pid), time.monotonic()
                docs = int(total(sample, 'samplerr_bulk_docs_total{result="ok"}'))
                break
            now_progress = (events, total(sample, 'samplerr_bulk_docs_total{result="ok"}'))
            if now_progress != progress:
                progress, progress_at = now_progress, time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                raise RuntimeError(
                    f"samplerr run made no progress for {STALL_S:g} s ({events:,.0f} of {count:,} events "
                    f"read): see {work / 'run.log'}"
                )
            time.sleep(1.0)  # scraping /metrics costs samplerr CPU too: not too often
        assert first_wall is not None
        # then idle, with the state of 2,000 series held: what time alone costs (ticks,
        # checkpoints, statistics, the scrapes), which a faster Elasticsearch would spread thinner
        time.sleep(IDLE_S / 2)
        metrics(url)
        time.sleep(IDLE_S / 2)
        idle_cpu_per_s = (cpu_seconds(process.pid) - end_cpu) / IDLE_S
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()
    drop_indices(es, prefix)
    return Result(
        mode, count, 0, startup_cpu, end_cpu - startup_cpu, end_wall - first_wall, docs, 0.0, idle_cpu_per_s
    )


def drop_indices(es: str, prefix: str) -> None:
    """Delete the indices a run wrote (by name: wildcard deletes are refused by default): the dev
    server keeps documents in memory, ~1 KiB each, 2.2 million per run."""
    with urllib.request.urlopen(f"{es}/_cat/indices/{prefix}*?format=json&h=index", timeout=60) as answer:
        names = sorted(row["index"] for row in json.load(answer))
    for lo in range(0, len(names), 50):
        request = urllib.request.Request(f"{es}/{','.join(names[lo : lo + 50])}", method="DELETE")
        urllib.request.urlopen(request, timeout=60).close()


BARE_CONSUMER = """
import json, os, sys, time
from confluent_kafka import Consumer
bootstrap, topic, count, loads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "json"
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "floor-" + str(os.getpid()),
    "auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000})
consumer.subscribe([topic])
seen = events = 0
start = None
while seen < count:
    messages = consumer.consume(num_messages=10000, timeout=0.1)
    if messages and start is None:
        start = time.process_time()
    for message in messages:
        if message.error() is None:
            value = message.value()
            seen += 1
            events += value.count(b"\\n") + 1 if value else 0
            if loads and value:
                for line in value.split(b"\\n"):
                    json.loads(line)
end = time.process_time()
consumer.close()
print(end - (start or end), events)
"""


def floor_run(kafka: MockKafka, topic: str, messages: int, *, loads: bool = False) -> float:
    """CPU seconds of a bare consumer that reads ``messages`` messages of ``topic`` (and
    ``json.loads`` each of their lines with ``loads``)."""
    answer = subprocess.run(
        [
            sys.executable,
            "-c",
            BARE_CONSUMER,
            kafka.bootstrap,
            topic,
            str(messages),
            "json" if loads else "value",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return float(answer.stdout.split()[0])


def run_bench(args: argparse.Namespace) -> dict[str, object]:
    events_path = Path(args.events) if args.events else ensure_events_file(DEFAULT_PATH)
    lines = events_path.read_bytes().splitlines(keepends=True)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: list[Result] = []
    kafka = MockKafka()
    try:
        with contextlib.ExitStack() as stack:
            es = args.es or stack.enter_context(dev_server())
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-run-")))
            for mode in modes:
                shaped = messages(lines, mode, args.partitions)
                topic = kafka.create_topic(f"bench-{mode}-{uuid.uuid4().hex[:6]}", args.partitions)
                kafka.produce(
                    topic,
                    shaped,
                    config={
                        "compression.type": "zstd",
                        "linger.ms": 50,
                        "batch.size": 1_000_000,
                        "queue.buffering.max.messages": 2_000_000,
                    },
                )
                # Each run next to its own floor: this machine's speed drifts by tens of percent
                # over minutes, so their ratio is steadier than either figure alone.
                runs: list[Result] = []
                floors: list[float] = []
                json_loops: list[float] = []
                for _ in range(args.runs):
                    floors.append(floor_run(kafka, topic, len(shaped)))
                    runs.append(one_run(kafka, es, topic, len(lines), mode, work))
                    json_loops.append(floor_run(kafka, topic, len(shaped), loads=True))
                results.append(
                    Result(
                        mode,
                        len(lines),
                        len(shaped),
                        statistics.median(r.startup_cpu_s for r in runs),
                        statistics.median(r.cpu_s for r in runs),
                        statistics.median(r.wall_s for r in runs),
                        runs[0].docs,
                        statistics.median(floors),
                        statistics.median(r.idle_cpu_per_s for r in runs),
                        statistics.median(r.cpu_s / f for r, f in zip(runs, floors, strict=True)),
                        statistics.median(json_loops),
                        statistics.median(r.cpu_s / j for r, j in zip(runs, json_loops, strict=True)),
                    )
                )
    finally:
        kafka.close()
    report: dict[str, object] = {
        "sink": args.es or "dev server (9.x, in memory)",
        "partitions": args.partitions,
        "runs": args.runs,
        "target_cpu_s_per_million_events": TARGET_CPU_S_PER_MILLION,
        "load_average_1m": os.getloadavg()[0],
        "results": [r.as_dict() for r in results],
    }
    if not args.json:
        print(
            f"samplerr run: {len(lines):,} events from the mock Kafka cluster ({args.partitions} partitions) "
            f"to {report['sink']}; medians of {args.runs} runs; CPU = the samplerr process only"
        )
        print(
            f"{'messages':22} {'CPU s/M events':>15} {'events/CPU-s':>13} {'events/s':>10} "
            f"{'startup CPU s':>14} {'docs':>10} {'floor':>6} {'x floor':>7} {'idle CPU %':>10} "
            f"{'json loop':>9} {'x json loop':>11}"
        )
        for r in results:
            label = f"{r.mode} ({r.messages:,})"
            print(
                f"{label:22} {r.cpu_s_per_million:15.2f} {r.events_per_cpu_s:13,.0f} {r.events_per_s:10,.0f} "
                f"{r.startup_cpu_s:14.2f} {r.docs:10,} {r.floor_cpu_s_per_million:6.2f} {r.times_floor:7.2f} "
                f"{100 * r.idle_cpu_per_s:10.1f} "
                f"{r.json_loop_cpu_s_per_million:9.2f} {r.times_json_loop:11.2f}"
            )
        print(f"target: <= {TARGET_CPU_S_PER_MILLION:g} CPU s per million events")
        print("floor: CPU s per million events of a bare consumer (consume + value()) on the same topic")
        print("x floor: samplerr's CPU / the floor's, each run measured right after its own floor")
        print(f"idle CPU %: samplerr's CPU use once all is written ({IDLE_S:g} s, state held, one scrape)")
        print(
            "json loop: CPU s per million events of the bare consumer with json.loads of each line, the "
            "yardstick of the target (~5 µs a message where it was set); x json loop: samplerr's CPU / its"
        )
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--partitions", type=int, default=8, help="partitions of the topic (default 8)")
    parser.add_argument(
        "--modes", default="single,batch", help="message shapes: single, batch (default both)"
    )
    parser.add_argument("--es", help="an Elasticsearch URL instead of a dev server started here")


def add_run(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``run`` in scripts/bench (``common`` brings --runs, --json and --events)."""
    parser = subparsers.add_parser(
        "run",
        parents=[common],
        help="samplerr run from Kafka to the dev server: samplerr's CPU per million events",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)
    parser.set_defaults(run=run_bench)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_run.py", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--runs", type=int, default=3, help="runs per mode (medians)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--events", help="JSON-lines events (default: the bench workload)")
    add_arguments(parser)
    report = run_bench(parser.parse_args(argv))
    if parser.parse_args(argv).json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
