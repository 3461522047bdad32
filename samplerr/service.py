"""``samplerr run``: Kafka in, archives out — the consuming loop and its delivery guarantee.

Threads: the **consuming thread** (this module: poll Kafka, decode, consolidate, render, take
snapshots, commit), the **writer thread** (:mod:`samplerr.service_sink`: bulk writes, then
checkpoint saves, in order), the metrics server and the lifecycle scheduler. Decoding and
consolidation stay on one thread: they are vectorised, and the writer thread's HTTP work and
librdkafka's own threads take the second core.

Delivery (ARCHITECTURE §6)
    Every ``checkpoint_interval`` seconds (or ten times as long as the last snapshots took, when the
    state is large), and on shutdown, the consuming thread snapshots the state
    of each partition that consumed something since its last checkpoint, together with the offset of
    the next message, and queues the snapshots behind every bulk body emitted so far. The writer
    thread saves them only after Elasticsearch acknowledged all those bodies, and only then is the
    offset committed to Kafka (with ``samplerr <store> #<generation>`` as commit metadata). So at any
    moment, for every partition: *the last checkpoint's state + the documents in Elasticsearch
    account for every message before its offset*. On assignment a partition's checkpoint is restored
    and consumption resumes at its offset; the messages after it are consolidated again into the
    restored state exactly once, and rewritten windows keep their ids. After kill -9 at any moment,
    the archives equal those of an uninterrupted run.

Dead letters
    With ``[kafka] dead_letter_topic`` set, every line rejected for an input error is produced there
    once (:mod:`samplerr.adapters.kafka_dead_letters`: the line as it came, with headers naming the
    reason and the source topic, partition and offset). Before each checkpoint snapshot the loop waits
    until Kafka acknowledged every dead letter sent so far — the snapshot's offset is where consumption
    resumes — so a crash loses none (the messages after the last checkpoint are consumed again, and
    their dead letters produced again: duplicates are possible, losses are not). When they are not
    acknowledged in time, that checkpoint waits for the next round (the previous one stands).

Partitions own their state
    Each partition has its own pipeline and watermark (:mod:`samplerr.service_state`), so results
    depend on each partition's message order only — never on how partitions interleave, on batch
    sizes or on restarts — and a partition's state moves with the partition in a rebalance (it is
    checkpointed when revoked and restored by its next owner). **Producers must key messages by
    series** (any function of the series key fields: Telegraf's ``routing_tag = "host"`` works for
    the default key), so that each series lives in one partition; a series seen in two partitions
    is logged and counted, because its windows would be written from two partial states.

The wall clock
    A partition's windows become final by its watermark. The wall clock (``idle_flush``) finalises
    windows only for partitions that are **caught up** (nothing left to read): a quiet stream still
    flushes, while a backlog — after an outage, or a new group reading a topic from the start — is
    consolidated by event time alone, so late-hold decisions are the same as in real time and
    nothing is dropped for having waited in Kafka.

Backpressure
    When the writer's queue holds ``high_water`` bytes (Elasticsearch slow or down), every partition
    is paused (the consumer keeps polling, so it stays in its group) until the queue is half empty.
    Memory is bounded by that queue, librdkafka's prefetch (``queued.max.messages.kbytes``) and the
    open windows.

Stopping
    SIGTERM or SIGINT: stop consuming, queue the final windows, checkpoint every partition, wait for
    Elasticsearch and the store, commit, leave the group, exit 0 — within ``shutdown_timeout``. If
    the deadline passes (Elasticsearch down), the last checkpoint stands, the exit status is 1, and
    the next start replays from it: nothing is lost. A second signal exits at once (status 1), which
    is as safe as kill -9. SIGHUP is logged and ignored: configuration changes need a restart.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from samplerr.adapters.checkpoint import Checkpoint, CheckpointStore, EsCheckpointStore
from samplerr.adapters.kafka import KafkaSource, PartitionBatch, TopicPart
from samplerr.adapters.kafka_dead_letters import DeadLetter, DeadLetterProducer, source_offsets
from samplerr.core.config import Config, InputFormat
from samplerr.core.errors import SamplerrError, SourceError
from samplerr.metrics import ServiceMetrics
from samplerr.pipeline import BulkBody, cut_lines, deferred_collection
from samplerr.service_logging import RateLimited
from samplerr.service_sink import CheckpointRound, Sink
from samplerr.service_state import PartitionState, StateError, state_fingerprint

log = logging.getLogger(__name__)

POLL_TIMEOUT = 0.25  # seconds a poll waits for messages (and the longest a stop request waits)
MAX_POLL_MESSAGES = 50_000  # per poll (larger polls cost less per event; librdkafka bounds its prefetch)
TICK = 1.0  # seconds between wall-clock flushes, lag and metrics updates
COMPACT_EVERY = 60.0  # seconds between checks for idle series to evict
BRIEF_WAIT = 10.0  # seconds the loop stops reading when Elasticsearch is behind, before it pauses
REVOKE_WAIT = 10.0  # seconds a revocation waits for its checkpoint at most
DEAD_LETTER_WAIT = 2.0  # seconds a checkpoint waits for Kafka to acknowledge the dead letters before it
CHECKPOINT_SHARE = 10.0  # the checkpoint interval is at least this many times a snapshot's duration
REJECT_LOG_INTERVAL = 10.0
COMMIT_METADATA_PREFIX = "samplerr"


class StartRefusedError(SourceError):
    """A partition cannot be started safely (its state is missing or belongs to another configuration)."""


@dataclass(frozen=True, slots=True)
class KafkaOptions:
    checkpoint_interval: float = 5.0  # seconds
    discard_state: bool = False  # start partitions without their checkpoints (partial windows)
    max_poll_messages: int = MAX_POLL_MESSAGES
    high_water: int = 32 * 1024 * 1024  # bytes queued for Elasticsearch before pausing


@dataclass(slots=True)
class _Totals:
    """What has been reported to the metrics already (they take increments)."""

    rejected_since_log: Counter[str] = field(default_factory=Counter)
    kafka_errors: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    dead_letter_failures: Counter[str] = field(default_factory=Counter)


class KafkaService:
    """The consuming loop (see the module docstring). ``run()`` returns the exit status."""

    def __init__(
        self,
        config: Config,
        source: KafkaSource,
        sink: Sink,
        store: CheckpointStore,
        metrics: ServiceMetrics,
        options: KafkaOptions,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
        dead_letters: DeadLetterProducer | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.dead_letters = dead_letters
        self.sink = sink
        self.store = store
        self.metrics = metrics
        self.options = options
        self._wall = wall_clock
        self._clock = clock
        self.group = config.kafka.group_id
        self.partitions: dict[TopicPart, PartitionState] = {}
        self._rounds: list[tuple[CheckpointRound, dict[TopicPart, PartitionState]]] = []
        self._stop = threading.Event()
        self._closing = False
        self._store_kind = "es" if isinstance(store, EsCheckpointStore) else f"fs:{socket.gethostname()}"
        now = clock()
        self._next_checkpoint = now + options.checkpoint_interval
        self._next_tick = now
        self._next_compact = now + COMPACT_EVERY
        self._behind_since: float | None = None  # since when the writer is behind (not paused yet)
        self.last_progress = now  # the loop's heartbeat, for /healthz
        self._lag: dict[TopicPart, int] = {}
        self._totals = _Totals()
        self._reject_log = RateLimited(REJECT_LOG_INTERVAL, clock)
        self._limit_log = RateLimited(60.0, clock)
        self._conflict_log = RateLimited(600.0, clock)
        self._dead_letter_log = RateLimited(60.0, clock)

    # -- control --------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to stop (from a signal handler or another thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def format_of(self, topic: str) -> InputFormat:
        kafka = self.config.kafka
        return kafka.topic_formats.get(topic, kafka.format)

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> int:
        if self.dead_letters is not None:
            log.info("lines rejected for an input error go to dead-letter topic %s", self.dead_letters.topic)
        self.source.subscribe(self._on_assigned, self._on_revoked)
        try:
            while not self._stop.is_set():
                self.step()
        except SamplerrError as exc:
            log.error("stopping: %s", exc)
            self._closing = True
            self.source.close()
            return 1
        return self.shutdown()

    def step(self) -> None:
        """One poll and what follows it (public for tests that drive the loop)."""
        if self.sink.fatal is not None:
            raise SourceError(f"the Elasticsearch writer failed: {self.sink.fatal}")
        read = self._flow_control()
        with deferred_collection():
            batches = self.source.poll(self.options.max_poll_messages, POLL_TIMEOUT) if read else []
            for batch in batches:
                state = self.partitions.get(batch.tp)
                if state is None:
                    continue
                if batch.values:
                    # in pieces of a few thousand events (see FEED_BYTES), each consolidated and
                    # its final windows written before the next; rejected lines found in order
                    rejected: list[tuple[str, bytes]] = []
                    for piece in cut_lines(b"\n".join(batch.values)):
                        self._feed(state, piece)
                        rejected += state.rejected_lines
                        self._emit(state.collect())
                    if rejected:
                        self._dead_letter(batch, rejected)
                state.next_offset = batch.next_offset
        now = self._clock()
        self.last_progress = now
        if now >= self._next_tick:
            self._next_tick = now + TICK
            self._tick(batches_for={b.tp for b in batches})
        if now >= self._next_checkpoint and not self._rounds:  # one round in flight at most (memory)
            self._checkpoint(dict(self.partitions))
            # Snapshots cost time in proportion to the state: never more than a tenth of it.
            spent = self._clock() - now
            self._next_checkpoint = now + max(self.options.checkpoint_interval, CHECKPOINT_SHARE * spent)
        self._finish_rounds()

    def _flow_control(self) -> bool:
        """Whether to poll now; pauses and resumes consumption as Elasticsearch falls behind and catches up.

        When the writer is behind but Elasticsearch takes writes, the loop first just stops reading
        for up to ``BRIEF_WAIT`` seconds: librdkafka keeps what it has prefetched (bounded by
        ``queued.max.messages.kbytes``) and fetches no more. Only a longer wait, or Elasticsearch
        failing, pauses the partitions — pausing drops the prefetched messages, fetched again on
        resume — so that polling goes on serving the group (rebalances, ``max.poll.interval.ms``).
        """
        if self.source.paused:
            if self.sink.has_room() and not self._closing:
                log.info("resuming consumption")
                self.source.resume()
                self.metrics.consumer_paused.set(0)
            return True  # a paused poll returns no messages; it serves the group
        if not self.sink.backlogged():
            self._behind_since = None
            return True
        now = self._clock()
        if self._behind_since is None:
            self._behind_since = now
        if now - self._behind_since < BRIEF_WAIT and not self.sink.failing_for:
            if self.sink.wait_for_room(POLL_TIMEOUT):
                self._behind_since = None
            return False
        log.warning("pausing consumption: %.1f MiB wait for Elasticsearch", self.sink.queued_bytes / 2**20)
        self._behind_since = None
        self.source.pause()
        self.metrics.consumer_paused.set(1)
        return True

    def _feed(self, state: PartitionState, data: bytes) -> None:
        events, rejected = state.events, Counter(state.rejected)
        room = self.config.service.max_series - self._series_total()
        refused = state.feed(data, room)
        self.metrics.events.inc(state.events - events)
        fresh = state.rejected - rejected
        for reason, count in fresh.items():
            self.metrics.rejected.labels(reason).inc(count)
        self._totals.rejected_since_log.update(fresh)
        if refused and self._limit_log.ready():
            log.warning(
                "max_series (%d) reached: %d events of new series refused (%d more times since the last "
                "report); raise [service] max_series or narrow [series] include/exclude",
                self.config.service.max_series,
                refused,
                self._limit_log.suppressed,
            )
            self._limit_log.logged()

    def _dead_letter(self, batch: PartitionBatch, rejected: list[tuple[str, bytes]]) -> None:
        """Send the lines of ``batch`` that were rejected for an input error to the dead-letter topic."""
        if self.dead_letters is None:
            return
        tp = batch.tp
        offsets = source_offsets(batch, [line for _, line in rejected])
        self.dead_letters.send(
            DeadLetter(reason, line, tp.topic, tp.partition, offset)
            for (reason, line), offset in zip(rejected, offsets, strict=True)
        )

    def _series_total(self) -> int:
        return sum(state.series_count for state in self.partitions.values())

    def _emit(self, bodies: list[BulkBody]) -> None:
        if bodies:
            self.sink.submit(bodies)

    def _tick(self, batches_for: set[TopicPart]) -> None:
        """Wall-clock flush of caught-up partitions; lag, gauges and rate-limited logs."""
        self._lag = self.source.lag({tp: s.position for tp, s in self.partitions.items()})
        now_s = self._wall()
        if not self.source.paused:
            for tp, state in self.partitions.items():
                if tp not in batches_for and self._lag.get(tp) == 0:
                    self._emit(state.collect(now_s))
        if self._clock() >= self._next_compact:
            self._next_compact = self._clock() + COMPACT_EVERY
            self._compact()
        self._update_gauges(now_s)
        self._log_rejections()

    def _compact(self) -> None:
        """Evict idle series, and look for series that arrive in two partitions."""
        for state in self.partitions.values():
            known = state.series_count
            if known > 1000 and known > 2 * state.live_series():
                evicted = state.compact()
                self.metrics.series_evicted.inc(evicted)
                log.info("evicted %d idle series (%d live)", evicted, state.series_count)
        self._check_keying()

    def _check_keying(self) -> None:
        """Count (and log now and then) series present in two partitions: producers must key by series."""
        owner: dict[object, TopicPart] = {}
        conflicts = 0
        example = ""
        for tp, state in self.partitions.items():
            registry = state.pipeline.registry
            for sid in range(len(registry)):
                key = registry.key(sid)
                first = owner.setdefault(key, tp)
                if first != tp:
                    conflicts += 1
                    example = example or f"{dict(key)} in {first} and {tp}"
        self.metrics.series_conflicts.set(conflicts)
        if conflicts and self._conflict_log.ready():
            log.error(
                "%d series arrive in more than one partition (e.g. %s): producers must key messages by "
                "series, else those windows are written from partial states",
                conflicts,
                example,
            )

    def _update_gauges(self, now_s: float) -> None:
        m = self.metrics
        open_windows = 0
        oldest_wm: int | None = None
        for tp, state in self.partitions.items():
            stats = state.pipeline.consolidator.stats
            open_windows += stats.open_windows + stats.held_windows
            merged, dropped = state.late_reported
            if stats.late_merged > merged:
                m.late.labels("merged").inc(stats.late_merged - merged)
            if stats.late_dropped > dropped:
                m.late.labels("dropped").inc(stats.late_dropped - dropped)
            state.late_reported = (stats.late_merged, stats.late_dropped)
            if stats.watermark_ms is not None:
                oldest_wm = stats.watermark_ms if oldest_wm is None else min(oldest_wm, stats.watermark_ms)
            lag = self._lag.get(tp)
            if lag is not None:
                m.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
        m.open_windows.set(open_windows)
        m.live_series.set(self._series_total())
        m.assigned_partitions.set(len(self.partitions))
        if oldest_wm is not None:
            m.watermark_lag.set(max(0.0, now_s - oldest_wm / 1000))
        m.sink_queue_bytes.set(self.sink.queued_bytes)
        self._report_kafka_health()
        self._report_dead_letters()

    def _report_dead_letters(self) -> None:
        dead = self.dead_letters
        if dead is None:
            return
        dead.poll()
        totals = self._totals
        for reason, count in (dead.delivered - totals.dead_letters).items():
            self.metrics.dead_letters.labels(reason).inc(count)
        for reason, count in (dead.failed - totals.dead_letter_failures).items():
            self.metrics.dead_letter_failures.labels(reason).inc(count)
        totals.dead_letters, totals.dead_letter_failures = dead.delivered.copy(), dead.failed.copy()

    def _report_kafka_health(self) -> None:
        errors = self.source.errors
        for code, count in (errors - self._totals.kafka_errors).items():
            self.metrics.kafka_errors.labels(code).inc(count)
        self._totals.kafka_errors = errors.copy()
        if self.source.brokers_up is not None:
            self.metrics.kafka_brokers_reachable.set(self.source.brokers_up)

    def _log_rejections(self) -> None:
        pending = self._totals.rejected_since_log
        if pending and self._reject_log.ready():
            total = sum(pending.values())
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(pending.items()))
            log.warning("%d input lines or events rejected (%s)", total, reasons)
            pending.clear()
            self._reject_log.logged()

    # -- checkpoints ----------------------------------------------------------------------------------

    def _checkpoint(
        self,
        parts: Mapping[TopicPart, PartitionState],
        *,
        force: bool = False,
        wait: float = DEAD_LETTER_WAIT,
    ) -> CheckpointRound | None:
        """Queue a checkpoint of the partitions that moved since their last one.

        None when there is nothing to checkpoint, or when the dead letters sent so far are not
        acknowledged within ``wait`` seconds (the snapshot's offset must not pass them).
        """
        if not self._dead_letters_settled(wait):
            return None
        checkpoints: list[Checkpoint] = []
        owners: dict[TopicPart, PartitionState] = {}
        now_s = self._wall()
        for tp, state in parts.items():
            offset = state.next_offset
            if offset is None or (offset == state.checkpoint_offset and not force):
                continue
            checkpoints.append(
                Checkpoint(
                    group=self.group,
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=offset,
                    generation=state.generation + 1,
                    fingerprint=state_fingerprint(state.config, state.fmt),
                    state=state.snapshot(),
                    written_at=now_s,
                )
            )
            owners[tp] = state
        if not checkpoints:
            return None
        round_ = self.sink.submit_round(checkpoints)
        self._rounds.append((round_, owners))
        return round_

    def _dead_letters_settled(self, wait: float) -> bool:
        dead = self.dead_letters
        if dead is None or dead.settle(wait):
            return True
        if self._dead_letter_log.ready():
            log.warning(
                "%d dead letters not acknowledged by Kafka yet: checkpoints wait (the previous ones stand)",
                dead.in_flight,
            )
            self._dead_letter_log.logged()
        return False

    def _finish_rounds(self) -> None:
        """Commit the offsets of checkpoint rounds the writer has finished, in order."""
        while self._rounds and self._rounds[0][0].done.is_set():
            round_, owners = self._rounds.pop(0)
            self._commit_round(round_, owners)

    def _commit_round(self, round_: CheckpointRound, owners: Mapping[TopicPart, PartitionState]) -> None:
        offsets: dict[TopicPart, tuple[int, str]] = {}
        for checkpoint in round_.saved:
            tp = TopicPart(checkpoint.topic, checkpoint.partition)
            state = owners.get(tp)
            if state is None:
                continue
            state.generation = max(state.generation, checkpoint.generation)
            state.checkpoint_offset = checkpoint.offset
            if self.partitions.get(tp) is state:
                metadata = f"{COMMIT_METADATA_PREFIX} {self._store_kind} #{checkpoint.generation}"
                offsets[tp] = (checkpoint.offset, metadata)
        if round_.saved:
            self.metrics.last_checkpoint.set(self._wall())
        if not offsets:
            return
        try:
            self.source.commit(offsets)
        except SourceError as exc:
            self.metrics.commits.labels("failed").inc(len(offsets))
            log.warning("offsets not committed (the checkpoints stand; next time): %s", exc)
            return
        self.metrics.commits.labels("ok").inc(len(offsets))

    def _wait_round(self, round_: CheckpointRound | None, timeout: float) -> bool:
        if round_ is None:
            return True
        deadline = self._clock() + timeout
        while not round_.done.wait(0.05):
            if self._clock() >= deadline or self.sink.fatal is not None:
                return False
        return True

    # -- rebalances (called inside poll) --------------------------------------------------------------

    def _on_assigned(self, parts: list[TopicPart]) -> dict[TopicPart, int | None]:
        committed = self.source.committed(parts)
        starts: dict[TopicPart, int | None] = {}
        for tp in parts:
            state, start = self._start_partition(tp, committed[tp].offset, committed[tp].metadata)
            state.keep_rejected = self.dead_letters is not None
            self.partitions[tp] = state
            starts[tp] = start
        return starts

    def _start_partition(
        self, tp: TopicPart, committed: int | None, metadata: str
    ) -> tuple[PartitionState, int | None]:
        fmt = self.format_of(tp.topic)
        discard = self.options.discard_state
        checkpoint = None if discard else self.store.load(self.group, tp.topic, tp.partition)
        hint = (
            "start with --discard-state to continue without it (windows open at the last checkpoint "
            "are then rewritten from the events after it only)"
        )
        if checkpoint is None:
            if committed is not None and metadata.startswith(COMMIT_METADATA_PREFIX) and not discard:
                raise StartRefusedError(
                    f"{tp}: offset {committed} was committed with a checkpoint ({metadata}) that is not in "
                    f"the {self.store.description}: the state of its open windows is elsewhere (several "
                    f'hosts with checkpoint = "fs"? use checkpoint = "elasticsearch"); {hint}'
                )
            where = f"offset {committed}" if committed is not None else "auto.offset.reset"
            log.info("%s starts without a checkpoint, at %s", tp, where)
            state = PartitionState(self.config, fmt)
            state.start_offset = committed
            return state, None
        if committed is not None and committed > checkpoint.offset:
            raise StartRefusedError(
                f"{tp}: the committed offset {committed} is ahead of its checkpoint (offset "
                f"{checkpoint.offset}) in the {self.store.description}: a newer state was saved elsewhere "
                f'(several hosts with checkpoint = "fs"? use checkpoint = "elasticsearch"); {hint}'
            )
        try:
            state = PartitionState.restore(self.config, fmt, checkpoint.state)
        except StateError as exc:
            raise StartRefusedError(f"{tp}: checkpoint {checkpoint.label}: {exc}; {hint}") from exc
        state.next_offset = state.checkpoint_offset = state.start_offset = checkpoint.offset
        stats = state.pipeline.consolidator.stats  # counts of earlier runs are not this process's
        state.late_reported = (stats.late_merged, stats.late_dropped)
        state.generation = checkpoint.generation
        log.info("%s restored from checkpoint %s (%d series)", tp, checkpoint.label, state.series_count)
        return state, checkpoint.offset

    def _on_revoked(self, parts: list[TopicPart], lost: bool) -> None:
        mine = {tp: self.partitions[tp] for tp in parts if tp in self.partitions}
        if mine and not lost and not self._closing:
            for state in mine.values():
                self._emit(state.collect())
            wait = min(REVOKE_WAIT, self.config.service.shutdown_timeout)
            round_ = self._checkpoint(mine, wait=wait)
            if self._wait_round(round_, wait):
                self._finish_rounds()
            elif round_ is not None:
                round_.cancelled = True
                log.warning(
                    "checkpoint of revoked %s not finished in time: the previous one stands",
                    ", ".join(map(str, mine)),
                )
        for tp in mine:
            del self.partitions[tp]
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))

    # -- shutdown -------------------------------------------------------------------------------------

    def shutdown(self) -> int:
        """Write what is final, checkpoint, commit, leave the group; 0 when all of it was done in time."""
        deadline = self._clock() + self.config.service.shutdown_timeout
        log.info("stopping: writing final windows and checkpointing %d partitions", len(self.partitions))
        self._closing = True
        self.source.pause()
        for state in self.partitions.values():
            self._emit(state.collect())
        settled = self._dead_letters_settled(max(0.0, deadline - self._clock() - 1.0))
        round_ = self._checkpoint(dict(self.partitions)) if settled else None
        done = settled and self._wait_round(round_, max(0.0, deadline - self._clock() - 1.0))
        self._finish_rounds()
        self.source.close()
        if not done:
            what = (
                f"Elasticsearch took every document ({self.sink.last_error or 'time is up'})"
                if settled
                else "Kafka acknowledged every dead letter"
            )
            log.error(
                "stopped before %s: the last checkpoints stand and the next start consumes again from "
                "them; nothing is lost",
                what,
            )
            return 1
        log.info("stopped cleanly")
        return 0
