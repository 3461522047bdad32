"""``samplerr run --source file|stdin``: the service fed from a file or a pipe instead of Kafka.

For trials and pipes (``telegraf --test | samplerr run --source stdin --format influx``). A reader
thread reads whole-line chunks into a small bounded queue; the consuming thread decodes,
consolidates and hands final windows to the writer thread (:mod:`samplerr.service_sink`), exactly as
with Kafka, including the backpressure (it stops taking chunks while Elasticsearch is behind, and the
reader then blocks). There are no offsets, hence no checkpoints: at the end of the input — or on
SIGTERM/SIGINT — every window still open is written (as ``samplerr downsample`` does), then the
process exits once Elasticsearch acknowledged everything.

The wall clock (``idle_flush``) finalises windows only for live inputs (stdin, pipes, FIFOs) while
they are quiet; a regular file is consolidated by event time alone, like a backlog.

With a dead-letter file (``--dead-letter-file``), every line rejected for an input error is appended
there as a JSON line as soon as its chunk is decoded (:mod:`samplerr.adapters.dead_letter_file`);
a write that fails is counted and logged (rate-limited), and consumption goes on.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack

from samplerr.adapters.dead_letter_file import DeadLetterFile
from samplerr.adapters.files import OpenInput, iter_line_chunks, open_input
from samplerr.core.config import Config, InputFormat
from samplerr.core.errors import SamplerrError, SourceError
from samplerr.metrics import ServiceMetrics
from samplerr.pipeline import FEED_BYTES, BulkBody, deferred_collection
from samplerr.service_logging import RateLimited
from samplerr.service_sink import Sink
from samplerr.service_state import PartitionState

log = logging.getLogger(__name__)

CHUNK_BYTES = FEED_BYTES  # read (and fed) at a time
QUEUE_CHUNKS = 4
IDLE_AFTER = 1.0  # seconds without input before a live input counts as quiet
_EOF = b""


class StreamService:
    """Consumes one file or stdin; ``run()`` returns the exit status."""

    def __init__(
        self,
        config: Config,
        path: str,
        fmt: InputFormat,
        sink: Sink,
        metrics: ServiceMetrics,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        dead_letter_file: str | None = None,
    ) -> None:
        self.config = config
        self.path = path
        self.dead_letter_file = dead_letter_file
        self.dead_letters: DeadLetterFile | None = None  # open while run() runs
        self._dead_letter_log = RateLimited(60.0, clock)
        self.sink = sink
        self.metrics = metrics
        self.state = PartitionState(config, fmt)
        self._wall = wall_clock
        self._clock = clock
        self._stop = threading.Event()
        self._chunks: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.last_progress = clock()

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> int:
        with ExitStack() as stack:
            try:
                source = stack.enter_context(open_input(self.path))
            except SamplerrError as exc:
                log.error("%s", exc)
                return 1
            if self.dead_letter_file is not None:
                try:
                    self.dead_letters = DeadLetterFile(self.dead_letter_file, self.path)
                except SamplerrError as exc:
                    log.error("%s", exc)
                    return 1
                stack.callback(self.dead_letters.close)
                self.state.keep_rejected = True
                log.info("lines rejected for an input error go to dead-letter file %s", self.dead_letter_file)
            live = _is_live(source)
            reader = threading.Thread(target=self._read, args=(source, live), name="reader", daemon=True)
            reader.start()
            return self._consume(live)

    def _read(self, source: OpenInput, live: bool) -> None:
        try:
            for chunk in iter_line_chunks(source.stream, CHUNK_BYTES, live=live):
                while not self._stop.is_set():
                    try:
                        self._chunks.put(chunk, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._chunks.put(_EOF)
        except SourceError as exc:
            self._chunks.put(exc)

    def _consume(self, live: bool) -> int:
        last_input = self._clock()
        status = 0
        while not self._stop.is_set():
            if self.sink.fatal is not None:
                log.error("the Elasticsearch writer failed: %s", self.sink.fatal)
                return 1
            self.last_progress = self._clock()
            if self.sink.backlogged():
                self.metrics.consumer_paused.set(1)
                while not self.sink.has_room() and not self._stop.is_set():
                    time.sleep(0.05)
                self.metrics.consumer_paused.set(0)
                continue
            try:
                item = self._chunks.get(timeout=0.2)
            except queue.Empty:
                if live and self._clock() - last_input >= IDLE_AFTER:
                    self._emit(self.state.collect(self._wall()))
                continue
            if isinstance(item, BaseException):
                log.error("%s", item)
                status = 1
                break
            if item == _EOF:
                log.info("end of input")
                break
            last_input = self._clock()
            with deferred_collection():
                self._feed(item)
                self._emit(self.state.collect())
        self._emit(self.state.finish())
        self._report()
        return status

    def _feed(self, chunk: bytes) -> None:
        state = self.state
        events, rejected = state.events, state.rejected.copy()
        state.feed(chunk, self.config.service.max_series - state.series_count)
        self.metrics.events.inc(state.events - events)
        for reason, count in (state.rejected - rejected).items():
            self.metrics.rejected.labels(reason).inc(count)
        if self.dead_letters is not None:
            self._dead_letter(chunk, self.dead_letters)

    def _dead_letter(self, chunk: bytes, dead: DeadLetterFile) -> None:
        written, failed = dead.written.copy(), dead.failed.copy()
        lost = dead.add(chunk, self.state.rejected_lines)
        for reason, count in (dead.written - written).items():
            self.metrics.dead_letters.labels(reason).inc(count)
        for reason, count in (dead.failed - failed).items():
            self.metrics.dead_letter_failures.labels(reason).inc(count)
        if lost and self._dead_letter_log.ready():
            log.error(
                "dead-letter file %s: %d rejected lines not written (%d more failures since the last "
                "report): %s",
                dead.path,
                lost,
                self._dead_letter_log.suppressed,
                dead.last_error,
            )
            self._dead_letter_log.logged()

    def _emit(self, bodies: list[BulkBody]) -> None:
        if bodies:
            self.sink.submit(bodies)

    def _report(self) -> None:
        stats = self.state.pipeline.consolidator.stats
        rejected = ", ".join(f"{r} {n}" for r, n in sorted(self.state.rejected.items())) or "none"
        log.info(
            "input done: %d events, rejected: %s, late merged %d, dropped %d",
            self.state.events,
            rejected,
            stats.late_merged,
            stats.late_dropped,
        )
        dead = self.dead_letters
        if dead is not None:
            lost = sum(dead.failed.values())
            log.info(
                "dead-letter file %s: %d lines appended%s",
                dead.path,
                sum(dead.written.values()),
                f", {lost} lost to write failures" if lost else "",
            )
        self.metrics.late.labels("merged").inc(stats.late_merged)
        self.metrics.late.labels("dropped").inc(stats.late_dropped)


def _is_live(source: OpenInput) -> bool:
    """stdin, pipes and FIFOs are live inputs; regular files are not."""
    try:
        mode = os.fstat(source.raw.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return True
    return not stat.S_ISREG(mode)
