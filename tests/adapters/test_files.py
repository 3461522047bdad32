"""Reading input in chunks of whole lines, from files and from pipes that stay open."""

from __future__ import annotations

import gzip
import itertools
import os
import threading
from pathlib import Path

from samplerr.adapters.files import iter_line_chunks


def test_lines_down_an_open_pipe_are_handed_on_before_a_chunk_fills():
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as stream:
        os.write(write_end, b'{"a": 1}\n{"a": 2}\n{"a": ')  # the writer stays open
        first: list[bytes] = []
        reader = threading.Thread(
            target=lambda: first.append(next(iter_line_chunks(stream, 1 << 20, live=True)))
        )
        reader.start()
        reader.join(5)
        try:
            assert first == [b'{"a": 1}\n{"a": 2}\n'], "the reader waited for a full chunk"
        finally:
            os.close(write_end)
            reader.join(5)


def test_chunks_hold_whole_lines_whatever_the_chunk_size(tmp_path: Path):
    lines = [b"x" * n + b"\n" for n in range(0, 300, 7)] + [b"tail without newline"]
    data = b"".join(lines)
    plain, packed = tmp_path / "in.txt", tmp_path / "in.txt.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    for size, live in itertools.product((1, 5, 64, 1 << 20), (False, True)):
        for path, opener in ((plain, open), (packed, gzip.open)):
            with opener(path, "rb") as stream:
                chunks = list(iter_line_chunks(stream, size, live=live))  # type: ignore[arg-type]
            assert b"".join(chunks) == data
            assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
