"""The bulk writer against the dev server, with faults: every document ends up there exactly once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator

import pytest

from samplerr.adapters.es_bulk import BulkIncompleteError, BulkWriter, RetryPolicy
from samplerr.adapters.es_connection import EsConnection
from samplerr.adapters.es_template import install_template
from samplerr.configfile import load_config
from samplerr.core.config import Config
from tests.adapters.es_support import count, ids_present, ndjson, settings_for
from tests.devserver.process import DevServerProcess

FAST = RetryPolicy(max_retries=40, base=0.002, cap=0.02)


@pytest.fixture
def config(devserver_faults: DevServerProcess) -> Config:
    base = load_config(None, env={})
    return dataclasses.replace(base, elasticsearch=settings_for(devserver_faults.url, request_timeout=5.0))


@pytest.fixture
def connection(config: Config) -> Iterator[EsConnection]:
    with EsConnection(config.elasticsearch) as conn:
        install_template(conn, config)  # metric is a double: a text metric is a bad document
        yield conn


@pytest.fixture
def index(config: Config) -> str:
    return config.elasticsearch.index_prefix + "2026.11.22"


def test_a_clean_write_is_one_request_per_chunk_and_nothing_parsed_twice(connection, index):
    body = ndjson(index, 2500)
    report = BulkWriter(connection, max_docs=1000, retry=FAST).write(body)
    assert (report.docs_ok, report.requests, report.request_retries, report.docs_retried) == (2500, 3, 0, 0)
    assert report.bytes == len(body)
    assert report.docs_failed == {}
    assert count(connection, index) == 2500


def test_chunks_respect_the_byte_limit(connection, index):
    body = ndjson(index, 300)
    limit = len(body) // 7
    report = BulkWriter(connection, max_bytes=limit, retry=FAST).write(body)
    assert report.docs_ok == 300
    assert report.requests == 8  # ceil(7 …) chunks of at most `limit` bytes
    assert count(connection, index) == 300


def test_bodies_joined_with_their_count_go_in_requests_within_both_limits(connection, index):
    """How downsample and the demo write a collect's bodies (a rendered chunk each): joined, with
    their document count; cut into requests within the limits, every document once."""
    lines = ndjson(index, 1000).splitlines(keepends=True)
    sizes = [1, 7, 120, 3, 250, 60, 9, 300, 200, 50]  # documents per body: 1,000 in all
    bodies, start = [], 0
    for size in sizes:
        bodies.append(b"".join(lines[2 * start : 2 * (start + size)]))
        start += size
    writer = BulkWriter(connection, max_docs=400, retry=FAST)
    report = writer.write(b"".join(bodies), docs=sum(sizes))
    assert (report.docs_ok, report.docs_failed) == (1000, {})
    assert report.requests == 3  # 400 + 400 + 200
    assert report.bytes == sum(len(body) for body in bodies)
    assert count(connection, index) == 1000
    assert writer.write(b"", docs=0).requests == 0


def test_pairs_lines_and_bytes_are_the_same_input(connection, index):
    body = ndjson(index, 30)
    lines = body.splitlines()
    pairs = list(zip(lines[0::2], lines[1::2], strict=True))
    writer = BulkWriter(connection, retry=FAST)
    for data in (pairs, iter(lines), bytearray(body)):
        assert writer.write(data).docs_ok == 30
    assert writer.totals.docs_ok == 90
    assert count(connection, index) == 30


def test_every_document_exactly_once_through_item_429s_503s_latency_and_dropped_connections(
    devserver_faults, connection, index
):
    total = 4000
    devserver_faults.set_faults(
        bulk_item_429_ratio=0.3,
        reject_503_ratio=0.15,
        drop_connection_ratio=0.05,
        drop_response_ratio=0.05,  # written, but the answer is lost: resent, overwrites the same ids
        latency_ms=2,
        paths=["/_bulk"],
        seed=7,
    )
    writer = BulkWriter(connection, max_docs=250, retry=FAST)
    report = writer.write(ndjson(index, total))
    devserver_faults.clear_faults()

    assert report.docs_ok == total  # acknowledged once each, never more
    assert report.docs_failed == {}
    assert report.docs_retried > 0  # item 429s: only those items were sent again
    assert report.request_retries > 0  # 503s and dropped connections: the whole chunk again
    assert report.requests > 16 + report.request_retries  # 16 chunks, resent whole or in part
    assert count(connection, index) == total
    ids = [f"d{i}" for i in range(total)]
    assert ids_present(connection, index, ids) == set(ids)
    assert writer.totals == report


@pytest.mark.parametrize("told", [False, True], ids=["counted", "told"])
def test_item_retries_send_only_the_rejected_items(devserver_faults, connection, index, told):
    devserver_faults.set_faults(bulk_item_429_ratio=0.5, paths=["/_bulk"], seed=3)
    body = ndjson(index, 1000)
    # told: the caller gives the count, the body goes whole and its line ends are found for the resend
    report = BulkWriter(connection, max_docs=1000, retry=FAST).write(body, docs=1000 if told else None)
    devserver_faults.clear_faults()
    assert report.docs_ok == 1000
    assert report.request_retries == 0
    # Resends carry about half, then a quarter … of the documents: well under a second full body.
    assert 300 < report.docs_retried < 1500
    assert len(body) < report.bytes < 2.2 * len(body)
    assert count(connection, index) == 1000


def test_a_rewritten_window_in_the_same_request_is_never_overwritten_by_its_retried_first_version(
    devserver_faults, connection, index
):
    """A window written, then rewritten with a late event, can meet itself in one request: when
    only the first version is refused (429), the second must still be the one that stays."""
    first = ndjson(index, 500)  # metric i * 0.5
    second = first.replace(b'"cpu"', b'"cpu2"')  # the same ids, the later version
    devserver_faults.set_faults(bulk_item_429_ratio=0.4, paths=["/_bulk"], seed=11)
    report = BulkWriter(connection, retry=FAST).write(first + second, docs=1000)
    devserver_faults.clear_faults()
    assert report.docs_ok == 1000
    connection.request("POST", f"/{index}/_refresh")
    answer = connection.request(
        "POST", f"/{index}/_search", body={"size": 0, "aggs": {"s": {"terms": {"field": "service"}}}}
    ).body
    assert isinstance(answer, dict)
    assert {b["key"]: b["doc_count"] for b in answer["aggregations"]["s"]["buckets"]} == {"cpu2": 500}


def test_a_bad_document_is_counted_logged_once_and_not_retried(connection, index, caplog):
    caplog.set_level(logging.ERROR, logger="samplerr.adapters.es_bulk")
    report = BulkWriter(connection, retry=FAST).write(ndjson(index, 200, bad={5, 17, 99}))
    assert report.docs_ok == 197
    assert report.docs_failed_total == 3
    [(error_type, failed)] = report.docs_failed.items()
    assert error_type in ("document_parsing_exception", "mapper_parsing_exception")
    assert failed == 3
    assert (report.requests, report.docs_retried, report.request_retries) == (1, 0, 0)
    assert sorted(f.doc_id for f in report.failures) == ["d17", "d5", "d99"]
    assert all(f.status == 400 and f.index == index and f.reason for f in report.failures)
    refused = [r for r in caplog.records if "refused document" in r.getMessage()]
    assert len(refused) == 1  # the same error type again within a minute stays quiet
    assert count(connection, index) == 197


def test_giving_up_hands_back_exactly_what_was_not_written(devserver_faults, connection, index):
    first = ndjson(index, 100)
    rest = ndjson(index, 300, start=100)
    writer = BulkWriter(connection, max_docs=100, retry=RetryPolicy(max_retries=2, base=0.001, cap=0.001))
    assert writer.write(first).docs_ok == 100
    devserver_faults.set_faults(reject_503_ratio=1.0, paths=["/_bulk"])
    with pytest.raises(BulkIncompleteError) as caught:
        writer.write(rest)
    error = caught.value
    assert error.unwritten == rest
    assert error.unwritten_docs == 300
    assert error.report.docs_ok == 0
    assert error.report.requests == 3  # the first chunk, tried three times; the others not at all
    assert "300 of 300 documents not written" in str(error)
    assert "HTTP 503" in str(error)
    assert error.__cause__ is not None

    devserver_faults.clear_faults()
    assert writer.write(error.unwritten).docs_ok == 300
    assert count(connection, index) == 400
    assert writer.totals.docs_ok == 400


def test_a_body_whose_count_is_told_is_one_request_and_handed_back_whole(devserver_faults, connection, index):
    body = ndjson(index, 300)
    writer = BulkWriter(connection, max_docs=300, retry=RetryPolicy(max_retries=1, base=0.001, cap=0.001))
    devserver_faults.set_faults(reject_503_ratio=1.0, paths=["/_bulk"])
    with pytest.raises(BulkIncompleteError) as caught:
        writer.write(body, docs=300)
    assert (caught.value.unwritten, caught.value.unwritten_docs) == (body, 300)
    assert caught.value.report.requests == 2
    devserver_faults.clear_faults()
    report = writer.write(body, docs=300)
    assert (report.docs_ok, report.requests) == (300, 1)
    # over a limit, the count is not enough: the body is cut at its line ends as usual
    assert writer.write(ndjson(index, 400, start=300), docs=400).requests == 2
    assert count(connection, index) == 700


def test_a_refused_later_chunk_keeps_the_earlier_ones_counted(connection, index):
    good = ndjson(index, 100)
    malformed = b'{"index":{"_index":"' + index.encode() + b'","no_such_parameter":1}}\n{"metric":1.0}\n'
    second = malformed + ndjson(index, 99, start=101)
    third = ndjson(index, 100, start=200)
    writer = BulkWriter(connection, max_docs=100, retry=FAST)
    with pytest.raises(BulkIncompleteError, match="HTTP 400") as caught:
        writer.write(good + second + third)
    error = caught.value
    assert error.report.docs_ok == 100
    assert error.report.requests == 2  # refused for what it is: not retried
    assert error.unwritten == second + third
    assert error.unwritten_docs == 200
    assert "chunk 2 of 3" in str(error)
    assert count(connection, index) == 100


def test_the_time_allowed_bounds_the_retries(devserver_faults, connection, index):
    devserver_faults.set_faults(unavailable_for_s=30)
    writer = BulkWriter(connection, retry=RetryPolicy(max_retries=1000, base=0.05, cap=0.2))
    with pytest.raises(BulkIncompleteError, match="out of time"):
        writer.write(ndjson(index, 10), timeout=0.5)


def test_an_outage_is_waited_out(devserver_faults, connection, index):
    devserver_faults.set_faults(unavailable_for_s=0.6)
    report = BulkWriter(connection, retry=RetryPolicy(max_retries=100, base=0.02, cap=0.1)).write(
        ndjson(index, 50)
    )
    assert report.docs_ok == 50
    assert report.request_retries > 0
    assert count(connection, index) == 50


def test_a_refused_request_is_not_retried(connection, index):
    """A whole request refused for what it is (bad credentials, malformed body) fails at once."""
    writer = BulkWriter(connection, retry=FAST)
    bad_action = b'{"index":{"_index":"' + index.encode() + b'","no_such_parameter":1}}\n{"metric":1.0}\n'
    with pytest.raises(BulkIncompleteError, match="HTTP 400") as caught:
        writer.write(bad_action)
    assert caught.value.report.requests == 1
    assert caught.value.unwritten == bad_action


def test_an_unreachable_server_is_a_retryable_failure():
    settings = settings_for("http://127.0.0.1:9", request_timeout=1.0)
    with EsConnection(settings) as conn:
        writer = BulkWriter(conn, retry=RetryPolicy(max_retries=2, base=0.001, cap=0.001))
        with pytest.raises(BulkIncompleteError, match="cannot connect") as caught:
            writer.write(ndjson(".x-2026", 3))
    assert caught.value.unwritten_docs == 3
    assert (caught.value.report.requests, caught.value.report.request_retries) == (3, 2)
    assert caught.value.report.docs_ok == 0
