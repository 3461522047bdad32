"""Bulk NDJSON of consolidated windows (ARCHITECTURE §3): indices, ids, layouts, values."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.core.config import Archive, ConsolidationSettings, Layout
from samplerr.core.consolidation import Consolidator, WindowResults
from samplerr.core.documents import (
    DocumentRenderer,
    document_id,
    iter_documents,
    render_bulk,
    series_hash,
)
from samplerr.core.durations import Duration
from samplerr.core.events import EventBatch, SeriesRegistry
from samplerr.core.periods import parse_tf

T = 1_795_350_700  # 2026-11-22T12:31:40Z
DAILY = Archive(parse_tf("YYYY.MM.DD"), 20, Duration(2 * 86_400), ("avg", "min", "max"))
MONTHLY = Archive(parse_tf("YYYY.MM"), 600, Duration(0, 2), ("avg", "max"))
ALL = ("avg", "min", "max", "sum", "count", "first", "last")
EVERY = Archive(parse_tf("YYYY"), 3600, Duration(0, 120), ALL)


def registry(*keys: dict[str, str]) -> SeriesRegistry:
    reg = SeriesRegistry()
    for key in keys:
        reg.intern(tuple(sorted(key.items())))
    return reg


def results(
    rows: Sequence[tuple[int, int, int, float, float, float]], archive: int = 0
) -> WindowResults:
    """(series, start, count, sum, min, max) rows; first/last are min/max."""
    col = list(zip(*rows, strict=True))
    return WindowResults(
        archive=archive,
        series=np.array(col[0], dtype=np.int64),
        starts_s=np.array(col[1], dtype=np.int64),
        count=np.array(col[2], dtype=np.int64),
        sum=np.array(col[3], dtype=np.float64),
        min=np.array(col[4], dtype=np.float64),
        max=np.array(col[5], dtype=np.float64),
        first=np.array(col[4], dtype=np.float64),
        last=np.array(col[5], dtype=np.float64),
    )


def parse(body: bytes) -> list[tuple[str, str, dict[str, object]]]:
    lines = body.decode("utf-8").split("\n")
    assert lines[-1] == "", "the body ends with a newline"
    lines.pop()
    assert len(lines) % 2 == 0
    out = []
    for action, doc in zip(lines[::2], lines[1::2], strict=True):
        (op, meta), *rest = json.loads(action).items()
        assert op == "index" and not rest and set(meta) == {"_index", "_id"}
        out.append((meta["_index"], meta["_id"], json.loads(doc)))
    return out


WEB = {"host": "web-1", "service": "cpu"}


# -- ids -----------------------------------------------------------------------------------------


def test_series_hash_follows_the_documented_scheme() -> None:
    key = (("host", "web-1"), ("service", "cpu"))
    canonical = json.dumps([["host", "web-1"], ["service", "cpu"]], ensure_ascii=False, separators=(",", ":"))
    assert canonical == '[["host","web-1"],["service","cpu"]]'
    assert series_hash(key) == hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()
    assert document_id(key, 20, "avg", T) == f"{series_hash(key)}.20.avg.{T}"


def test_ids_are_stable_across_releases() -> None:
    # Pinned: changing these values would duplicate every document already written.
    assert series_hash((("host", "web-1"), ("service", "cpu"))) == "0350079d4580cfc0"
    assert series_hash((("host", "wéb"), ("service", "disk /"))) == "46a928fa0c4249d3"


def test_ids_are_unique_per_series_archive_cfunc_and_window() -> None:
    reg = registry(WEB, {"host": "web-2", "service": "cpu"}, {"host": "web-1", "service": "load"})
    rows = [(s, T - T % 3600 + k * 20, 1, 1.0, 1.0, 1.0) for s in range(3) for k in range(5)]
    ids = [doc_id for _, doc_id, _ in parse(render_bulk(results(rows), DAILY, reg, "samplerr", ".samplerr-"))]
    coarse_rows = [(s, T - T % 3600 + k * 600, 1, 1.0, 1.0, 1.0) for s in range(3) for k in range(5)]
    ids += [
        doc_id for _, doc_id, _ in parse(render_bulk(results(coarse_rows), MONTHLY, reg, "samplerr", "x-"))
    ]
    assert len(ids) == 3 * 5 * 3 + 3 * 5 * 2
    assert len(set(ids)) == len(ids)


def test_a_re_emitted_window_keeps_its_id_and_carries_the_merged_values() -> None:
    reg = registry(WEB)
    cons = Consolidator([DAILY], ConsolidationSettings(lateness=0, late_hold=600))
    renderer = DocumentRenderer(reg)

    def write(events: list[tuple[float, float]]) -> dict[str, dict[str, object]]:
        cons.add(
            EventBatch(
                np.zeros(len(events), dtype=np.int64),
                np.array([round(t * 1000) for t, _ in events], dtype=np.int64),
                np.array([v for _, v in events]),
            )
        )
        bodies = [renderer.render(res, DAILY) for res in cons.collect()]
        return {doc_id: doc for body in bodies for _, doc_id, doc in parse(body)}

    start = T - T % 20
    first = write([(start + 1, 1.0), (start + 45, 0.0)])
    again = write([(start + 2, 3.0)])  # late, within the hold
    assert set(first) == set(again) == {
        document_id(reg.key(0), 20, cfunc, start) for cfunc in ("avg", "min", "max")
    }
    assert {doc["cfunc"]: doc["metric"] for doc in again.values()} == {"avg": 2.0, "min": 1.0, "max": 3.0}


# -- layouts ----------------------------------------------------------------------------------------


def test_samplerr_layout_documents() -> None:
    reg = registry(WEB)
    body = render_bulk(results([(0, T, 4, 1.0, -0.5, 0.75)]), DAILY, reg, "samplerr", ".samplerr-")
    h = series_hash(reg.key(0))
    assert body.decode().splitlines() == [
        f'{{"index":{{"_id":"{h}.20.avg.{T}","_index":".samplerr-2026.11.22"}}}}',
        '{"@timestamp":"2026-11-22T12:31:40Z","cfunc":"avg","step":20,"host":"web-1","service":"cpu","metric":0.25}',
        f'{{"index":{{"_id":"{h}.20.min.{T}","_index":".samplerr-2026.11.22"}}}}',
        '{"@timestamp":"2026-11-22T12:31:40Z","cfunc":"min","step":20,"host":"web-1","service":"cpu","metric":-0.5}',
        f'{{"index":{{"_id":"{h}.20.max.{T}","_index":".samplerr-2026.11.22"}}}}',
        '{"@timestamp":"2026-11-22T12:31:40Z","cfunc":"max","step":20,"host":"web-1","service":"cpu","metric":0.75}',
    ]


def test_compact_layout_documents() -> None:
    reg = registry(WEB)
    start = T - T % 3600
    res = results([(0, start, 3, 6.0, 1.0, 3.0)])
    (doc,) = parse(render_bulk(res, EVERY, reg, "compact", ".samplerr-"))
    assert doc == (
        ".samplerr-2026",
        f"{series_hash(reg.key(0))}.3600.c.{start}",
        {
            "@timestamp": "2026-11-22T12:00:00Z",
            "step": 3600,
            "host": "web-1",
            "service": "cpu",
            "count": 3,
            "avg": 2.0,
            "min": 1.0,
            "max": 3.0,
            "sum": 6.0,
            "first": 1.0,
            "last": 3.0,
        },
    )


def test_every_cfunc_value_in_the_samplerr_layout() -> None:
    reg = registry(WEB)
    start = T - T % 3600
    docs = parse(render_bulk(results([(0, start, 3, 6.0, 1.0, 3.0)]), EVERY, reg, "samplerr", ""))
    values = {doc["cfunc"]: doc["metric"] for _, _, doc in docs}
    assert values == {"avg": 2.0, "min": 1.0, "max": 3.0, "sum": 6.0, "count": 3, "first": 1.0, "last": 3.0}
    assert isinstance(values["count"], int)
    assert {index for index, _, _ in docs} == {"2026"}


@pytest.mark.parametrize("layout", ["samplerr", "compact"])
def test_render_bulk_writes_what_iter_documents_yields(layout: Layout) -> None:
    reg = registry(WEB, {"host": "db", "service": "disk"}, {"host": "db", "service": "load"})
    rows = [(s, T - T % 600 - k * 600, k + 1, 1.5 * k, -k, k + 0.1) for k in range(4) for s in (2, 0, 1)]
    for archive in (DAILY, MONTHLY, EVERY):
        res = results(rows)
        expected = list(iter_documents(res, archive, reg, layout, ".samplerr-"))
        assert parse(render_bulk(res, archive, reg, layout, ".samplerr-")) == expected
        assert len({doc_id for _, doc_id, _ in expected}) == len(expected)


def test_windows_across_periods_go_to_their_own_index() -> None:
    reg = registry(WEB)
    midnight = 1_795_392_000  # 2026-11-23T00:00:00Z
    res = results([(0, midnight - 20, 1, 1.0, 1.0, 1.0), (0, midnight, 1, 2.0, 2.0, 2.0)])
    docs = parse(render_bulk(res, DAILY, reg, "compact", ".samplerr-"))
    assert [(index, doc["@timestamp"]) for index, _, doc in docs] == [
        (".samplerr-2026.11.22", "2026-11-22T23:59:40Z"),
        (".samplerr-2026.11.23", "2026-11-23T00:00:00Z"),
    ]


def test_key_fields_named_like_document_fields_are_prefixed() -> None:
    reg = registry({"service": "cpu", "step": "x", "metric": "y", "key_step": "z"})
    _, _, doc = parse(render_bulk(results([(0, T, 1, 1.0, 1.0, 1.0)]), DAILY, reg, "samplerr", ""))[0]
    assert doc["step"] == 20 and doc["metric"] == 1.0
    # a real field keeps its name; a renamed one takes one more prefix while the name is taken
    assert (doc["key_step"], doc["key_metric"], doc["key_key_step"]) == ("z", "y", "x")


def test_non_ascii_and_quotes_in_keys_are_valid_json() -> None:
    reg = registry({"host": 'wéb "1"\\', "service": "température\n"})
    (_, _, doc), *_ = parse(render_bulk(results([(0, T, 1, 1.0, 1.0, 1.0)]), DAILY, reg, "samplerr", ""))
    assert (doc["host"], doc["service"]) == ('wéb "1"\\', "température\n")


# -- values -----------------------------------------------------------------------------------------


def test_non_finite_values_are_left_out_and_counted() -> None:
    reg = registry(WEB, {"host": "web-2", "service": "cpu"})
    res = results([(0, T, 2, math.nan, 1.0, 1.7e308), (1, T, 1, 5.0, 5.0, 5.0)])
    renderer = DocumentRenderer(reg)
    docs = parse(renderer.render(res, DAILY))
    assert sorted((doc["host"], doc["cfunc"]) for _, _, doc in docs) == [
        ("web-1", "max"), ("web-1", "min"), ("web-2", "avg"), ("web-2", "max"), ("web-2", "min"),
    ]  # fmt: skip
    assert renderer.values_left_out == 1
    compact = DocumentRenderer(reg, "compact")
    first, _ = (doc for _, _, doc in parse(compact.render(res, DAILY)))
    assert "avg" not in first and first["count"] == 2 and first["max"] == 1.7e308
    assert compact.values_left_out == 1


FINITE = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(FINITE, min_size=1, max_size=20))
def test_property_values_read_back_exactly(values: list[float]) -> None:
    reg = registry(WEB)
    rows = [(0, T + 20 * i, 1, v, v, v) for i, v in enumerate(values)]
    docs = parse(render_bulk(results(rows), DAILY, reg, "samplerr", ""))
    got = [doc["metric"] for _, _, doc in docs if doc["cfunc"] == "min"]
    assert [repr(g) for g in got] == [repr(v) for v in values]  # same doubles, -0.0 included


# -- the renderer -----------------------------------------------------------------------------------


def test_chunks_hold_at_most_max_docs_and_add_up_to_the_body() -> None:
    reg = registry(*({"host": f"h{i}", "service": "s"} for i in range(7)))
    res = results([(s, T + 20 * k, 1, 1.0, 1.0, 1.0) for k in range(3) for s in range(7)])
    layouts: tuple[Layout, ...] = ("samplerr", "compact")
    for layout in layouts:
        renderer = DocumentRenderer(reg, layout)
        chunks = list(renderer.render_chunks(res, DAILY, max_docs=4))
        body = b"".join(c.body for c in chunks)
        assert all(1 <= c.documents <= 4 for c in chunks)
        assert sum(c.documents for c in chunks) == renderer.documents == len(parse(body))
        assert body == DocumentRenderer(reg, layout).render(res, DAILY)


def test_the_renderer_learns_new_series_between_calls() -> None:
    reg = registry(WEB)
    renderer = DocumentRenderer(reg)
    renderer.render(results([(0, T, 1, 1.0, 1.0, 1.0)]), DAILY)
    sid = reg.intern((("host", "new"), ("service", "cpu")))
    docs = parse(renderer.render(results([(sid, T, 1, 1.0, 1.0, 1.0)]), DAILY))
    assert {doc["host"] for _, _, doc in docs} == {"new"}
    with pytest.raises(ValueError, match="registry"):
        renderer.render(results([(sid + 1, T, 1, 1.0, 1.0, 1.0)]), DAILY)


def test_the_renderer_prepares_only_the_series_it_meets() -> None:
    reg = registry(*({"host": f"h{i}", "service": "s"} for i in range(6)))
    renderer = DocumentRenderer(reg, "compact")
    for sids in ([4], [1, 4], [5, 0]):
        docs = parse(renderer.render(results([(s, T, 1, 1.0, 1.0, 1.0) for s in sids]), DAILY))
        assert [doc["host"] for _, _, doc in docs] == [f"h{s}" for s in sids]


def test_unsorted_window_starts_are_rendered_too() -> None:
    reg = registry(WEB)
    res = results([(0, T + 40, 1, 3.0, 3.0, 3.0), (0, T, 1, 1.0, 1.0, 1.0), (0, T + 20, 1, 2.0, 2.0, 2.0)])
    docs = parse(render_bulk(res, DAILY, reg, "compact", ""))
    assert [(doc["@timestamp"], doc["avg"]) for _, _, doc in docs] == [
        ("2026-11-22T12:32:20Z", 3.0), ("2026-11-22T12:31:40Z", 1.0), ("2026-11-22T12:32:00Z", 2.0),
    ]  # fmt: skip


def test_empty_results_render_nothing_and_bad_layouts_are_refused() -> None:
    reg = registry(WEB)
    ints = (np.empty(0, dtype=np.int64) for _ in range(3))
    empty = WindowResults(0, *ints, *(np.empty(0) for _ in range(5)))
    assert render_bulk(empty, DAILY, reg, "samplerr", "") == b""
    with pytest.raises(ValueError, match="layout"):
        DocumentRenderer(reg, "wide")  # type: ignore[arg-type]
