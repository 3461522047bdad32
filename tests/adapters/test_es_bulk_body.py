"""Bulk bodies without a server: pairing lines, chunk limits, resending a subset, backoff."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplerr.adapters.es_bulk import BulkReport, RetryPolicy
from samplerr.adapters.es_ndjson import (
    as_ndjson,
    bulk_errors_flag,
    document_ends,
    plan_chunks,
    select_documents,
)


def pair(i: int, pad: int = 0) -> tuple[bytes, bytes]:
    action = orjson.dumps({"index": {"_index": ".t-2026", "_id": f"id{i}"}})
    doc = orjson.dumps({"n": i, "pad": "x" * pad})
    return action, doc


def ndjson(pairs: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(a + b"\n" + d + b"\n" for a, d in pairs)


def docs_of(body: bytes) -> list[bytes]:
    lines = body.splitlines(keepends=True)
    return [lines[i] + lines[i + 1] for i in range(0, len(lines), 2)]


pads = st.lists(st.integers(min_value=0, max_value=300), min_size=0, max_size=60)


class TestInput:
    def test_bytes_pairs_and_lines_give_the_same_body(self):
        pairs = [pair(i) for i in range(5)]
        body = ndjson(pairs)
        lines = [line for p in pairs for line in p]
        assert as_ndjson(body) == body
        assert as_ndjson(pairs) == body
        assert as_ndjson(iter(lines)) == body
        assert as_ndjson([line + b"\n" for line in lines]) == body
        assert as_ndjson(bytearray(body)) == body

    def test_missing_final_newline_is_added(self):
        body = ndjson([pair(1)])
        assert as_ndjson(body[:-1]) == body

    def test_empty_input(self):
        assert as_ndjson([]) == b""
        assert document_ends(b"").size == 0

    def test_str_lines_are_refused(self):
        with pytest.raises(TypeError, match="bytes"):
            as_ndjson(["{}", "{}"])  # type: ignore[list-item]

    def test_odd_line_count_is_refused(self):
        with pytest.raises(ValueError, match="3 lines"):
            document_ends(ndjson([pair(1)]) + b'{"index":{}}\n')

    def test_empty_line_is_refused(self):
        a, d = pair(1)
        with pytest.raises(ValueError, match="empty line"):
            document_ends(a + b"\n\n" + d + b"\n\n")
        with pytest.raises(ValueError, match="empty line"):
            document_ends(b"\n" + a + b"\n")

    @given(pads)
    @settings(max_examples=100, deadline=None)
    def test_ends_delimit_each_pair(self, sizes):
        pairs = [pair(i, pad) for i, pad in enumerate(sizes)]
        body = ndjson(pairs)
        ends = document_ends(body)
        starts = [0, *ends.tolist()][:-1]
        assert [body[s:e] for s, e in zip(starts, ends.tolist(), strict=True)] == docs_of(body)


class TestChunks:
    @given(pads, st.integers(1, 10), st.integers(1, 2000))
    @settings(max_examples=200, deadline=None)
    def test_chunks_cover_in_order_within_limits(self, sizes, max_docs, max_bytes):
        body = ndjson([pair(i, pad) for i, pad in enumerate(sizes)])
        ends = document_ends(body)
        chunks = plan_chunks(ends, max_docs, max_bytes)
        flat = [i for first, stop in chunks for i in range(first, stop)]
        assert flat == list(range(len(sizes)))
        for first, stop in chunks:
            size = int(ends[stop - 1]) - (int(ends[first - 1]) if first else 0)
            assert 1 <= stop - first <= max_docs
            assert size <= max_bytes or stop - first == 1
        # Greedy: a chunk stops early only because the next document would break a limit.
        for first, stop in chunks[:-1]:
            size_with_next = int(ends[stop]) - (int(ends[first - 1]) if first else 0)
            assert stop - first == max_docs or size_with_next > max_bytes

    def test_a_document_larger_than_the_byte_limit_goes_alone(self):
        body = ndjson([pair(0), pair(1, pad=500), pair(2)])
        ends = document_ends(body)
        assert plan_chunks(ends, 100, 100) == [(0, 1), (1, 2), (2, 3)]

    def test_limits_must_be_positive(self):
        with pytest.raises(ValueError):
            plan_chunks(document_ends(ndjson([pair(0)])), 0, 10)


class TestSelect:
    @given(pads, st.data())
    @settings(max_examples=100, deadline=None)
    def test_select_keeps_exactly_the_chosen_documents(self, sizes, data):
        body = ndjson([pair(i, pad) for i, pad in enumerate(sizes)])
        ends = document_ends(body)
        chosen = sorted(data.draw(st.sets(st.integers(0, max(len(sizes) - 1, 0)))) & set(range(len(sizes))))
        sub, sub_ends = select_documents(body, ends, chosen)
        assert docs_of(sub) == [docs_of(body)[i] for i in chosen]
        assert sub_ends.tolist() == document_ends(sub).tolist()


class TestRetryPolicy:
    def test_full_jitter_between_zero_and_the_exponential_ceiling(self):
        policy = RetryPolicy(max_retries=10, base=0.5, cap=4.0)
        assert [policy.delay(n, lambda: 1.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
        assert policy.delay(3, lambda: 0.0) == 0.0
        assert policy.delay(2, lambda: 0.25) == 0.25

    def test_huge_attempt_numbers_do_not_overflow(self):
        assert RetryPolicy(cap=3.0).delay(10_000, lambda: 1.0) == 3.0

    def test_negative_values_are_refused(self):
        with pytest.raises(ValueError):
            RetryPolicy(max_retries=-1)


def test_reports_add_up():
    a = BulkReport(docs_ok=3, docs_failed={"x": 1}, docs_retried=2, requests=2, request_retries=1, bytes=10)
    b = BulkReport(docs_ok=1, docs_failed={"x": 2, "y": 1}, requests=1, bytes=5)
    total = a + b
    assert (total.docs_ok, dict(total.docs_failed), total.docs_retried) == (4, {"x": 3, "y": 1}, 2)
    assert (total.requests, total.request_retries, total.bytes, total.docs_failed_total) == (3, 1, 15, 4)


@pytest.mark.parametrize(
    ("answer", "flag"),
    [
        (b'{"took":3,"errors":false,"items":[{"index":{"status":201}}]}', False),
        (b'{"errors":true,"items":[]}', True),
        (b'{ "took" : 3 , "ingest_took" : 0 , "errors" : false }', False),
        (b'{"took":1.5e2,"errors":true}', True),
        (b'{"items":[{"index":{"errors":false}}],"errors":true}', None),  # not at the start: parse
        (b'{"x":{"errors":false}}', None),  # nested: not the top-level flag
        (b'[]', None),
    ],
)
def test_errors_flag_is_read_from_the_start_of_the_answer_only(answer, flag):
    assert bulk_errors_flag(answer) is flag
