"""A partition's state: snapshots that continue exactly, eviction of idle series, the series limit."""

from __future__ import annotations

import dataclasses
import random

import orjson
import pytest

from samplerr.configfile import parse_text
from samplerr.core.config import Config, ConsolidationSettings
from samplerr.service_state import SERIES_LIMIT, PartitionState, StateError

CONFIG = """
[consolidation]
lateness = "30s"
late_hold = "10m"
idle_flush = "30s"
[[archives]]
tf = "YYYY.MM.DD"
step = "20s"
ttl = "2d"
cfuncs = ["avg", "min", "max", "count", "first", "last", "sum"]
[[archives]]
tf = "YYYY.MM"
step = "10m"
ttl = "2mo"
cfuncs = ["avg", "max"]
"""
T0 = 1_795_000_000  # 2026-11-18


def config(extra: str = "") -> Config:
    return parse_text(extra + CONFIG, "test.toml", {})


def events(n: int, series: int = 20, seed: int = 1) -> list[bytes]:
    """A stream of ``n`` events, a few seconds out of order, some late by minutes, a few by hours."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + i // series * 5 + rnd.uniform(-4, 4)
        if rnd.random() < 0.01:
            t -= rnd.choice((120, 400, 7200))
        event = {"host": f"h{i % series}", "service": "cpu", "metric": rnd.uniform(-1, 1) * 100, "time": t}
        out.append(orjson.dumps(event))
    return out


def documents(bodies: list[bytes]) -> dict[str, bytes]:
    """The last version of each document, by id."""
    docs: dict[str, bytes] = {}
    for body in bodies:
        lines = body.splitlines()
        for action, doc in zip(lines[::2], lines[1::2], strict=True):
            docs[orjson.loads(action)["index"]["_id"]] = doc
    return docs


def run(state: PartitionState, lines: list[bytes], chunk: int) -> list[bytes]:
    bodies = []
    for i in range(0, len(lines), chunk):
        state.feed(b"\n".join(lines[i : i + chunk]), room=10**6)
        bodies.extend(b.body for b in state.collect())
    return bodies


def test_a_restored_snapshot_continues_exactly_like_an_uninterrupted_run():
    cfg = config()
    lines = events(6000)
    whole = PartitionState(cfg, "json")
    expected = documents(run(whole, lines, 500) + [b.body for b in whole.finish()])

    bodies: list[bytes] = []
    state = PartitionState(cfg, "json")
    for cut in (0, 1300, 2900, 4100):
        state = PartitionState.restore(cfg, "json", state.snapshot())
        nxt = {0: 1300, 1300: 2900, 2900: 4100, 4100: 6000}[cut]
        bodies += run(state, lines[cut:nxt], 333)
    bodies += [b.body for b in state.finish()]
    assert documents(bodies) == expected
    assert whole.pipeline.consolidator.stats.late_dropped > 0  # the stream does drop some


def test_compaction_forgets_idle_series_and_changes_no_result():
    cfg = config()
    old = [orjson.dumps({"host": f"gone{i}", "service": "x", "metric": 1, "time": T0}) for i in range(50)]
    lines = events(4000, series=10)
    reference = PartitionState(cfg, "json")
    expected = documents(run(reference, old + lines, 400) + [b.body for b in reference.finish()])

    state = PartitionState(cfg, "json")
    bodies = run(state, old + lines[:2000], 400)
    assert state.series_count == 60
    forgotten = state.compact()
    assert forgotten == 50  # their windows were written and their hold is over
    assert state.series_count == 10
    bodies += run(state, lines[2000:], 400) + [b.body for b in state.finish()]
    assert documents(bodies) == expected


def test_new_series_beyond_the_room_left_are_refused_and_counted():
    state = PartitionState(config(), "json")
    lines = [orjson.dumps({"host": f"h{i}", "service": "s", "metric": i, "time": T0}) for i in range(10)]
    assert state.feed(b"\n".join(lines[:6]), room=6) == 0
    refused = state.feed(b"\n".join(lines), room=2)  # 6 known + 2 new admitted, 2 refused
    assert refused == 2
    assert state.rejected[SERIES_LIMIT] == 2
    assert state.events == 6 + 8
    assert state.feed(b"\n".join(lines[8:]), room=10) == 2  # still refused until a compaction
    hosts = {orjson.loads(doc)["host"] for doc in documents([b.body for b in state.finish()]).values()}
    assert hosts == {f"h{i}" for i in range(8)}


def test_a_snapshot_of_other_archives_or_format_is_refused():
    state = PartitionState(config(), "json")
    state.feed(b"\n".join(events(100)), room=100)
    data = state.snapshot()
    with pytest.raises(StateError, match="other archives"):
        PartitionState.restore(config('[series]\nkey = ["host"]\n'), "json", data)
    with pytest.raises(StateError, match="other archives"):
        PartitionState.restore(config(), "graphite", data)
    with pytest.raises(StateError, match=r"damaged|cannot be restored"):
        PartitionState.restore(config(), "json", data[:-10])
    # lateness and hold may change between runs
    relaxed = dataclasses.replace(config(), consolidation=ConsolidationSettings(lateness=60, late_hold=1200))
    assert PartitionState.restore(relaxed, "json", data).series_count == state.series_count
