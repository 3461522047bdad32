#!/usr/bin/env python3
"""Benchmark: samplerr's BulkWriter next to the official ``helpers.streaming_bulk``, same server, same run.

Both write the same documents (samplerr layout, deterministic ids) to a fresh index each. The
figure that matters is the CPU time of this (client) process per document, measured with
``time.process_time()`` around the send loop only: building the documents is not counted for
either side (samplerr's come as ready NDJSON from the renderer; the helper's as action dicts).

    scripts/bench_es.py                      # starts a dev server (9.x) and runs both
    scripts/bench_es.py --es http://127.0.0.1:9200 --docs 500000
    scripts/bench es-bulk …                  # the same, through scripts/bench

Prints a table, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import Elasticsearch, ElasticsearchWarning, helpers
from elasticsearch.serializer import OrjsonSerializer

from samplerr.adapters.es_bulk import BulkWriter
from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import ElasticsearchSettings

DAY0 = 1_795_392_000  # 2026-11-22T00:00:00Z


@dataclass
class Result:
    name: str
    docs: int
    cpu_s: float
    wall_s: float

    @property
    def cpu_us_per_doc(self) -> float:
        return self.cpu_s / self.docs * 1e6

    @property
    def docs_per_cpu_s(self) -> float:
        return self.docs / self.cpu_s if self.cpu_s else float("inf")

    @property
    def docs_per_s(self) -> float:
        return self.docs / self.wall_s if self.wall_s else float("inf")

    def as_dict(self) -> dict[str, object]:
        return {
            **asdict(self),
            "cpu_us_per_doc": round(self.cpu_us_per_doc, 3),
            "docs_per_cpu_s": round(self.docs_per_cpu_s),
            "docs_per_s": round(self.docs_per_s),
        }


def documents(count: int, index: str) -> Iterator[tuple[str, dict[str, object]]]:
    """``count`` consolidated documents of the samplerr layout: 500 series x 3 cfuncs per 20 s window."""
    cfuncs = ("avg", "min", "max")
    for i in range(count):
        series, rest = i % 500, i // 500
        cfunc, window = cfuncs[rest % 3], rest // 3
        start = DAY0 + window * 20
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
        yield (
            f"{index}-{series}-{cfunc}-{start}",
            {
                "@timestamp": stamp,
                "host": f"web-{series % 50:03d}",
                "service": f"cpu.{series // 50}",
                "metric": series * 0.37 + window,
                "cfunc": cfunc,
                "step": 20,
            },
        )


def ndjson(count: int, index: str) -> bytes:
    return b"".join(
        orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n" + orjson.dumps(doc) + b"\n"
        for doc_id, doc in documents(count, index)
    )


def count_docs(connection: EsConnection, index: str) -> int:
    connection.request("POST", f"/{index}/_refresh")
    return int(connection.request("GET", f"/{index}/_count").body["count"])  # type: ignore[index]


def bench_writer(connection: EsConnection, count: int, index: str) -> Result:
    body = ndjson(count, index)
    writer = BulkWriter(connection)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    report = writer.write(body)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert report.docs_ok == count, report
    return Result("samplerr BulkWriter", count, cpu, wall)


def bench_helper(client: Elasticsearch, count: int, index: str, name: str, chunk: int) -> Result:
    actions = [{"_index": index, "_id": doc_id, "_source": doc} for doc_id, doc in documents(count, index)]
    warnings.simplefilter("ignore", ElasticsearchWarning)  # the dot-prefix deprecation, once per chunk
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ok = 0
    for success, _info in helpers.streaming_bulk(client, actions, chunk_size=chunk, max_chunk_bytes=5 << 20):
        ok += success
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert ok == count, ok
    return Result(name, count, cpu, wall)


@contextlib.contextmanager
def dev_server(version: str) -> Iterator[str]:
    """Start ``samplerr devserver --port 0`` and yield its URL (read from its first line of output)."""
    command = [sys.executable, "-m", "samplerr", "devserver", "--port", "0", "--es-version", version]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = next((word for word in line.split() if word.startswith("http")), None)
        if url is None:
            raise SystemExit(f"dev server did not print its URL: {line!r}")
        yield url.rstrip(".,")
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(url: str, count: int, chunk: int) -> list[Result]:
    """One run of each client, each on a fresh index (checked by _count, then deleted)."""
    settings = ElasticsearchSettings(hosts=(url,), bulk_max_docs=chunk, request_timeout=120.0)
    tag = uuid.uuid4().hex[:8]
    results = []
    with EsConnection(settings) as connection:
        index = f"bench-{tag}-writer"
        results.append(bench_writer(connection, count, index))
        clients = (
            ("helpers.streaming_bulk", connection.client.options(request_timeout=120)),
            ("streaming_bulk + OrjsonSerializer", Elasticsearch(url, serializer=OrjsonSerializer())),
        )
        check_and_drop(connection, index, count)
        for number, (name, client) in enumerate(clients):
            index = f"bench-{tag}-helper{number}"
            results.append(bench_helper(client.options(request_timeout=120), count, index, name, chunk))
            check_and_drop(connection, index, count)
    return results


def check_and_drop(connection: EsConnection, index: str, count: int) -> None:
    found = count_docs(connection, index)
    if found != count:
        raise SystemExit(f"{index}: {found} documents, expected {count}")
    connection.request("DELETE", f"/{index}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--es", help="Elasticsearch URL (default: start a dev server)")
    parser.add_argument("--es-version", default="9.1.0", help="version the started dev server plays")
    parser.add_argument("--docs", type=int, default=50_000, help="documents per client and run")
    parser.add_argument("--chunk", type=int, default=5000, help="documents per bulk request (default 5000)")


def run_es_bulk(args: argparse.Namespace) -> dict[str, object]:
    """Run every client ``args.runs`` times; report medians, print a table unless ``args.json``."""
    runs: list[list[Result]] = []
    with contextlib.ExitStack() as stack:
        url = args.es or stack.enter_context(dev_server(args.es_version))
        for _ in range(args.runs):
            runs.append(run(url, args.docs, args.chunk))
    medians = [
        Result(
            name=per_client[0].name,
            docs=per_client[0].docs,
            cpu_s=statistics.median(r.cpu_s for r in per_client),
            wall_s=statistics.median(r.wall_s for r in per_client),
        )
        for per_client in zip(*runs, strict=True)
    ]
    base = medians[0]
    report: dict[str, object] = {
        "server": url if args.es else f"dev server {args.es_version}",
        "docs": args.docs,
        "chunk": args.chunk,
        "runs": args.runs,
        "results": [r.as_dict() | {"cpu_ratio_to_writer": round(r.cpu_s / base.cpu_s, 2)} for r in medians],
    }
    if not args.json:
        print(
            f"bulk writes of {args.docs:,} documents in chunks of {args.chunk:,} to {report['server']}; "
            f"medians of {args.runs} runs; CPU = this client process only"
        )
        print(f"{'client':36} {'CPU us/doc':>11} {'docs/CPU-s':>11} {'docs/s':>9} {'CPU x':>6}")
        for r in medians:
            print(
                f"{r.name:36} {r.cpu_us_per_doc:11.2f} {r.docs_per_cpu_s:11,.0f} "
                f"{r.docs_per_s:9,.0f} {r.cpu_s / base.cpu_s:6.1f}"
            )
    return report


def add_es_bulk(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``es-bulk`` in scripts/bench (``common`` brings --runs and --json)."""
    parser = subparsers.add_parser(
        "es-bulk",
        parents=[common],
        help="bulk writer vs helpers.streaming_bulk: client CPU per document",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add_arguments(parser)
    parser.set_defaults(run=run_es_bulk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench_es.py", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--runs", type=int, default=3, help="runs per client (medians)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    add_arguments(parser)
    args = parser.parse_args(argv)
    report = run_es_bulk(args)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
