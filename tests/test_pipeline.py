"""deferred_collection (the garbage collector held off for one batch of work, and run after it) and
cut_lines (what is fed at a time)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.pipeline import cut_lines, deferred_collection


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """Generations of the automatic collections that start while the test runs."""
    seen: list[int] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.collect()
    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)
        gc.enable()


def allocate(n: int) -> list[dict[int, int]]:
    return [{i: i} for i in range(n)]  # dicts are tracked by the collector


def test_a_batch_of_allocations_runs_no_collection_inside_and_one_pass_after(collections: list[int]) -> None:
    before = allocate(100_000)  # the same work without deferral: a young-generation pass every 700
    assert len(collections) > 50
    collections.clear()
    with deferred_collection():
        assert not gc.isenabled()
        during = allocate(100_000)
        assert collections == []
    assert gc.isenabled()
    allocate(10)
    assert collections[:1] == [0]  # survivors: the first allocation after the batch starts a pass
    assert len(before) == len(during)


def test_cycles_made_during_a_batch_are_freed_after_it(collections: list[int]) -> None:
    with deferred_collection():
        refs = [weakref.ref(Node()) for _ in range(1000)]
        allocate(1000)
        assert all(ref() is not None for ref in refs)
    allocate(10)
    assert all(ref() is None for ref in refs)


def test_a_collector_turned_off_elsewhere_stays_off(collections: list[int]) -> None:
    gc.disable()
    with deferred_collection():
        allocate(1000)
    assert not gc.isenabled()
    allocate(10_000)
    assert collections == []


def test_the_collector_comes_back_when_the_batch_fails(collections: list[int]) -> None:
    with pytest.raises(RuntimeError), deferred_collection():
        raise RuntimeError("decode failed")
    assert gc.isenabled()


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=40),
    size=st.integers(1, 100),
)
def test_cut_lines_gives_every_line_once_in_pieces_of_about_size_bytes(lines, size):
    data = b"\n".join(lines)
    pieces = list(cut_lines(data, size))
    assert b"\n".join(pieces) == data  # every line, in order, none cut in two
    assert [line for piece in pieces for line in piece.split(b"\n")] == lines
    wanted = max(1, round(len(data) / size))
    assert len(pieces) <= wanted
    for piece in pieces[:-1]:  # each reaches an equal share, then ends at the first line end
        share = len(data) // wanted
        assert len(piece) >= share
        assert b"\n" not in piece[share:]
    if wanted == 1:
        assert pieces == [data] and pieces[0] is data  # not copied
