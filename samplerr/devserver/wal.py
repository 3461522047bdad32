"""Durable state for ``--data-dir``: a snapshot plus an append-only write-ahead log.

Every change is appended to ``wal-<generation>.ndjson`` and flushed to the operating system before the
response leaves (``fsync=True`` also forces it to disk), so a ``kill -9`` loses nothing acknowledged.
Documents are logged as a header line followed by their source line, exactly as received when it is
single-line JSON. On start the snapshot and the log are replayed (a torn last record is ignored), then
compacted into a new snapshot of the next generation written atomically (temporary file, fsync,
rename), and a fresh log is opened.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from samplerr.devserver.store import Cluster, Doc

log = logging.getLogger("samplerr.devserver")
SNAPSHOT = "snapshot.ndjson"


class FileJournal:
    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self._fsync = fsync
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 - lives as long as the server

    def record(self, entry: dict[str, Any]) -> None:
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
            self._buffer.append(line)

    def record_doc(self, index: str, doc: Doc) -> None:
        header = orjson.dumps({"t": "doc", "i": index, "id": doc.id, "v": doc.version, "s": doc.seq_no})
        with self._lock:
            self._buffer.extend((header, b"\n", _single_line(doc), b"\n"))

    def commit(self) -> None:
        with self._lock:
            if not self._buffer:
                return
            data = b"".join(self._buffer)
            self._buffer.clear()
            self._file.write(data)
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        self.commit()
        with self._lock:
            self._file.close()


def _single_line(doc: Doc) -> bytes:
    raw = doc.raw
    if b"\n" in raw or b"\r" in raw:
        return orjson.dumps(doc.source)
    return raw


def _entries(data: bytes, *, tolerate_torn: bool) -> Iterator[tuple[dict[str, Any], bytes | None]]:
    lines = data.split(b"\n")
    complete = len(lines) - 1  # the part after the last newline is incomplete (or empty)
    i = 0
    while i < complete:
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            if tolerate_torn:
                log.warning("ignoring a damaged journal record at line %d", i)
                return
            raise
        if entry.get("t") == "doc":
            if i >= complete:
                return  # the source line was not written completely
            source = lines[i]
            i += 1
            yield entry, source
        else:
            yield entry, None


def _generation(path: Path) -> int:
    with open(path, "rb") as handle:
        first = handle.readline()
    try:
        return int(orjson.loads(first).get("generation", 0))
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        return 0


def load(directory: Path, cluster: Cluster, *, fsync: bool = False) -> FileJournal:
    """Replay ``directory`` into ``cluster``, compact it, and return the journal to append to."""
    directory.mkdir(parents=True, exist_ok=True)
    snapshot = directory / SNAPSHOT
    generation = 0
    if snapshot.exists():
        generation = _generation(snapshot)
        data = snapshot.read_bytes()
        for entry, source in _entries(data.split(b"\n", 1)[1] if b"\n" in data else b"", tolerate_torn=False):
            cluster.apply(entry, source)
    wal = directory / f"wal-{generation}.ndjson"
    if wal.exists():
        for entry, source in _entries(wal.read_bytes(), tolerate_torn=True):
            try:
                cluster.apply(entry, source)
            except (KeyError, ValueError, orjson.JSONDecodeError):
                log.warning("ignoring a journal record that does not apply: %s", entry.get("t"))
    generation += 1
    _write_snapshot(directory, cluster, generation)
    for old in directory.glob("wal-*.ndjson"):
        if old.name != f"wal-{generation}.ndjson":
            old.unlink()
    return FileJournal(directory / f"wal-{generation}.ndjson", fsync=fsync)


def _write_snapshot(directory: Path, cluster: Cluster, generation: int) -> None:
    tmp = directory / (SNAPSHOT + ".tmp")
    with open(tmp, "wb") as out:
        out.write(orjson.dumps({"generation": generation}) + b"\n")
        for entry, source in cluster.snapshot_entries():
            out.write(orjson.dumps(entry) + b"\n")
            if source is not None:
                raw = (
                    source
                    if b"\n" not in source and b"\r" not in source
                    else orjson.dumps(orjson.loads(source))
                )
                out.write(raw + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / SNAPSHOT)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
