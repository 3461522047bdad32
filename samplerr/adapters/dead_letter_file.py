"""The dead-letter file: rejected input lines of a file or stdin, appended as JSON lines.

``samplerr run --source file|stdin --dead-letter-file PATH`` appends every line rejected for an
input error (the lines a :class:`~samplerr.core.decoding.Decoder` made with ``keep_rejected``
returns: ``not_parseable``, ``no_value``, ``not_finite``, ``no_time``, ``time_out_of_range``), once
per line, as one JSON object per line::

    {"reason": "not_finite", "source": "events.jsonl", "line_number": 12, "line": "{\\"metric\\": NaN …"}

- ``source``: the input path as given, ``-`` for stdin.
- ``line_number``: 1-based, counted in the input as read (after gzip decompression).
- ``line``: the line as it came, without its newline, decoded as UTF-8 with invalid bytes escaped
  as ``\\xNN`` (``backslashreplace``); never cut.

The file is opened in append mode, unbuffered: the lines of each chunk of input go in one
``write`` as soon as that chunk is decoded, so nothing waits in memory at the end or on SIGTERM. A
write that fails (disk full, file system gone) is counted in :attr:`DeadLetterFile.failed` and
raises nothing: the caller logs it and goes on. After a write failed part-way, the next write starts
on a new line, so the lines that follow stay readable.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from samplerr.core.errors import SamplerrError


class DeadLetterFile:
    """Appends the rejected lines of one input to ``path`` (see the module docstring).

    Call :meth:`add` with every chunk of whole lines fed to the decoder, in input order (the line
    numbers are counted from them), and the lines the decoder rejected in it. Raises
    :class:`SamplerrError` when ``path`` cannot be opened for appending.
    """

    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.source = source
        self.written: Counter[str] = Counter()  # lines appended, by reason
        self.failed: Counter[str] = Counter()  # lines lost to a failed write, by reason
        self.last_error: str | None = None  # of the last failed write
        self._lines_before = 0  # lines in the chunks before the current one
        self._torn = False  # the last write stopped inside a line
        try:
            self._file = Path(path).open("ab", buffering=0)  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SamplerrError(f"--dead-letter-file {path}: cannot append: {exc.strerror or exc}") from exc

    def add(self, chunk: bytes, rejected: list[tuple[str, bytes]]) -> int:
        """Append ``rejected`` (``(reason, line)`` of ``chunk``, in order); return how many were lost."""
        records = self._records(chunk, rejected) if rejected else []
        self._lines_before += chunk.count(b"\n") + (0 if not chunk or chunk.endswith(b"\n") else 1)
        if not records:
            return 0
        if self._torn:
            records[0] = b"\n" + records[0]
        data = b"".join(records)
        done = 0
        try:
            while done < len(data):
                done += self._file.write(memoryview(data)[done:]) or 0
        except OSError as exc:
            self.last_error = exc.strerror or str(exc)
        if done:
            self._torn = not data[:done].endswith(b"\n")
        lost = 0
        end = 0
        for (reason, _), record in zip(rejected, records, strict=True):
            end += len(record)
            if end <= done:
                self.written[reason] += 1
            else:
                self.failed[reason] += 1
                lost += 1
        return lost

    def _records(self, chunk: bytes, rejected: list[tuple[str, bytes]]) -> list[bytes]:
        """One JSON line per rejected line, its number found by looking for it as a whole line."""
        records: list[bytes] = []
        pos = 0  # where the previous rejected line started (lines are in input order)
        number = self._lines_before + 1  # the number of the line starting at pos
        search = 0  # past the previous rejected line
        for reason, line in rejected:
            found = _whole_line(chunk, line, search)
            record: dict[str, object] = {"reason": reason, "source": self.source}
            if found is not None:
                number += chunk.count(b"\n", pos, found)
                pos, search = found, found + len(line) + 1
                record["line_number"] = number
            record["line"] = line.decode("utf-8", "backslashreplace")
            records.append(orjson.dumps(record) + b"\n")
        return records

    def close(self) -> None:
        self._file.close()


def _whole_line(chunk: bytes, line: bytes, start: int) -> int | None:
    """Where ``line`` occurs in ``chunk`` as a whole line (between newlines) from ``start``, or None."""
    at = chunk.find(line, start)
    while at >= 0:
        end = at + len(line)
        if (at == 0 or chunk[at - 1] == 0x0A) and (end == len(chunk) or chunk[end] == 0x0A):
            return at
        at = chunk.find(line, at + 1)
    return None
