"""Elasticsearch bulk NDJSON of consolidated windows (ARCHITECTURE §3).

Each document is written with an ``index`` action: ``{"index":{"_id":…,"_index":…}}`` then the
document, one line each.

Index
    ``index_prefix + archive.tf.format(window start)``, e.g. ``.samplerr-2026.11.22``.

Documents
    Layout ``samplerr`` (default, as the original samplerr): one per series x cfunc x window::

        {"@timestamp":"2026-11-22T10:31:40Z","cfunc":"avg","step":20,"host":"web-1","service":"cpu","metric":0.25}

    Layout ``compact``: one per series x window, with ``count`` and one field per other cfunc::

        {"@timestamp":"2026-11-22T10:31:40Z","step":20,"host":"web-1","service":"cpu","count":2,"avg":0.25,"max":0.5}

    ``@timestamp`` is the window start (UTC), ``step`` the window in seconds, the series key fields
    are strings. ``avg`` is ``sum / count``; ``count`` is an integer, other values are floats
    written in the shortest form that reads back to the same double. A key field whose name is
    taken by the document (``@timestamp``, ``cfunc``, ``step``, ``metric``, and in the compact
    layout ``count`` and the cfunc names) is written as ``key_<name>`` (one more ``key_`` while
    that name is taken too).

Non-finite values
    A value that is not finite (a sum that overflowed, and the average computed from it) is left
    out — no document for that cfunc in the ``samplerr`` layout, no field in ``compact`` — and
    counted in :attr:`DocumentRenderer.values_left_out`. NaN and infinities never reach JSON.

``_id`` (stable across restarts and releases: writing a window again overwrites it)
    ``<series hash>.<step>.<cfunc>.<window start>``, e.g. ``3f2a9c0b1d4e5f67.20.avg.1795350700``:

    * series hash: the first 8 bytes, as 16 lowercase hex digits, of BLAKE2b (``digest_size=8``,
      no key) over the canonical series key: the UTF-8 JSON array of ``[field, value]`` pairs
      sorted by field, without spaces, non-ASCII characters unescaped — Python's
      ``json.dumps(sorted(pairs), ensure_ascii=False, separators=(",", ":"))``, e.g.
      ``[["host","web-1"],["service","cpu"]]``;
    * step: the archive's window in seconds;
    * cfunc: the cfunc name in the ``samplerr`` layout, ``c`` in the ``compact`` layout;
    * window start: UTC epoch seconds.

    The index is not part of the id: it follows from the archive and the window start, and ids
    are unique within an index. Two series collide only if their 64-bit hashes do (for a million
    series, a chance of about 3·10⁻⁸).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from samplerr.core.config import Archive, Layout
from samplerr.core.consolidation import WindowResults
from samplerr.core.events import SeriesKey, SeriesRegistry

__all__ = [
    "BulkChunk",
    "DocumentRenderer",
    "document_id",
    "iter_documents",
    "render_bulk",
    "series_hash",
]

F64 = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

RESERVED: Final = frozenset({"@timestamp", "cfunc", "step", "metric"})
COMPACT_RESERVED: Final = frozenset(
    {"@timestamp", "step", "count", "avg", "min", "max", "sum", "first", "last"}
)
# Windows rendered per inner join: small joins stay in the CPU caches (a single join of millions
# of small pieces is several times slower per piece).
CHUNK_DOCS: Final = 4096
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def canonical_series_key(key: SeriesKey) -> bytes:
    """The bytes hashed for a series: see the module docstring."""
    pairs = sorted([field, value] for field, value in key)
    return json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def series_hash(key: SeriesKey) -> str:
    """16 lowercase hex digits identifying a series in document ids."""
    return hashlib.blake2b(canonical_series_key(key), digest_size=8).hexdigest()


def document_id(key: SeriesKey, step: int, cfunc_or_compact: str, start_s: int) -> str:
    """The ``_id`` of one document; ``cfunc_or_compact`` is a cfunc name, or ``c`` (compact layout)."""
    return f"{series_hash(key)}.{step}.{cfunc_or_compact}.{start_s}"


def document_fields(key: SeriesKey, reserved: frozenset[str]) -> dict[str, str]:
    """A series' key fields as they appear in documents (names taken by the document renamed)."""
    out = {field: value for field, value in key if field not in reserved}
    for field, value in key:
        if field in reserved:
            name = "key_" + field
            while name in reserved or name in out:  # a real field keeps its own name
                name = "key_" + name
            out[name] = value
    return out


def iso_utc(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _reserved(layout: Layout) -> frozenset[str]:
    return COMPACT_RESERVED if layout == "compact" else RESERVED


def cfunc_values(results: WindowResults, cfunc: str) -> npt.NDArray[Any]:
    """The values of one cfunc for every window of ``results``."""
    if cfunc == "count":
        return results.count
    if cfunc == "avg":
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            avg: F64 = results.sum / results.count
        return avg
    column: F64 = getattr(results, cfunc)
    return column


def _check_layout(layout: str) -> None:
    if layout not in ("samplerr", "compact"):
        raise ValueError(f"unknown layout {layout!r}; valid: samplerr, compact")


def iter_documents(
    results: WindowResults, archive: Archive, registry: SeriesRegistry, layout: Layout, index_prefix: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(index, _id, document)`` for every document of ``results``, one by one (slow; for tests
    and tools). :func:`render_bulk` writes the same documents."""
    _check_layout(layout)
    reserved = _reserved(layout)
    values = {cfunc: cfunc_values(results, cfunc).tolist() for cfunc in archive.cfuncs}
    rows = list(enumerate(zip(results.series.tolist(), results.starts_s.tolist(), strict=True)))
    if layout == "compact":
        for i, (sid, start) in rows:
            key = registry.key(sid)
            doc: dict[str, Any] = {
                "@timestamp": iso_utc(start),
                "step": archive.step,
                **document_fields(key, reserved),
                "count": int(results.count[i]),
            }
            for cfunc in archive.cfuncs:
                if cfunc != "count" and math.isfinite(values[cfunc][i]):
                    doc[cfunc] = values[cfunc][i]
            yield index_prefix + archive.tf.format(start), document_id(key, archive.step, "c", start), doc
        return
    for cfunc in archive.cfuncs:  # cfunc by cfunc, like render_bulk
        for i, (sid, start) in rows:
            value = values[cfunc][i]
            if not math.isfinite(value):
                continue
            key = registry.key(sid)
            doc = {
                "@timestamp": iso_utc(start),
                "cfunc": cfunc,
                "step": archive.step,
                **document_fields(key, reserved),
                "metric": value,
            }
            yield index_prefix + archive.tf.format(start), document_id(key, archive.step, cfunc, start), doc


@dataclass(frozen=True, slots=True)
class _Rows:
    """Pieces of one call, per row of the results."""

    heads: list[bytes]  # '{"index":{"_id":"<hash>.' of the row's series
    bodies: list[bytes]  # the series' key fields, then '"metric":' (compact: '"count":')
    window_of: npt.NDArray[np.int64]  # position of the row's window start in ``starts``
    starts: list[int]  # distinct window starts


@dataclass(frozen=True, slots=True)
class BulkChunk:
    """NDJSON of ``documents`` (action line, document line) pairs."""

    body: bytes
    documents: int


class DocumentRenderer:
    """Renders :class:`WindowResults` to bulk NDJSON, keeping per-series pieces between calls.

    The JSON of a series' key fields and its id hash are computed once per series; the index
    name and timestamp once per window start in a call; values are formatted by orjson in bulk.
    Documents are then assembled by joining prepared pieces (bytes: the NDJSON is never a ``str``),
    a few thousand at a time.
    """

    def __init__(
        self, registry: SeriesRegistry, layout: Layout = "samplerr", index_prefix: str = ".samplerr-"
    ) -> None:
        _check_layout(layout)
        self.registry = registry
        self.layout: Layout = layout
        self.index_prefix = index_prefix
        self.documents = 0  # documents rendered so far
        self.values_left_out = 0  # non-finite values not written
        self._reserved = _reserved(layout)
        self._ready: npt.NDArray[np.bool_] = np.zeros(0, dtype=np.bool_)  # series with pieces
        self._head: ObjArray = np.empty(0, dtype=object)  # '{"index":{"_id":"<hash>.'
        self._body: ObjArray = np.empty(0, dtype=object)  # '"host":"a",…,"metric":' (compact: …"count":)

    def render(self, results: WindowResults, archive: Archive) -> bytes:
        """The bulk NDJSON of every document of ``results`` (windows of ``archive``)."""
        return b"".join(chunk.body for chunk in self.render_chunks(results, archive))

    def render_chunks(
        self, results: WindowResults, archive: Archive, max_docs: int = CHUNK_DOCS
    ) -> Iterator[BulkChunk]:
        """The documents of ``results`` as NDJSON chunks of at most ``max_docs`` documents."""
        n = len(results)
        if n == 0:
            return
        if max_docs < 1:
            raise ValueError("max_docs must be positive")
        self._prepare_series(results.series)
        window_of, starts = _runs(results.starts_s)
        rows = _Rows(
            heads=self._head[results.series].tolist(),
            bodies=self._body[results.series].tolist(),
            window_of=window_of,
            starts=starts,
        )
        if self.layout == "compact":
            yield from self._compact(results, archive, rows, max_docs)
        else:
            yield from self._samplerr(results, archive, rows, max_docs)

    # -- layouts --------------------------------------------------------------------------------

    def _samplerr(
        self, results: WindowResults, archive: Archive, rows: _Rows, max_docs: int
    ) -> Iterator[BulkChunk]:
        heads, bodies, window_of, starts = rows.heads, rows.bodies, rows.window_of, rows.starts
        step = archive.step
        per_cfunc: list[tuple[list[bytes], list[bytes], list[bytes], list[bytes]]] = []
        for cfunc in archive.cfuncs:
            values = cfunc_values(results, cfunc)
            windows = [
                (
                    f'{step}.{cfunc}.{start}","_index":"{self.index_prefix}{archive.tf.format(start)}"}}}}\n'
                    f'{{"@timestamp":"{iso_utc(start)}","cfunc":"{cfunc}","step":{step},'
                ).encode()
                for start in starts
            ]
            finite = self._finite_rows(values)
            if finite is None:
                per_cfunc.append((heads, _take(windows, window_of), bodies, _format(values)))
            else:
                per_cfunc.append(
                    (
                        [heads[i] for i in finite],
                        _take(windows, window_of[finite]),
                        [bodies[i] for i in finite],
                        _format(values[finite]),
                    )
                )
        for columns in per_cfunc:
            yield from self._assemble(columns, max_docs)

    def _compact(
        self, results: WindowResults, archive: Archive, rows: _Rows, max_docs: int
    ) -> Iterator[BulkChunk]:
        heads, bodies, window_of, starts = rows.heads, rows.bodies, rows.window_of, rows.starts
        step = archive.step
        n = len(results)
        windows = [
            (
                f'{step}.c.{start}","_index":"{self.index_prefix}{archive.tf.format(start)}"}}}}\n'
                f'{{"@timestamp":"{iso_utc(start)}","step":{step},'
            ).encode()
            for start in starts
        ]
        columns: list[Sequence[bytes]] = [heads, _take(windows, window_of), bodies, _format(results.count)]
        for cfunc in archive.cfuncs:
            if cfunc == "count":
                continue
            values = cfunc_values(results, cfunc)
            names = [f',"{cfunc}":'.encode()] * n
            finite = np.isfinite(values)
            formatted = _format(np.where(finite, values, 0.0))
            if not bool(finite.all()):
                bad = np.flatnonzero(~finite).tolist()
                self.values_left_out += len(bad)
                for i in bad:
                    names[i] = formatted[i] = b""
            columns.extend((names, formatted))
        yield from self._assemble(columns, max_docs)

    def _assemble(self, columns: Sequence[Sequence[bytes]], max_docs: int) -> Iterator[BulkChunk]:
        """Documents made of one piece of each column in turn, then ``}\\n``, ``max_docs`` per chunk.

        The pieces of a chunk are laid out in document order by slice assignment, one column at a
        time, and joined once: no Python-level step per piece."""
        width = len(columns) + 1
        count = len(columns[0])
        for lo in range(0, count, max_docs):
            hi = min(count, lo + max_docs)
            whole = lo == 0 and hi == count
            pieces = [b"}\n"] * ((hi - lo) * width)
            for k, column in enumerate(columns):
                pieces[k::width] = column if whole else column[lo:hi]
            self.documents += hi - lo
            yield BulkChunk(b"".join(pieces), hi - lo)

    # -- pieces ---------------------------------------------------------------------------------

    def _finite_rows(self, values: npt.NDArray[Any]) -> npt.NDArray[np.int64] | None:
        """Rows whose value is finite, or None when all are; counts the others."""
        if values.dtype.kind != "f":
            return None
        finite = np.isfinite(values)
        if bool(finite.all()):
            return None
        self.values_left_out += int(finite.shape[0] - np.count_nonzero(finite))
        return np.flatnonzero(finite)

    def _prepare_series(self, series: npt.NDArray[np.int64]) -> None:
        """Compute the pieces of the series in ``series`` that do not have them yet."""
        max_id = int(series.max())
        if max_id < self._ready.shape[0] and bool(self._ready[series].all()):
            return
        if max_id >= len(self.registry) or int(series.min()) < 0:
            raise ValueError(f"series id {max_id} is not in the registry")
        if max_id >= self._ready.shape[0]:
            size = max(max_id + 1, 2 * self._ready.shape[0])
            known = self._ready.shape[0]
            ready = np.zeros(size, dtype=np.bool_)
            head: ObjArray = np.empty(size, dtype=object)
            body: ObjArray = np.empty(size, dtype=object)
            ready[:known], head[:known], body[:known] = self._ready, self._head, self._body
            self._ready, self._head, self._body = ready, head, body
        tail = b',"count":' if self.layout == "compact" else b',"metric":'
        missing = np.unique(series)
        for sid in missing[~self._ready[missing]].tolist():
            key = self.registry.key(sid)
            self._head[sid] = f'{{"index":{{"_id":"{series_hash(key)}.'.encode()
            fields = orjson.dumps(document_fields(key, self._reserved))[1:-1]
            self._body[sid] = fields + tail if fields else tail[1:]
            self._ready[sid] = True


def _runs(starts_s: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], list[int]]:
    """(index of each row's window start in the list of distinct starts, the distinct starts)."""
    n = int(starts_s.shape[0])
    if n > 1 and bool(np.all(starts_s[1:] >= starts_s[:-1])):  # sorted, as the consolidator emits
        changed = np.empty(n, dtype=np.bool_)
        changed[0] = True
        np.not_equal(starts_s[1:], starts_s[:-1], out=changed[1:])
        firsts = np.flatnonzero(changed)
        window_of: npt.NDArray[np.int64] = np.cumsum(changed, dtype=np.int64)
        window_of -= 1
        return window_of, starts_s[firsts].tolist()
    unique, inverse = np.unique(starts_s, return_inverse=True)
    return inverse.astype(np.int64, copy=False).reshape(-1), unique.tolist()


def _take(pieces: list[bytes], index: npt.NDArray[np.int64]) -> list[bytes]:
    table: ObjArray = np.empty(len(pieces), dtype=object)
    table[:] = pieces
    out: list[bytes] = table[index].tolist()
    return out


def _format(values: npt.NDArray[Any]) -> list[bytes]:
    """Each value as JSON: the shortest text that reads back to the same double; ints as ints."""
    if values.shape[0] == 0:
        return []
    return orjson.dumps(values, option=_NUMPY)[1:-1].split(b",")


def render_bulk(
    results: WindowResults, archive: Archive, registry: SeriesRegistry, layout: Layout, index_prefix: str
) -> bytes:
    """The bulk NDJSON of ``results``. Prefer a long-lived :class:`DocumentRenderer`, which keeps
    the per-series pieces between calls."""
    return DocumentRenderer(registry, layout, index_prefix).render(results, archive)
