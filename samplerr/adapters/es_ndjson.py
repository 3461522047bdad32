"""Bulk NDJSON without parsing documents: pairing lines, chunk limits, subsets, the answer's errors flag.

A bulk body is (action line, document line) pairs. Line ends are found with NumPy, so cutting a
body of thousands of documents into chunks costs a few hundred nanoseconds per document and no
JSON parsing; a chunk is a slice of the input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

Ends = npt.NDArray[np.int64]
BulkInput = bytes | bytearray | memoryview | Iterable[tuple[bytes, bytes]] | Iterable[bytes]
# The top-level "errors" flag at the start of a bulk answer, after scalar fields only ("took" …).
_ERRORS_FLAG = re.compile(rb'\A\{\s*(?:"[a-z_]+"\s*:\s*-?[0-9.eE+]+\s*,\s*)*"errors"\s*:\s*(true|false)')


def as_ndjson(data: BulkInput) -> bytes:
    """One NDJSON body from ready bytes, (action, document) pairs, or an iterable of lines."""
    if isinstance(data, bytes):
        body = data
    elif isinstance(data, bytearray | memoryview):
        body = bytes(data)
    else:
        iterator = iter(data)
        first = next(iterator, None)
        if first is None:
            return b""
        chained: Iterator[Any] = itertools.chain((first,), iterator)
        if isinstance(first, tuple):
            chained = itertools.chain.from_iterable(chained)
        elif not isinstance(first, bytes):
            raise TypeError(f"bulk input lines must be bytes, not {type(first).__name__}")
        body = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in chained)
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return body


def document_ends(body: bytes) -> Ends:
    """End offsets (exclusive) of each action+document pair in ``body`` (which ends with a newline).

    Raises ``ValueError`` when the lines do not pair up or a line is empty.
    """
    if not body:
        return np.empty(0, dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 10).astype(np.int64)
    if newlines.size == 0 or newlines[-1] != len(body) - 1:
        raise ValueError("bulk NDJSON must end with a newline")
    if newlines[0] == 0 or (newlines.size > 1 and bool(np.any(np.diff(newlines) == 1))):
        raise ValueError("bulk NDJSON has an empty line")
    if newlines.size % 2:
        raise ValueError(f"bulk NDJSON has {newlines.size} lines: expected (action, document) line pairs")
    ends: Ends = newlines[1::2] + 1
    return ends


def bulk_errors_flag(answer: bytes | bytearray) -> bool | None:
    """The top-level ``errors`` flag of a bulk answer read from its first bytes, ``None`` if not there.

    Elasticsearch writes ``took`` (and ``ingest_took``) before ``errors`` and the items after, so a
    successful answer is recognised without parsing its items.
    """
    flag = _ERRORS_FLAG.match(answer, 0, 256)
    return None if flag is None else flag.group(1) == b"true"


def plan_chunks(ends: Ends, max_docs: int, max_bytes: int) -> list[tuple[int, int]]:
    """Split documents ``[0, len(ends))`` into consecutive ``[i, j)`` ranges within both limits.

    A range holds at most ``max_docs`` documents and ``max_bytes`` bytes, except a single document
    larger than ``max_bytes``, which gets a range of its own.
    """
    if max_docs < 1 or max_bytes < 1:
        raise ValueError("bulk limits must be positive")
    chunks: list[tuple[int, int]] = []
    count = int(ends.shape[0])
    start_doc, start_byte = 0, 0
    while start_doc < count:
        by_count = min(count, start_doc + max_docs)
        by_bytes = int(np.searchsorted(ends, start_byte + max_bytes, side="right"))
        stop = max(start_doc + 1, min(by_count, by_bytes))
        chunks.append((start_doc, stop))
        start_doc, start_byte = stop, int(ends[stop - 1])
    return chunks


def select_documents(body: bytes, ends: Ends, indices: list[int]) -> tuple[bytes, Ends]:
    """The NDJSON of documents ``indices`` (positions in ``body``) and its document end offsets."""
    starts = np.concatenate(([0], ends[:-1]))
    parts = [body[int(starts[i]) : int(ends[i])] for i in indices]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    return b"".join(parts), np.cumsum(lengths)
