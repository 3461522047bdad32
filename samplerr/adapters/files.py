"""File and stdin sources: whole-line chunks from a path, ``-`` (stdin) or a gzip file."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from samplerr.core.errors import SamplerrError, SourceError

CHUNK_SIZE = 4 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(slots=True)
class OpenInput:
    """An opened input: ``stream`` yields decompressed bytes; ``raw`` is the file for progress."""

    stream: BinaryIO
    raw: BinaryIO
    size: int | None  # bytes on disk, when known (regular files)
    name: str

    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0


@contextmanager
def open_input(path: str) -> Iterator[OpenInput]:
    """Open ``path`` (``-`` is stdin), decompressing gzip transparently (detected by its magic bytes)."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        name, size = "<stdin>", None
    else:
        try:
            raw = Path(path).open("rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SourceError(f"{path}: cannot open: {exc.strerror or exc}") from exc
        name = path
        size = os.fstat(raw.fileno()).st_size
    try:
        stream: BinaryIO = raw
        peek = getattr(raw, "peek", None)
        head = peek(2)[:2] if peek is not None else b""
        if head == _GZIP_MAGIC:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        yield OpenInput(stream, raw, size, name)
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()


def iter_line_chunks(
    stream: BinaryIO, chunk_size: int = CHUNK_SIZE, *, live: bool = False
) -> Iterator[bytes]:
    """Yield chunks of whole lines (each ends at a newline, except possibly the last one).

    From a ``live`` input (a pipe, stdin) a chunk is what one read returns (``read1``: what is
    there, up to ``chunk_size``), so lines are handed on as they arrive rather than once
    ``chunk_size`` bytes have piled up; from a file, chunks are ``chunk_size`` bytes (fewer, larger
    batches: cheaper per event).
    """
    rest = b""
    read = getattr(stream, "read1", stream.read) if live else stream.read
    try:
        while True:
            block = read(chunk_size)
            if not block:
                break
            cut = block.rfind(b"\n")
            if cut < 0:
                rest += block
                continue
            yield rest + block[: cut + 1]
            rest = block[cut + 1 :]
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"input cannot be read: {exc}") from exc
    if rest:
        yield rest


@contextmanager
def open_output(path: str) -> Iterator[BinaryIO]:
    """Open ``path`` for writing bytes (``-`` is stdout, flushed but not closed at the end)."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    try:
        out = Path(path).open("wb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise SamplerrError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    with out:
        yield out
