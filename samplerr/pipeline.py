"""Decode → consolidate → render: the processing chain shared by `downsample` and the service.

A :class:`Pipeline` owns the series registry, the decoder, the consolidator and the renderer for
one configuration. It does no I/O of its own: callers feed it bytes and receive bulk NDJSON bodies.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from samplerr.core.config import Config, InputFormat
from samplerr.core.consolidation import Consolidator, WindowResults
from samplerr.core.decoding import Decoder
from samplerr.core.documents import DocumentRenderer
from samplerr.core.events import EventBatch, SeriesRegistry

# Bytes of lines decoded and consolidated at a time. Per event, a batch costs least at a few
# thousand events: fewer, and the fixed costs of each call weigh; many more, and its columns and
# objects no longer fit the CPU's caches (the bench workload, 85-byte events, measured per event
# with all stages: 1.5 µs in pieces of 6,000 events, 1.6 at 25,000, 3.0 at 125,000).
FEED_BYTES = 512 * 1024


def cut_lines(data: bytes, size: int = FEED_BYTES) -> Iterator[bytes]:
    """``data`` (newline-separated lines) in pieces of about ``size`` bytes, each made of whole lines.

    ``round(len(data) / size)`` pieces of about equal length (no small remainder: a piece is
    ``2/3·size`` to ``1.5·size`` long, give or take a line); every piece but the last ends just
    before a newline, which is dropped (it only separated two lines). ``data`` itself when it makes
    one piece."""
    pieces = round(len(data) / size)
    if pieces <= 1:
        yield data
        return
    step = len(data) // pieces
    start = 0
    for _ in range(pieces - 1):
        end = data.find(b"\n", start + step)
        if end < 0:
            break
        yield data[start:end]
        start = end + 1
    yield data[start:]


@contextlib.contextmanager
def deferred_collection() -> Iterator[None]:
    """Run one batch of work with Python's cyclic garbage collector held off until its end.

    The work of a batch allocates hundreds of thousands of short-lived, acyclic objects (Kafka
    messages, decoded events, document strings). With the collector on, a young-generation pass runs
    every 700 allocations and traverses every object of the batch still alive (a poll's tens of
    thousands of messages), and the survivors it promotes trigger full collections: about a quarter
    of the service's CPU per event. Held off, the objects that die during the batch never reach the
    collector, and the first allocation after the batch runs one pass over the survivors. Cycles
    made during the batch are collected then, so memory stays bounded by one batch. Does nothing
    when the collector is already off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass(frozen=True, slots=True)
class BulkBody:
    """Rendered bulk NDJSON for one archive: ``docs`` action/document pairs in ``body``."""

    archive: int
    docs: int
    body: bytes


@dataclass(slots=True)
class PipelineCounters:
    events_in: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    docs_per_archive: list[int] = field(default_factory=list)


class Pipeline:
    """One configuration's processing chain; feed it input, collect bulk bodies."""

    def __init__(
        self,
        config: Config,
        fmt: InputFormat,
        registry: SeriesRegistry | None = None,
        consolidator: Consolidator | None = None,
    ) -> None:
        """A fresh chain, or one continuing from a restored ``registry`` and ``consolidator``."""
        self.config = config
        self.registry = registry if registry is not None else SeriesRegistry()
        self.decoder = Decoder(fmt, config.series, self.registry)
        self.consolidator = (
            consolidator if consolidator is not None else Consolidator(config.archives, config.consolidation)
        )
        self.renderer = DocumentRenderer(
            self.registry, config.consolidation.layout, config.elasticsearch.index_prefix
        )
        self.counters = PipelineCounters(docs_per_archive=[0] * len(config.archives))

    def feed_buffer(self, data: bytes) -> list[tuple[str, bytes]]:
        """Decode a chunk of whole newline-separated lines and consolidate its events.

        Returns ``(reason, line)`` of each line rejected for an input error when the decoder keeps
        them (``decoder.keep_rejected``), else an empty list."""
        batch = self.decoder.decode_buffer(data)
        self._add(batch)
        return batch.rejected_lines

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        """Decode lines (one event line each, Kafka messages split on newlines) and consolidate them."""
        self._add(self.decoder.decode_lines(lines))

    def _add(self, batch: EventBatch) -> None:
        self.counters.events_in += len(batch)
        self.counters.rejected.update(batch.rejected)
        if len(batch):
            self.consolidator.add(batch)

    def collect(self, now_s: float | None = None) -> list[BulkBody]:
        """Bodies of the windows that became final (by watermark, or by ``now_s`` when given)."""
        return self._render(self.consolidator.collect(now_s))

    def finish(self) -> list[BulkBody]:
        """End of input: bodies of every window still open."""
        return self._render(self.consolidator.flush_all())

    def _render(self, results: list[WindowResults]) -> list[BulkBody]:
        """A body per chunk of documents (a few thousand): bodies are joined again into requests
        anyway, so chunks are not first joined into one body per archive (a copy less)."""
        bodies: list[BulkBody] = []
        docs_per_archive = self.counters.docs_per_archive
        for res in results:
            if not len(res):
                continue
            for chunk in self.renderer.render_chunks(res, self.config.archives[res.archive]):
                docs_per_archive[res.archive] += chunk.documents
                bodies.append(BulkBody(res.archive, chunk.documents, chunk.body))
        return bodies
