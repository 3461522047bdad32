"""The writer thread: bodies before checkpoints, nothing dropped while Elasticsearch fails."""

from __future__ import annotations

import threading
from pathlib import Path

from samplerr.adapters.checkpoint import Checkpoint, FsCheckpointStore
from samplerr.adapters.es_bulk import BulkIncompleteError, BulkReport
from samplerr.core.errors import SinkError
from samplerr.metrics import ServiceMetrics
from samplerr.pipeline import BulkBody
from samplerr.service_sink import Sink


def doc(n: int) -> bytes:
    return b'{"index":{"_id":"%d"}}\n{"n":%d}\n' % (n, n)


class FlakyElasticsearch:
    """Takes documents after ``failures`` refusals: whole failures, then partial ones."""

    def __init__(self, failures: int = 0, store_path: Path | None = None) -> None:
        self.failures = failures
        self.written: list[bytes] = []
        self.events: list[str] = []
        self.lock = threading.Lock()
        self.store_path = store_path

    def write(self, body: bytes, *, docs: int | None = None) -> BulkReport:
        lines = body.splitlines(keepends=True)
        count, docs = docs, [b"".join(lines[i : i + 2]) for i in range(0, len(lines), 2)]
        assert count is None or count == len(docs), f"told {count} documents, got {len(docs)}"
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                if self.failures % 2:
                    raise SinkError("connection refused")
                half = len(docs) // 2
                self.written.extend(docs[:half])
                self.events.append(f"wrote {half}")
                raise BulkIncompleteError(
                    "some not written",
                    report=BulkReport(docs_ok=half),
                    unwritten=b"".join(docs[half:]),
                    unwritten_docs=len(docs) - half,
                )
            self.written.extend(docs)
            self.events.append(f"wrote {len(docs)}")
        return BulkReport(docs_ok=len(docs), requests=1)


class RecordingStore(FsCheckpointStore):
    def __init__(self, directory: Path, es: FlakyElasticsearch) -> None:
        super().__init__(directory)
        self.es = es

    def save(self, checkpoint: Checkpoint) -> None:
        with self.es.lock:
            self.es.events.append(f"checkpoint {checkpoint.offset} after {len(self.es.written)} docs")
        super().save(checkpoint)


def checkpoint(offset: int) -> Checkpoint:
    return Checkpoint("g", "t", 0, offset, 1, "f", b"state")


def fast_sink(es: FlakyElasticsearch, store, metrics: ServiceMetrics, **kwargs) -> Sink:
    return Sink(es.write, store, metrics, first_pause=0.01, **kwargs)


def test_a_checkpoint_is_saved_only_after_every_body_before_it(tmp_path: Path):
    es = FlakyElasticsearch(failures=5)
    store = RecordingStore(tmp_path, es)
    metrics = ServiceMetrics()
    sink = fast_sink(es, store, metrics, batch_bytes=64)
    sink.start()
    sink.submit(BulkBody(0, 1, doc(n)) for n in range(10))  # as the service: counts known
    first = sink.submit_round([checkpoint(10)])
    sink.submit(doc(n) for n in range(10, 15))
    second = sink.submit_round([checkpoint(15)])
    assert second.done.wait(10)
    assert first.done.is_set()
    assert sink.close(5)
    assert sorted(es.written) == sorted(doc(n) for n in range(15))  # each exactly once
    assert "checkpoint 10 after 10 docs" in es.events
    assert "checkpoint 15 after 15 docs" in es.events
    assert [c.offset for c in first.saved] == [10]
    assert store.load("g", "t", 0) == checkpoint(15)
    assert metrics.bulk_docs.labels("ok")._value.get() == 15


def test_the_queue_reports_backlog_until_elasticsearch_takes_it(tmp_path: Path):
    es = FlakyElasticsearch(failures=10**9)  # down
    metrics = ServiceMetrics()
    sink = fast_sink(es, None, metrics, high_water=100)
    sink.start()
    sink.submit(doc(n) for n in range(10))
    assert sink.backlogged()
    assert not sink.wait_idle(0.3)
    assert metrics.sink_failing._value.get() == 1
    assert sink.failing_for > 0
    assert not sink.wait_for_room(0.2)  # still down: no room within the wait
    with es.lock:
        es.failures = 0  # back
    assert sink.wait_for_room(10)
    assert sink.wait_idle(10)
    assert sink.has_room()
    assert not sink.backlogged()
    assert metrics.sink_failing._value.get() == 0
    assert sorted(set(es.written)) == sorted(doc(n) for n in range(10))
    sink.close(1)


def test_closing_while_elasticsearch_is_down_returns_false_and_stops(tmp_path: Path):
    es = FlakyElasticsearch(failures=10**9)
    sink = fast_sink(es, None, ServiceMetrics())
    sink.start()
    sink.submit([doc(1)])
    round_ = sink.submit_round([checkpoint(1)])
    assert sink.close(0.3) is False
    assert not round_.saved
