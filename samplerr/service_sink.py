"""The service's writer thread: bulk bodies to Elasticsearch, then checkpoints, strictly in order.

The consuming thread hands over two kinds of work through one FIFO queue:

- **bodies**: rendered bulk NDJSON of windows that became final (or changed after a late merge);
- **checkpoint rounds**: a snapshot of some partitions' state, taken right after the bodies it
  relies on were queued.

Because the queue is FIFO and a body leaves it only once Elasticsearch acknowledged every document
in it, a checkpoint round is saved only after everything emitted before its snapshot is durable.
That is the invariant the delivery guarantee rests on (see :mod:`samplerr.service`).

The thread never drops a body: when the bulk writer gives up (Elasticsearch down, overloaded,
answering 5xx), the documents it did not get acknowledged are kept and sent again after a pause that
grows to :data:`MAX_PAUSE` seconds, for as long as it takes; meanwhile :attr:`Sink.failing` is set
and the queue fills, and the consuming thread pauses Kafka when :meth:`Sink.backlogged`. Documents
Elasticsearch refuses for what they are (400 mapping errors) are counted and logged by the bulk
writer and not retried: trying again would never succeed.

Consecutive bodies are coalesced into requests of up to ``batch_bytes``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from samplerr.adapters.checkpoint import Checkpoint, CheckpointConflictError, CheckpointError, CheckpointStore
from samplerr.adapters.es_bulk import BulkIncompleteError, BulkReport
from samplerr.core.errors import SinkError
from samplerr.metrics import ServiceMetrics
from samplerr.pipeline import BulkBody

log = logging.getLogger(__name__)

MAX_PAUSE = 30.0  # seconds between two attempts while Elasticsearch is failing
FIRST_PAUSE = 0.5

class BulkWrite(Protocol):
    """Writes NDJSON; ``docs``, when given, is its number of documents (saves counting them)."""

    def __call__(self, data: bytes, *, docs: int | None = None) -> BulkReport: ...


@dataclass(slots=True)
class CheckpointRound:
    """Checkpoints to save once everything queued before them is written; ``done`` when finished."""

    checkpoints: list[Checkpoint]
    done: threading.Event = field(default_factory=threading.Event)
    saved: list[Checkpoint] = field(default_factory=list)
    failed: list[tuple[Checkpoint, str]] = field(default_factory=list)
    cancelled: bool = False  # set by the consuming thread when the partitions are no longer ours


@dataclass(slots=True)
class _Body:
    data: bytes
    docs: int | None  # None: not known by the submitter


class Sink:
    """Writes bodies and saves checkpoints from a background thread, in submission order."""

    def __init__(
        self,
        write: BulkWrite,
        store: CheckpointStore | None,
        metrics: ServiceMetrics,
        *,
        batch_bytes: int = 4 * 1024 * 1024,
        high_water: int = 32 * 1024 * 1024,
        first_pause: float = FIRST_PAUSE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._store = store
        self._metrics = metrics
        self.batch_bytes = batch_bytes
        self.high_water = high_water
        self.low_water = high_water // 2
        self._clock = clock
        self._queue: deque[_Body | CheckpointRound] = deque()
        self._queued_bytes = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._abort = threading.Event()
        self._first_pause = first_pause
        self._failing_since: float | None = None
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self._fatal: BaseException | None = None

    # -- the consuming thread's side ----------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, bodies: Iterable[bytes | BulkBody]) -> None:
        """Queue bulk bodies (never blocks: the caller watches :meth:`backlogged`)."""
        added = 0
        with self._cond:
            for item in bodies:
                data, docs = (item, None) if isinstance(item, bytes) else (item.body, item.docs)
                if data:
                    self._queue.append(_Body(data, docs))
                    added += len(data)
            if added:
                self._queued_bytes += added
                self._cond.notify()
        if added:
            self._metrics.sink_queue_bytes.set(self._queued_bytes)

    def submit_round(self, checkpoints: list[Checkpoint]) -> CheckpointRound:
        """Queue a checkpoint round behind every body queued so far."""
        round_ = CheckpointRound(checkpoints)
        with self._cond:
            self._queue.append(round_)
            self._cond.notify()
        return round_

    @property
    def queued_bytes(self) -> int:
        """Bytes of NDJSON queued or being written."""
        return self._queued_bytes

    def backlogged(self) -> bool:
        return self._queued_bytes >= self.high_water

    def has_room(self) -> bool:
        return self._queued_bytes <= self.low_water

    def wait_for_room(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`has_room`; True when there is room."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._queued_bytes <= self.low_water or self._fatal is not None, timeout
            ) and self._fatal is None

    @property
    def failing_for(self) -> float:
        """Seconds since Elasticsearch stopped taking writes (0 while it takes them)."""
        since = self._failing_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    @property
    def last_error(self) -> str:
        return self._last_error

    @property
    def fatal(self) -> BaseException | None:
        """An unexpected error that stopped the thread (a bug): the service must stop."""
        return self._fatal

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and self._queued_bytes == 0

    def wait_idle(self, timeout: float) -> bool:
        """Wait until everything queued is written (or ``timeout`` seconds pass)."""
        deadline = self._clock() + timeout
        with self._cond:
            while self._queue or self._queued_bytes:
                left = deadline - self._clock()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float) -> bool:
        """Write what is queued (up to ``timeout`` seconds), then stop the thread; True if all was written."""
        drained = self.wait_idle(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._abort.set()
        self._thread.join(timeout=1.0)
        return drained

    # -- the writer thread --------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stopping:
                        self._cond.wait()
                    if self._stopping and (not self._queue or self._abort.is_set()):
                        return
                    first = self._queue.popleft()
                    if isinstance(first, _Body):
                        parts = [first.data]
                        size = len(first.data)
                        docs = first.docs
                        while self._queue and size < self.batch_bytes:
                            nxt = self._queue[0]
                            if not isinstance(nxt, _Body) or size + len(nxt.data) > self.batch_bytes:
                                break
                            self._queue.popleft()
                            parts.append(nxt.data)
                            size += len(nxt.data)
                            docs = None if docs is None or nxt.docs is None else docs + nxt.docs
                if isinstance(first, CheckpointRound):
                    self._save_round(first)
                    continue
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                if not self._write_all(data, docs):
                    return  # aborted while Elasticsearch was failing
                with self._cond:
                    self._queued_bytes -= size
                    self._cond.notify_all()
                self._metrics.sink_queue_bytes.set(self._queued_bytes)
        except BaseException as exc:  # reported to the consuming thread, which stops
            log.exception("the Elasticsearch writer stopped on an unexpected error")
            self._fatal = exc
            with self._cond:
                self._cond.notify_all()

    def _write_all(self, data: bytes, docs: int | None) -> bool:
        """Write ``data`` until every document is acknowledged or refused for good; False if aborted."""
        pause = self._first_pause
        while True:
            try:
                report = self._write(data, docs=docs)
            except BulkIncompleteError as exc:
                self._account(exc.report)
                data, docs = exc.unwritten, exc.unwritten_docs
                self._failed(str(exc), pause)
            except SinkError as exc:
                self._failed(str(exc), pause)
            else:
                self._account(report)
                if self._failing_since is not None:
                    log.info("Elasticsearch takes writes again after %.1f s", self.failing_for)
                self._failing_since = None
                self._metrics.sink_failing.set(0)
                return True
            if not data:
                return True
            if self._abort.wait(pause):
                return False
            pause = min(MAX_PAUSE, pause * 2)

    def _failed(self, message: str, pause: float) -> None:
        if self._failing_since is None:
            self._failing_since = self._clock()
            self._metrics.sink_failing.set(1)
        self._last_error = message
        log.error("Elasticsearch write failed (again in %.1f s; nothing is dropped): %s", pause, message)

    def _account(self, report: BulkReport) -> None:
        m = self._metrics
        if report.docs_ok:
            m.bulk_docs.labels("ok").inc(report.docs_ok)
        if report.docs_failed_total:
            m.bulk_docs.labels("failed").inc(report.docs_failed_total)
        if report.docs_retried:
            m.bulk_docs.labels("retried").inc(report.docs_retried)
        if report.requests:
            m.bulk_requests.inc(report.requests)
        if report.request_retries:
            m.bulk_request_retries.inc(report.request_retries)

    def _save_round(self, round_: CheckpointRound) -> None:
        store = self._store
        try:
            for checkpoint in round_.checkpoints:
                if round_.cancelled or store is None:
                    break
                pause = self._first_pause
                while not round_.cancelled:
                    try:
                        store.save(checkpoint)
                    except CheckpointConflictError as exc:  # another member owns the partition now
                        self._metrics.checkpoints.labels("failed").inc()
                        log.warning("%s", exc)
                        round_.failed.append((checkpoint, str(exc)))
                        break
                    except CheckpointError as exc:
                        self._metrics.checkpoints.labels("failed").inc()
                        log.error("checkpoint not saved (trying again in %.1f s): %s", pause, exc)
                        if self._abort.wait(pause):
                            round_.failed.append((checkpoint, str(exc)))
                            return
                        pause = min(MAX_PAUSE, pause * 2)
                        continue
                    self._metrics.checkpoints.labels("ok").inc()
                    round_.saved.append(checkpoint)
                    break
        finally:
            round_.done.set()
