"""Reproducible event streams for the service tests, and the reference they must come out equal to.

Events are Riemann JSON lines. Series are keyed to partitions (series ``s`` lives in partition
``s % partitions``), as the service requires of producers. Within a partition, events come roughly
in time order: jittered within the lateness, a share late by minutes (merged into held windows) and
a share late by hours (beyond the hold: dropped), so every late-data path is exercised.

Times start one day after the wall clock, so no window is ever final by the clock during a test: every
decision is made by the partitions' watermarks, and the results are exactly reproducible. The stream
ends with one marker event per partition a day later, which pushes the watermark past every window;
the marker's own windows stay open and are left out of comparisons (:data:`MARKER_HOST`).
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samplerr.adapters.files import open_input
from samplerr.commands.downsample import run_downsample
from samplerr.configfile import load_config
from samplerr.core.config import InputFormat
from samplerr.pipeline import BulkBody

MARKER_HOST = "end-of-stream"
REL = 1e-9


@dataclass(frozen=True)
class Stream:
    """``messages[i]`` is (partition, value) in production order."""

    messages: list[tuple[int, bytes]]
    partitions: int
    events: int

    def of_partition(self, partition: int) -> list[bytes]:
        return [value for p, value in self.messages if p == partition]


def make_stream(
    events: int,
    partitions: int = 4,
    series: int = 40,
    step_s: float = 5.0,
    seed: int = 7,
    late_share: float = 0.01,
    very_late_share: float = 0.002,
    start_s: float | None = None,
) -> Stream:
    rnd = random.Random(seed)
    start = start_s if start_s is not None else (int(time.time()) // 3600 + 24) * 3600
    per_series = events // series
    rows: list[tuple[float, int, bytes]] = []  # (arrival key, partition, line)
    for s in range(series):
        host, service = f"web-{s:03d}", ("cpu", "mem", "disk")[s % 3]
        for i in range(per_series):
            nominal = start + i * step_s + (s % 7) * 0.5
            t = nominal + rnd.uniform(-4, 4)
            arrival = nominal + rnd.uniform(0, 3)
            draw = rnd.random()
            if draw < very_late_share:
                arrival += rnd.uniform(3 * 3600, 5 * 3600)  # beyond late_hold
            elif draw < very_late_share + late_share:
                arrival += rnd.uniform(60, 400)  # beyond lateness, within late_hold
            value = round(rnd.uniform(-50, 150), 6)
            line = json.dumps({"host": host, "service": service, "metric": value, "time": round(t, 3)})
            rows.append((arrival, s % partitions, line.encode()))
    rows.sort(key=lambda r: r[0])
    end = max(r[0] for r in rows) + 86_400
    for p in range(partitions):
        marker = {"host": MARKER_HOST, "service": f"p{p}", "metric": 0, "time": end}
        rows.append((end, p, json.dumps(marker).encode()))
    return Stream([(p, line) for _, p, line in rows], partitions, len(rows))


def downsample_reference(
    config: Path, stream: Stream, workdir: Path, *, keep_marker: bool = False, fmt: InputFormat = "json"
) -> dict[tuple[str, str], dict[str, Any]]:
    """What `samplerr downsample` computes from each partition's events: (index, _id) -> document.

    It runs in this process (``run_downsample``, what the command runs) to keep the suite fast.
    """
    settings = load_config(config, env={})
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for p in range(stream.partitions):
        events = workdir / f"partition-{p}.{fmt}"
        events.write_bytes(b"\n".join(stream.of_partition(p)) + b"\n")
        bodies: list[bytes] = []
        with open_input(str(events)) as source:
            run_downsample(settings, source, fmt, functools.partial(_keep_body, bodies))
        lines = b"".join(bodies).splitlines()
        for action, doc in zip(lines[::2], lines[1::2], strict=True):
            meta = json.loads(action)["index"]
            out[(meta["_index"], meta["_id"])] = json.loads(doc)
    return out if keep_marker else without_marker(out)


def _keep_body(bodies: list[bytes], collected: list[BulkBody]) -> None:
    bodies.extend(body.body for body in collected)


def without_marker(docs: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {key: doc for key, doc in docs.items() if doc.get("host") != MARKER_HOST}


def by_suffix(
    docs: dict[tuple[str, str], dict[str, Any]], prefix: str
) -> dict[tuple[str, str], dict[str, Any]]:
    """Documents keyed by (index name without ``prefix``, _id), to compare runs with other prefixes."""
    out = {}
    for (index, doc_id), doc in docs.items():
        assert index.startswith(prefix), index
        out[(index.removeprefix(prefix), doc_id)] = doc
    return out


def assert_same_documents(actual: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]) -> None:
    """Same keys; same fields; numbers equal to 1e-9 relative."""
    missing = expected.keys() - actual.keys()
    extra = actual.keys() - expected.keys()
    assert not missing and not extra, (
        f"{len(missing)} documents missing (e.g. {sorted(missing)[:3]}), "
        f"{len(extra)} extra (e.g. {sorted(extra)[:3]})"
    )
    differences = []
    for key, want in expected.items():
        got = actual[key]
        if got.keys() != want.keys() or not all(_equal(got[f], want[f]) for f in want):
            differences.append((key, got, want))
    assert not differences, f"{len(differences)} documents differ, e.g. {differences[:3]}"


def _equal(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=REL, abs_tol=0.0) or a == b
    return a == b
