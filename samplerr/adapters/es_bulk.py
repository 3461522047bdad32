"""The bulk writer: ready NDJSON in, acknowledged documents out, with retries and per-item accounting.

Input is NDJSON made of (action line, document line) pairs, as ``samplerr.core.documents.render_bulk``
writes it. The writer cuts it into chunks of at most ``bulk_max_docs`` documents and
``bulk_max_bytes`` bytes (a single document larger than that goes alone) without parsing a
document: line ends are found with NumPy and each chunk is a slice of the input, sent as bytes with
one ``POST /_bulk`` per chunk. An answer whose ``errors`` flag is ``false`` is not parsed at all (the
flag is read from its first bytes); other answers are parsed with orjson and their items walked.

Retries (exponential backoff with full jitter, :class:`RetryPolicy`):

- the whole request, when it fails with 429, a 5xx, a connection error or a timeout;
- only the rejected items, when items fail with 429 or 502/503/504 (queue full, shard unavailable);
- never an item refused for what it is (400 mapping error, 409 …): it is counted by error type in
  ``docs_failed``, logged once per type and minute with its reason, and dropped.

Nothing is counted in ``docs_ok`` before Elasticsearch acknowledged it. When the retries or the
time allowed run out, :meth:`BulkWriter.write` raises :class:`BulkIncompleteError` carrying the report so
far and the NDJSON of every document not acknowledged, so the caller can keep it and try later.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.adapters.es_ndjson import (
    BulkInput,
    Ends,
    as_ndjson,
    bulk_errors_flag,
    document_ends,
    plan_chunks,
    select_documents,
)
from samplerr.core.errors import SinkError

log = logging.getLogger(__name__)

# Item statuses worth sending again: the node was overloaded or a shard was not available.
ITEM_RETRYABLE = frozenset({429, 502, 503, 504})
# Only what the writer reads from a bulk answer (and a whole-request error): smaller answers are faster.
BULK_FILTER_PATH = "took,errors,items.*.status,items.*.error,items.*._id,items.*._index,error,status"
MAX_FAILURE_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt ``n`` waits uniformly in ``[0, min(cap, base·2ⁿ⁻¹)]``."""

    max_retries: int = 8
    base: float = 0.25  # seconds
    cap: float = 30.0  # seconds

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base < 0 or self.cap < 0:
            raise ValueError("retry policy values must not be negative")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(attempt - 1, 62))
        return rand() * ceiling


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One document Elasticsearch refused for good."""

    index: str
    doc_id: str
    status: int
    error_type: str
    reason: str


@dataclass(frozen=True, slots=True)
class BulkReport:
    """What one :meth:`BulkWriter.write` (or all of them, :attr:`BulkWriter.totals`) achieved.

    ``docs_failed`` maps Elasticsearch error types (``mapper_parsing_exception`` …) to document counts;
    ``docs_retried`` counts item resends, ``request_retries`` whole-request resends, ``bytes`` the
    request bodies sent (resends included), ``failures`` a sample of refused documents.
    """

    docs_ok: int = 0
    docs_failed: Mapping[str, int] = field(default_factory=dict)
    docs_retried: int = 0
    requests: int = 0
    request_retries: int = 0
    bytes: int = 0
    failures: tuple[ItemFailure, ...] = ()

    @property
    def docs_failed_total(self) -> int:
        return sum(self.docs_failed.values())

    def __add__(self, other: BulkReport) -> BulkReport:
        failed = Counter(self.docs_failed)
        failed.update(other.docs_failed)
        return BulkReport(
            docs_ok=self.docs_ok + other.docs_ok,
            docs_failed=dict(failed),
            docs_retried=self.docs_retried + other.docs_retried,
            requests=self.requests + other.requests,
            request_retries=self.request_retries + other.request_retries,
            bytes=self.bytes + other.bytes,
            failures=(self.failures + other.failures)[:MAX_FAILURE_SAMPLES],
        )


class BulkIncompleteError(SinkError):
    """Some documents were not acknowledged after the retries allowed.

    ``unwritten`` is their NDJSON (action and document lines), ``unwritten_docs`` their number,
    ``report`` what was done before giving up (``report.docs_ok`` documents are written).
    """

    def __init__(self, message: str, *, report: BulkReport, unwritten: bytes, unwritten_docs: int) -> None:
        super().__init__(message)
        self.report = report
        self.unwritten = unwritten
        self.unwritten_docs = unwritten_docs


# -- the writer -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    docs_ok: int = 0
    docs_failed: Counter[str] = field(default_factory=Counter)
    docs_retried: int = 0
    requests: int = 0
    request_retries: int = 0
    bytes: int = 0
    failures: list[ItemFailure] = field(default_factory=list)

    def report(self) -> BulkReport:
        return BulkReport(
            docs_ok=self.docs_ok,
            docs_failed=dict(self.docs_failed),
            docs_retried=self.docs_retried,
            requests=self.requests,
            request_retries=self.request_retries,
            bytes=self.bytes,
            failures=tuple(self.failures),
        )


class _GiveUp(Exception):  # noqa: N818 - internal control flow, never escapes the module
    def __init__(self, pending: bytes, pending_docs: int, cause: EsRequestError | None, why: str) -> None:
        super().__init__(why)
        self.pending = pending
        self.pending_docs = pending_docs
        self.cause = cause
        self.why = why


class _UnreadableAnswer(Exception):  # noqa: N818 - internal, turned into _GiveUp
    pass


class _RateLimitedLog:
    """Log the first occurrence of each key, then at most once per ``interval`` seconds with a count."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()
        self._lock = threading.Lock()

    def should_log(self, key: str) -> int | None:
        """``None`` to stay quiet, else the number of messages suppressed since the last one."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] += 1
                return None
            self._last[key] = now
            return self._suppressed.pop(key, 0)


class BulkWriter:
    """Writes NDJSON bulk bodies to Elasticsearch; safe to share between threads.

    ``sleep``, ``clock`` and ``rand`` are injectable so tests can run the retry logic fast.
    """

    def __init__(
        self,
        connection: EsConnection,
        *,
        max_docs: int | None = None,
        max_bytes: int | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        filter_path: str | None = BULK_FILTER_PATH,
    ) -> None:
        settings = connection.settings
        self._conn = connection
        self.max_docs = settings.bulk_max_docs if max_docs is None else max_docs
        self.max_bytes = settings.bulk_max_bytes if max_bytes is None else max_bytes
        self.retry = retry if retry is not None else RetryPolicy(max_retries=settings.max_retries)
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._params: dict[str, str | int | bool] = {"filter_path": filter_path} if filter_path else {}
        self._failure_log = _RateLimitedLog(60.0, clock)
        self._totals = BulkReport()
        self._totals_lock = threading.Lock()

    @property
    def totals(self) -> BulkReport:
        """Everything written since the writer was made (for metrics)."""
        with self._totals_lock:
            return self._totals

    def write(self, data: BulkInput, *, timeout: float | None = None, docs: int | None = None) -> BulkReport:
        """Write every document of ``data``; block through retries; return what happened.

        ``timeout`` (seconds) bounds the time spent retrying; the retry count is bounded by the
        policy. Raises :class:`BulkIncompleteError` with the documents not acknowledged when either runs
        out or when Elasticsearch refuses a whole request for good (bad credentials, malformed body).
        Documents refused one by one for what they are do not raise: see ``report.docs_failed``.
        ``docs`` is the number of documents in ``data`` when the caller knows it: a body within both
        limits then goes as it is, without looking for its line ends (found only when some of its
        documents must be sent again).
        """
        body = as_ndjson(data)
        deadline = None if timeout is None else self._clock() + timeout
        tally = _Tally()
        try:
            self._write_chunks(body, docs, tally, deadline)
        finally:
            report = tally.report()
            with self._totals_lock:
                self._totals = self._totals + BulkReport(
                    docs_ok=report.docs_ok,
                    docs_failed=report.docs_failed,
                    docs_retried=report.docs_retried,
                    requests=report.requests,
                    request_retries=report.request_retries,
                    bytes=report.bytes,
                )
        return tally.report()

    def _write_chunks(self, body: bytes, docs: int | None, tally: _Tally, deadline: float | None) -> None:
        """``body`` in requests within the limits, written in order: as it is when ``docs`` says it
        fits in one, else cut at its document ends."""
        ends: Ends | None = None
        if docs is not None and body and docs <= self.max_docs and len(body) <= self.max_bytes:
            chunks = [(0, docs)]
            total = docs
        else:
            ends = document_ends(body)
            chunks = plan_chunks(ends, self.max_docs, self.max_bytes) if ends.size else []
            total = int(ends.size)
        for number, (first, stop) in enumerate(chunks):
            if ends is None:
                chunk, chunk_ends, rest_offset = body, None, len(body)
            else:
                offset = int(ends[first - 1]) if first else 0
                rest_offset = int(ends[stop - 1])
                chunk, chunk_ends = body[offset:rest_offset], ends[first:stop] - offset
            try:
                self._write_chunk(chunk, chunk_ends, stop - first, tally, deadline)
            except _GiveUp as give_up:
                unwritten = give_up.pending + body[rest_offset:]
                unwritten_docs = give_up.pending_docs + total - stop
                where = f"; chunk {number + 1} of {len(chunks)}" if len(chunks) > 1 else ""
                raise BulkIncompleteError(
                    f"{unwritten_docs} of {total} documents not written ({give_up.why}){where}",
                    report=tally.report(),
                    unwritten=unwritten,
                    unwritten_docs=unwritten_docs,
                ) from give_up.cause

    def _write_chunk(
        self, body: bytes, ends: Ends | None, count: int, tally: _Tally, deadline: float | None
    ) -> None:
        """One request of ``count`` documents; ``ends`` (their end offsets) is found when needed."""
        attempt = 0
        while True:
            tally.requests += 1
            tally.bytes += len(body)
            try:
                response = self._conn.request(
                    "POST", "/_bulk", params=self._params, body=body, ndjson=True, raw=True
                )
            except EsRequestError as exc:
                if not exc.retryable:
                    too_big = exc.status == 413
                    hint = " (lower bulk_max_bytes below http.max_content_length)" if too_big else ""
                    raise _GiveUp(body, count, exc, f"{exc}{hint}") from exc
                attempt += 1
                self._backoff(attempt, deadline, body, count, exc)
                tally.request_retries += 1
                continue
            try:
                retry = self._account(response.body, count, tally)
            except _UnreadableAnswer as exc:
                raise _GiveUp(body, count, None, str(exc)) from exc
            if not retry:
                return
            if ends is None:
                ends = document_ends(body)
            body, ends = select_documents(body, ends, retry)
            count = len(retry)
            attempt += 1
            self._backoff(attempt, deadline, body, count, None)
            tally.docs_retried += count

    def _backoff(
        self, attempt: int, deadline: float | None, body: bytes, count: int, cause: EsRequestError | None
    ) -> None:
        what = str(cause) if cause is not None else f"{count} documents rejected as overload"
        if attempt > self.retry.max_retries:
            raise _GiveUp(body, count, cause, f"gave up after {self.retry.max_retries} retries: {what}")
        delay = self.retry.delay(attempt, self._rand)
        if deadline is not None and self._clock() + delay > deadline:
            raise _GiveUp(body, count, cause, f"out of time after {attempt - 1} retries: {what}")
        log.warning("bulk retry %d/%d in %.2f s: %s", attempt, self.retry.max_retries, delay, what)
        self._sleep(delay)

    def _account(self, raw: object, count: int, tally: _Tally) -> list[int]:
        """Count acknowledged and refused items; return the positions to send again.

        The answer is parsed only when its ``errors`` flag is not plainly ``false`` at its start.
        """
        if not isinstance(raw, bytes | bytearray):
            raise _UnreadableAnswer(f"bulk answer is {type(raw).__name__}, not JSON")
        if bulk_errors_flag(raw) is False:
            tally.docs_ok += count
            return []
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _UnreadableAnswer(f"bulk answer is not JSON: {exc}") from exc
        if not isinstance(answer, Mapping):
            raise _UnreadableAnswer("bulk answer is not a JSON object")
        items = answer.get("items")
        if not answer.get("errors"):
            if isinstance(items, list) and len(items) != count:
                raise _UnreadableAnswer(f"bulk answer has {len(items)} items for {count} documents")
            tally.docs_ok += count
            return []
        if not isinstance(items, list) or len(items) != count:
            got = len(items) if isinstance(items, list) else "no"
            raise _UnreadableAnswer(f"bulk answer has {got} items for {count} documents")
        retry: list[int] = []
        pending: set[tuple[object, object]] = set()  # (index, id) of the documents to send again
        for position, item in enumerate(items):
            result = next(iter(item.values())) if isinstance(item, Mapping) and item else {}
            status = int(result.get("status", 0))
            key = (result.get("_index"), result.get("_id"))
            if 200 <= status < 300:
                if key in pending:
                    # A later version of a document whose earlier version is sent again: it must
                    # be sent again after it, or the earlier one would overwrite it.
                    retry.append(position)
                else:
                    tally.docs_ok += 1
            elif status in ITEM_RETRYABLE:
                retry.append(position)
                if key[1] is not None:
                    pending.add(key)
            else:
                self._refused(result, status, tally)
        return retry

    def _refused(self, result: Mapping[str, Any], status: int, tally: _Tally) -> None:
        error = result.get("error")
        if isinstance(error, Mapping):
            error_type = str(error.get("type", f"http_{status}"))
            reason = str(error.get("reason", ""))
            caused = error.get("caused_by")
            if isinstance(caused, Mapping) and caused.get("reason"):
                reason = f"{reason}: {caused.get('reason')}"
        else:
            error_type, reason = f"http_{status}", str(error or "")
        tally.docs_failed[error_type] += 1
        failure = ItemFailure(
            str(result.get("_index", "")), str(result.get("_id", "")), status, error_type, reason
        )
        if len(tally.failures) < MAX_FAILURE_SAMPLES:
            tally.failures.append(failure)
        suppressed = self._failure_log.should_log(error_type)
        if suppressed is not None:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            log.error(
                "Elasticsearch refused document %s in %s: HTTP %d %s: %s%s",
                failure.doc_id,
                failure.index,
                status,
                error_type,
                reason,
                more,
            )
