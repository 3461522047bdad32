"""The Kafka source: a consumer-group member that hands the service whole-partition batches.

What this adapter promises the service (``samplerr.service``):

- **No automatic commits.** ``enable.auto.commit`` and ``enable.auto.offset.store`` are off whatever
  ``[kafka.config]`` says; offsets move only through :meth:`KafkaSource.commit`, which the service calls
  after a checkpoint made everything before them durable.
- **Partitions are the unit of ownership.** The service is told of every assignment and revocation
  through the callbacks given to :meth:`KafkaSource.subscribe`. ``on_assigned`` runs inside the
  rebalance and returns the offset to start each partition from (the offset of its checkpoint), which
  is applied in the same assignment — before any message of that partition is fetched. Eager
  protocols (``range``, ``roundrobin``: librdkafka's default) use ``assign``; cooperative ones
  (``cooperative-sticky``, or ``group.protocol = consumer``) use ``incremental_assign``.
- **Batches per partition, in offset order, each message once.** :meth:`KafkaSource.poll` returns the
  messages of one ``consume`` call grouped by partition: their values (a message may hold several
  lines), the offset to resume from after them, and how many messages had no value (tombstones,
  skipped). A message at an offset already delivered (librdkafka restarts a fetch behind the
  application after some errors) is skipped; messages deleted by retention before they were read are
  logged as an error and counted in ``skipped_messages``.
- **Backpressure** by :meth:`KafkaSource.pause` / :meth:`KafkaSource.resume` of every assigned
  partition. A paused consumer keeps polling, so it stays in its group.
- **Errors translated at the edge**: a fatal consumer error, or an exception raised by a rebalance
  callback, becomes :class:`~samplerr.core.errors.SourceError` (chained with ``from``); transient
  errors (a broker down, an unknown topic) are counted by code (:attr:`KafkaSource.errors`), logged
  (rate-limited) and librdkafka recovers by itself.
- **Broker reachability**: librdkafka reports ``_ALL_BROKERS_DOWN`` through its error callback when no
  broker answers any more; it has no "up again" event, so its statistics (``statistics.interval.ms``,
  5 s unless ``[kafka.config]`` sets a positive value) tell when a broker is ``UP`` again, as does a
  successful commit. :attr:`KafkaSource.brokers_down_for` says for how long none has answered; one
  line is logged when they all go down and one when one answers again, and the connection errors in
  between (librdkafka retries every 100 ms or so) are only counted.

``auto.offset.reset`` defaults to ``earliest``: a new group archives everything the topic still holds,
which is what a metrics archive wants (set ``latest`` in ``[kafka.config]`` to start from now).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from samplerr.core.config import KafkaSettings
from samplerr.core.errors import ConfigError, SamplerrError, SourceError

log = logging.getLogger(__name__)

# Set by samplerr whatever [kafka.config] says: offsets are committed by the service only.
FORCED_CONFIG: Mapping[str, object] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": False,
}
# Defaults that [kafka.config] may override.
DEFAULT_CONFIG: Mapping[str, object] = {
    "auto.offset.reset": "earliest",
    "queued.max.messages.kbytes": 16384,  # librdkafka's prefetch per partition (default 64 MiB)
    "fetch.max.bytes": 16 * 1024 * 1024,
}
ERROR_LOG_INTERVAL = 30.0  # seconds between two log lines for the same consumer error
STATISTICS_INTERVAL_MS = 5000  # librdkafka's statistics, which say when a broker is up again
# Errors that only repeat, while no broker answers, what _ALL_BROKERS_DOWN said: counted, not logged.
CONNECTION_ERRORS = frozenset(
    {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE, KafkaError._TIMED_OUT}
)
_BROKER_UP_STATES = frozenset({"UP", "UPDATE"})


class TopicPart(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(slots=True)
class PartitionBatch:
    """Messages of one partition from one poll: ``values`` in offset order, resume at ``next_offset``."""

    tp: TopicPart
    values: list[bytes] = field(default_factory=list)
    first_offset: int = -1
    next_offset: int = -1
    empty: int = 0  # messages without a value (tombstones), skipped
    duplicates: int = 0  # messages delivered again after a fetch restart, skipped


# Called inside a rebalance with the partitions newly assigned; returns the offset to start each at
# (None: the committed offset, or auto.offset.reset when there is none).
AssignedCallback = Callable[[list[TopicPart]], Mapping[TopicPart, int | None]]
# Called inside a rebalance with the partitions taken away; ``lost`` when another member may own them.
RevokedCallback = Callable[[list[TopicPart], bool], None]


@dataclass(frozen=True, slots=True)
class Committed:
    """A committed offset and the metadata string written with it."""

    offset: int | None  # None: nothing committed
    metadata: str


def consumer_config(settings: KafkaSettings, client_id: str = "samplerr") -> dict[str, object]:
    """The librdkafka configuration: samplerr's defaults, then ``[kafka.config]``, then what is forced."""
    config: dict[str, object] = {"client.id": client_id, **DEFAULT_CONFIG}
    config.update(settings.config)
    config["bootstrap.servers"] = settings.bootstrap_servers
    config["group.id"] = settings.group_id
    config.update(FORCED_CONFIG)
    if _number(config.get("statistics.interval.ms")) <= 0:  # samplerr needs them (broker health)
        config["statistics.interval.ms"] = STATISTICS_INTERVAL_MS
    return config


def _number(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0


def reachable_brokers(statistics: Mapping[str, Any]) -> int:
    """Brokers (distinct host:port) in state ``UP`` in librdkafka's statistics, logical ones left out."""
    up = {
        str(broker.get("nodename") or name)
        for name, broker in (statistics.get("brokers") or {}).items()
        if isinstance(broker, dict)
        and broker.get("source") not in ("logical", "internal")
        and broker.get("state") in _BROKER_UP_STATES
    }
    return len(up)


def is_cooperative(config: Mapping[str, object]) -> bool:
    """Whether the group uses incremental rebalancing (assignments arrive as differences)."""
    strategy = str(config.get("partition.assignment.strategy", ""))
    return "cooperative" in strategy or str(config.get("group.protocol", "classic")) == "consumer"


class KafkaSource:
    """A consumer-group member reading ``settings.topics``; see the module docstring for its contract."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        client_id: str = "samplerr",
        clock: Callable[[], float] = time.monotonic,
        consumer_factory: Callable[[dict[str, object]], Any] = Consumer,
    ) -> None:
        self.settings = settings
        self._config = consumer_config(settings, client_id)
        self._cooperative = is_cooperative(self._config)
        self._clock = clock
        self._error_logged: dict[int, float] = {}
        self.errors: Counter[str] = Counter()  # librdkafka errors by name (``_TRANSPORT`` …), all counted
        self.brokers_up: int | None = None  # brokers connected, from the last statistics (None: not yet)
        self._down_since: float | None = None  # since when no broker answers (_ALL_BROKERS_DOWN)
        self._callback_error: BaseException | None = None
        self._assigned: set[TopicPart] = set()
        self._positions: dict[TopicPart, int] = {}  # next offset expected per partition, when known
        self._paused = False
        self.skipped_messages = 0  # deleted by retention before being read
        self._on_assigned: AssignedCallback | None = None
        self._on_revoked: RevokedCallback | None = None
        self._config["error_cb"] = self._on_error
        self._config["stats_cb"] = self._on_statistics
        # librdkafka's lines in samplerr's log
        self._config["logger"] = LibrdkafkaLog(lambda: self.all_brokers_down, clock)
        try:
            self._consumer = consumer_factory(self._config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConfigError(
                "[kafka.config]", "", f"librdkafka refuses the configuration: {_describe(exc)}"
            ) from exc
        self._closed = False

    # -- group membership ---------------------------------------------------------------------------

    def subscribe(self, on_assigned: AssignedCallback, on_revoked: RevokedCallback) -> None:
        """Join the group on ``settings.topics``; the callbacks run inside :meth:`poll`."""
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked
        try:
            self._consumer.subscribe(
                list(self.settings.topics),
                on_assign=self._assign_cb,
                on_revoke=self._revoke_cb,
                on_lost=self._lost_cb,
            )
        except KafkaException as exc:
            raise SourceError(
                f"Kafka: cannot subscribe to {', '.join(self.settings.topics)}: {_describe(exc)}"
            ) from exc

    @property
    def assigned(self) -> frozenset[TopicPart]:
        """Partitions this member owns now."""
        return frozenset(self._assigned)

    @property
    def paused(self) -> bool:
        return self._paused

    def _assign_cb(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            parts = [TopicPart(p.topic, p.partition) for p in partitions]
            starts = self._on_assigned(parts) if self._on_assigned is not None else {}
            for p in partitions:
                tp = TopicPart(p.topic, p.partition)
                start = starts.get(tp)
                self._positions.pop(tp, None)
                if start is not None:
                    p.offset = start
                    self._positions[tp] = start
            if self._cooperative:
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
            self._assigned.update(parts)
            if self._paused and partitions:
                consumer.pause(partitions)
            if parts or not self._cooperative:  # incremental rebalances often add nothing
                log.info("assigned %s", ", ".join(str(p) for p in sorted(parts)) or "nothing")
        except BaseException as exc:  # noqa: BLE001 - re-raised by poll() as SourceError
            self._callback_error = exc

    def _revoke_cb(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._take_away(consumer, partitions, lost=False)

    def _lost_cb(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._take_away(consumer, partitions, lost=True)

    def _take_away(self, consumer: Consumer, partitions: list[TopicPartition], *, lost: bool) -> None:
        parts = [TopicPart(p.topic, p.partition) for p in partitions]
        try:
            log.info("%s %s", "lost" if lost else "revoked", ", ".join(str(p) for p in sorted(parts)))
            if self._on_revoked is not None:
                self._on_revoked(parts, lost)
        except BaseException as exc:  # noqa: BLE001 - re-raised by poll() as SourceError
            self._callback_error = exc
        finally:
            self._assigned.difference_update(parts)
            for tp in parts:
                self._positions.pop(tp, None)
            try:
                if self._cooperative:
                    consumer.incremental_unassign(partitions)
                else:
                    consumer.unassign()
            except KafkaException as exc:
                log.warning("Kafka: unassign after revocation failed: %s", _describe(exc))

    # -- reading ------------------------------------------------------------------------------------

    def poll(self, max_messages: int = 10_000, timeout: float = 0.1) -> list[PartitionBatch]:
        """Messages available within ``timeout`` seconds, grouped by partition.

        Rebalance callbacks run inside this call. Raises :class:`SourceError` for a fatal consumer
        error or when a rebalance callback failed.
        """
        try:
            messages: list[Message] = self._consumer.consume(num_messages=max_messages, timeout=timeout)
        except KafkaException as exc:
            raise SourceError(f"Kafka: consume failed: {_describe(exc)}") from exc
        self._raise_callback_error()
        batches: dict[tuple[str | None, int | None], PartitionBatch] = {}
        positions = self._positions
        # Subscribed to one topic by name, every message is of that topic: not asked of each.
        topics = self.settings.topics
        only_topic = topics[0] if len(topics) == 1 and not topics[0].startswith("^") else None
        # Messages come in runs of one partition: the batch is looked up once per run, and its
        # next offset kept in a local meanwhile.
        run_topic: str | None = None
        run_partition: int | None = -1
        batch: PartitionBatch | None = None
        append = None
        next_offset = -1
        for message in messages:
            error = message.error()
            if error is not None:
                self._message_error(error)
                continue
            partition = message.partition()
            topic = only_topic or message.topic()
            offset: int = message.offset()  # type: ignore[assignment] # set on every consumed message
            if batch is None or partition != run_partition or topic != run_topic:
                if batch is not None:
                    batch.next_offset = next_offset
                run_topic, run_partition = topic, partition
                batch = batches.get((topic, partition))
                if batch is None:
                    tp = TopicPart(str(topic), int(partition or 0))
                    expected = positions.get(tp, -1)
                    batch = batches[topic, partition] = PartitionBatch(
                        tp, first_offset=offset, next_offset=expected
                    )
                    if 0 <= expected < offset:
                        self._skipped(tp, expected, offset)
                append = batch.values.append
                next_offset = batch.next_offset
            if offset < next_offset:  # delivered before (a fetch restarted behind us)
                batch.duplicates += 1
                continue
            next_offset = offset + 1
            value = message.value()
            if value:
                append(value)  # type: ignore[misc] # set with batch
            else:
                batch.empty += 1
        if batch is not None:
            batch.next_offset = next_offset
        for batch in batches.values():
            if batch.next_offset >= 0:
                positions[batch.tp] = batch.next_offset
        return list(batches.values())

    def _skipped(self, tp: TopicPart, expected: int, offset: int) -> None:
        """Messages ``[expected, offset)`` are gone from Kafka (retention) before they were read."""
        self.skipped_messages += offset - expected
        log.error(
            "%s: messages %d to %d were deleted by the broker (retention) before samplerr read them",
            tp,
            expected,
            offset - 1,
        )

    def _raise_callback_error(self) -> None:
        error = self._callback_error
        if error is not None:
            self._callback_error = None
            if isinstance(error, SamplerrError):
                raise error
            raise SourceError(f"Kafka rebalance failed: {error}") from error

    def _message_error(self, error: KafkaError) -> None:
        self.errors[error.name()] += 1
        if error.fatal():
            raise SourceError(f"Kafka: fatal consumer error: {error.str()}")
        self._log_error(error)

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error callback (runs inside poll): transient errors are logged, rate-limited."""
        self.errors[error.name()] += 1
        if error.fatal():
            self._callback_error = SourceError(f"Kafka: fatal error: {error.str()}")
            return
        code = error.code()
        if code == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down(error)
        elif self._down_since is None or code not in CONNECTION_ERRORS:
            self._log_error(error)

    # -- broker reachability ------------------------------------------------------------------------

    @property
    def all_brokers_down(self) -> bool:
        return self._down_since is not None

    @property
    def brokers_down_for(self) -> float:
        """Seconds since every broker went down (0 while one answers); safe to read from any thread."""
        since = self._down_since
        return 0.0 if since is None else max(0.0, self._clock() - since)

    def _brokers_down(self, error: KafkaError) -> None:
        self.brokers_up = 0
        if self._down_since is None:
            self._down_since = self._clock()
            log.error(
                "Kafka: no broker answers (%s); samplerr keeps trying and consumes again when one does",
                error.str(),
            )

    def _brokers_back(self, up: int) -> None:
        self.brokers_up = up
        since = self._down_since
        if since is not None and up > 0:
            self._down_since = None
            log.info("Kafka: a broker answers again after %.0f s", max(0.0, self._clock() - since))

    def _on_statistics(self, text: str) -> None:
        """librdkafka's statistics callback (runs inside poll): how many brokers are up."""
        try:
            statistics = orjson.loads(text)
        except orjson.JSONDecodeError:
            return
        if isinstance(statistics, dict):
            self._brokers_back(reachable_brokers(statistics))

    def _log_error(self, error: KafkaError) -> None:
        now = self._clock()
        last = self._error_logged.get(error.code())
        if last is None or now - last >= ERROR_LOG_INTERVAL:
            self._error_logged[error.code()] = now
            log.warning("Kafka: %s (%s)", error.str(), error.name())

    # -- flow control -------------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop fetching every assigned partition (and any assigned later) until :meth:`resume`."""
        if self._paused:
            return
        self._paused = True
        self._flow(self._consumer.pause, "pause")

    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        self._flow(self._consumer.resume, "resume")

    def _flow(self, action: Callable[[list[TopicPartition]], None], what: str) -> None:
        parts = [TopicPartition(tp.topic, tp.partition) for tp in self._assigned]
        if not parts:
            return
        try:
            action(parts)
        except KafkaException as exc:
            raise SourceError(f"Kafka: cannot {what} consumption: {_describe(exc)}") from exc

    # -- offsets ------------------------------------------------------------------------------------

    def commit(self, offsets: Mapping[TopicPart, tuple[int, str]]) -> None:
        """Commit each partition's ``offset`` (the next to read) with a ``metadata`` string, synchronously."""
        if not offsets:
            return
        parts = [
            TopicPartition(tp.topic, tp.partition, offset, metadata)
            for tp, (offset, metadata) in offsets.items()
        ]
        try:
            results = self._consumer.commit(offsets=parts, asynchronous=False)
        except KafkaException as exc:
            raise SourceError(f"Kafka: commit failed: {_describe(exc)}") from exc
        failed = [p for p in results or () if p.error is not None]
        if failed:
            detail = ", ".join(f"{p.topic}[{p.partition}]: {p.error.str()}" for p in failed)
            raise SourceError(f"Kafka: commit failed for {detail}")
        if self._down_since is not None:  # the group coordinator answered
            self._brokers_back(max(1, self.brokers_up or 0))

    def committed(self, parts: list[TopicPart], timeout: float = 10.0) -> dict[TopicPart, Committed]:
        """The group's committed offsets (and their metadata) for ``parts``."""
        if not parts:
            return {}
        try:
            answers = self._consumer.committed(
                [TopicPartition(tp.topic, tp.partition) for tp in parts], timeout=timeout
            )
        except KafkaException as exc:
            raise SourceError(f"Kafka: cannot read committed offsets: {_describe(exc)}") from exc
        out: dict[TopicPart, Committed] = {}
        for p in answers:
            if p.error is not None:
                raise SourceError(f"Kafka: committed offset of {p.topic}[{p.partition}]: {p.error.str()}")
            offset = p.offset if p.offset >= 0 else None
            out[TopicPart(p.topic, p.partition)] = Committed(offset, p.metadata or "")
        return out

    def lag(self, positions: Mapping[TopicPart, int | None]) -> dict[TopicPart, int]:
        """Messages behind the end of each partition, from the high watermarks of the last fetches.

        Partitions whose position or high watermark is not known yet are left out.
        """
        out: dict[TopicPart, int] = {}
        for tp, position in positions.items():
            if position is None or position < 0:
                continue
            try:
                marks = self._consumer.get_watermark_offsets(
                    TopicPartition(tp.topic, tp.partition), cached=True
                )
            except KafkaException:
                continue
            if marks is not None and int(marks[1]) >= 0:
                out[tp] = max(0, int(marks[1]) - position)
        return out

    def close(self) -> None:
        """Leave the group (revocation callbacks run) and release the consumer."""
        if self._closed:
            return
        self._closed = True
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            log.warning("Kafka: close failed: %s", _describe(exc))
        finally:
            self._assigned.clear()


class LibrdkafkaLog:
    """librdkafka's log lines into samplerr's log (logger ``samplerr.librdkafka``).

    Its connection failures (facility ``FAIL``, one per attempt, every 100 ms or so while a broker is
    away) are logged once per :data:`ERROR_LOG_INTERVAL`, and not at all while ``quiet()`` (no broker
    answers: the source said so once, and counts them). With ``producer``, the warnings that a
    consumer property of ``[kafka.config]`` does not apply to a producer are left out.
    """

    def __init__(
        self, quiet: Callable[[], bool], clock: Callable[[], float], *, producer: bool = False
    ) -> None:
        self._quiet = quiet
        self._clock = clock
        self._producer = producer
        self._logger = logging.getLogger("samplerr.librdkafka")
        self._last_failure: float | None = None

    def log(self, level: int, message: str, *args: object) -> None:
        if self._producer and args and args[0] == "CONFWARN" and "is a consumer property" in str(args[-1]):
            return
        if args and args[0] == "FAIL":
            if self._quiet():
                return
            now = self._clock()
            if self._last_failure is not None and now - self._last_failure < ERROR_LOG_INTERVAL:
                return
            self._last_failure = now
        self._logger.log(level, message, *args)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        error: KafkaError = exc.args[0]
        return f"{error.str()} ({error.name()})"
    return str(exc)
