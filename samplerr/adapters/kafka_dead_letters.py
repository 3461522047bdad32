"""The dead-letter topic: rejected input lines, produced to Kafka with why and where they came from.

What :class:`DeadLetterProducer` promises the service (``samplerr.service``):

- **One message per rejected line**: the value is the line as it came (cut to
  :data:`MAX_LINE_BYTES`, with the header ``samplerr.truncated`` giving its length, when longer), no
  key, and the headers ``samplerr.reason`` (``not_parseable``, ``not_finite`` …), ``samplerr.topic``,
  ``samplerr.partition`` and, when known, ``samplerr.offset`` of the source message.
- **Acknowledged before the source moves on**: :meth:`settle` waits until Kafka acknowledged every
  line sent so far (``acks=all``, librdkafka's default); the service calls it before it snapshots a
  checkpoint, whose offset is where consumption resumes. A crash before that replays the source
  messages after the last checkpoint: their dead letters are produced again (duplicates, never
  losses).
- **Failures are counted and logged, not fatal**: a line librdkafka could not deliver (topic
  missing or not writable, ``message.timeout.ms`` passed) is counted in :attr:`failed` and logged
  (rate-limited), and consumption goes on.

The producer shares ``[kafka.config]`` with the consumer (SASL, SSL …); the consumer-only settings
there are ignored by librdkafka, quietly.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from samplerr.adapters.kafka import CONNECTION_ERRORS, ERROR_LOG_INTERVAL, LibrdkafkaLog, PartitionBatch
from samplerr.core.config import KafkaSettings
from samplerr.core.errors import ConfigError

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 512 * 1024  # a line longer than this is cut (Kafka refuses messages over 1 MB by default)
QUEUE_WAIT = 30.0  # seconds a send waits for room in librdkafka's queue before the line counts as failed
DEFAULT_CONFIG: Mapping[str, object] = {
    "queue.buffering.max.kbytes": 64 * 1024,  # memory for lines not acknowledged yet
}
# Consumer settings samplerr sets: not for a producer (statistics would need a callback).
_NOT_FOR_PRODUCERS = frozenset(
    {"group.id", "enable.auto.commit", "enable.auto.offset.store", "statistics.interval.ms"}
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected line and where it came from."""

    reason: str
    line: bytes
    topic: str
    partition: int
    offset: int | None = None  # of the source message, when known


def producer_config(settings: KafkaSettings, client_id: str = "samplerr") -> dict[str, object]:
    config: dict[str, object] = {"client.id": client_id, **DEFAULT_CONFIG}
    config.update({k: v for k, v in settings.config.items() if k not in _NOT_FOR_PRODUCERS})
    config["bootstrap.servers"] = settings.bootstrap_servers
    return config


def source_offsets(batch: PartitionBatch, lines: list[bytes]) -> list[int | None]:
    """The offset of the message each of ``lines`` came from (lines of ``batch.values``, in order).

    Known when the batch's messages have consecutive offsets (no tombstone, no message delivered
    twice, no gap left by compaction or transaction markers); None for every line otherwise. A line
    is looked for as a whole line in the messages, from where the previous one was found: identical
    lines decode identically, so the n-th rejected copy of a line is its n-th occurrence.
    """
    values = batch.values
    consecutive = (
        batch.empty == 0
        and batch.duplicates == 0
        and batch.first_offset >= 0
        and batch.next_offset - batch.first_offset == len(values)
    )
    if not consecutive:
        return [None] * len(lines)
    if len(values) == 1:
        return [batch.first_offset] * len(lines)
    out: list[int | None] = []
    message, start = 0, 0
    for line in lines:
        while message < len(values):
            found = _find_line(values[message], line, start)
            if found >= 0:
                out.append(batch.first_offset + message)
                start = found + len(line) + 1
                break
            message, start = message + 1, 0
        else:  # not found: cannot happen for lines of the batch
            out.append(None)
            message, start = 0, 0
    return out


def _find_line(value: bytes, line: bytes, start: int) -> int:
    """Where ``line`` is a whole line of ``value`` (between newlines or the ends), from ``start``; -1."""
    while True:
        found = value.find(line, start)
        if found < 0:
            return -1
        end = found + len(line)
        if (found == 0 or value[found - 1] == 10) and (end == len(value) or value[end] == 10):
            return found
        start = found + 1


def headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    out = [
        ("samplerr.reason", letter.reason.encode()),
        ("samplerr.topic", letter.topic.encode()),
        ("samplerr.partition", str(letter.partition).encode()),
    ]
    if letter.offset is not None:
        out.append(("samplerr.offset", str(letter.offset).encode()))
    if len(letter.line) > MAX_LINE_BYTES:
        out.append(("samplerr.truncated", str(len(letter.line)).encode()))
    return out


class DeadLetterProducer:
    """Produces :class:`DeadLetter` s to ``topic``; see the module docstring for its contract."""

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        *,
        client_id: str = "samplerr",
        clock: Callable[[], float] = time.monotonic,
        producer_factory: Callable[[dict[str, object]], Any] = Producer,
    ) -> None:
        self.topic = topic
        self._clock = clock
        self.delivered: Counter[str] = Counter()  # acknowledged, by reason
        self.failed: Counter[str] = Counter()  # not delivered, by reason
        self._in_flight = 0
        self._failure_logged: dict[str, float] = {}
        self._brokers_down = False
        config = producer_config(settings, client_id)
        config["error_cb"] = self._on_error
        config["logger"] = LibrdkafkaLog(lambda: self._brokers_down, clock, producer=True)
        try:
            self._producer = producer_factory(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConfigError(
                "[kafka.config]",
                "",
                f"librdkafka refuses the configuration of the dead-letter producer: {exc}",
            ) from exc

    @property
    def in_flight(self) -> int:
        """Lines sent and not acknowledged (nor failed) yet."""
        return self._in_flight

    def send(self, letters: Iterable[DeadLetter]) -> None:
        """Queue letters for Kafka (asynchronously; :meth:`settle` waits for them)."""
        for letter in letters:
            self._send(letter)
        self._producer.poll(0)

    def _send(self, letter: DeadLetter) -> None:
        deadline = self._clock() + QUEUE_WAIT
        while True:
            try:
                self._producer.produce(
                    self.topic,
                    value=letter.line[:MAX_LINE_BYTES],
                    headers=headers(letter),
                    on_delivery=functools.partial(self._delivered, letter.reason),
                )
            except BufferError:  # librdkafka's queue is full: Kafka is slow or away
                if self._clock() >= deadline:
                    self._failure(letter.reason, "librdkafka's queue stayed full")
                    return
                self._producer.poll(0.1)
                continue
            except KafkaException as exc:
                self._failure(letter.reason, str(exc.args[0].str() if exc.args else exc))
                return
            self._in_flight += 1
            return

    def poll(self) -> None:
        """Serve delivery reports (counts and failures) without waiting."""
        self._producer.poll(0)

    def settle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until every line sent is acknowledged or failed for good."""
        if self._in_flight:
            self._producer.flush(timeout)
        else:
            self._producer.poll(0)
        return self._in_flight == 0

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds) and release the producer."""
        left = self._producer.flush(timeout)
        if left:
            log.warning("%d dead letters not delivered at shutdown (their source is consumed again)", left)

    def _delivered(self, reason: str, error: KafkaError | None, _message: Message) -> None:
        self._in_flight -= 1
        if error is None:
            self.delivered[reason] += 1
            self._brokers_down = False
        else:
            self._failure(reason, f"{error.str()} ({error.name()})")

    def _failure(self, reason: str, why: str) -> None:
        self.failed[reason] += 1
        now = self._clock()
        last = self._failure_logged.get(why)
        if last is None or now - last >= ERROR_LOG_INTERVAL:
            self._failure_logged[why] = now
            log.error(
                "a rejected line (%s) could not be sent to the dead-letter topic %s: %s",
                reason,
                self.topic,
                why,
            )

    def _on_error(self, error: KafkaError) -> None:
        """librdkafka's error callback: the consumer reports brokers down; other errors are logged."""
        code = error.code()
        if code == KafkaError._ALL_BROKERS_DOWN:
            self._brokers_down = True
        if code in CONNECTION_ERRORS:
            return
        now = self._clock()
        last = self._failure_logged.get(error.name())
        if last is None or now - last >= ERROR_LOG_INTERVAL:
            self._failure_logged[error.name()] = now
            log.warning("Kafka (dead-letter producer): %s (%s)", error.str(), error.name())
