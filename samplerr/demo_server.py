"""The development server of ``samplerr demo``, run as a child process (``samplerr devserver``).

A separate process, as Elasticsearch would be: the demo's writes and searches cross real HTTP,
and the server gets its own core. Its first line on stdout is ``listening on http://HOST:PORT``;
its stderr goes to a temporary file, shown when it fails.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class DevServerError(RuntimeError):
    """The development server did not start, or died."""


class DevServerProcess:
    """``with DevServerProcess(data_dir) as server: server.url`` — started on a free port, stopped after."""

    def __init__(self, data_dir: Path | None = None, *, start_timeout: float = START_TIMEOUT_S) -> None:
        self.data_dir = data_dir
        self.start_timeout = start_timeout
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "samplerr", "devserver", "--host", "127.0.0.1", "--port", "0"]
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        return command

    def start(self) -> str:
        """Start the server and return its URL; raises :class:`DevServerError` if it does not come up."""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            self.command(), stdout=subprocess.PIPE, stderr=self._stderr
        )
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, self.start_timeout)
        if not line.startswith("listening on "):
            self.stop()
            raise DevServerError(
                f"the development server did not start ({' '.join(self.command())}): {self.errors() or line}"
            )
        self.url = line.split()[-1]
        return self.url

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def errors(self) -> str:
        """What the server wrote on stderr so far (its last lines)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return "\n".join(text.splitlines()[-10:])

    def stop(self) -> None:
        """SIGTERM, then wait (its log is flushed on every acknowledged write); SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT_S)
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()

    def __enter__(self) -> DevServerProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def _read_line(stream: IO[bytes], timeout: float) -> str:
    """The first line of ``stream`` within ``timeout`` seconds ("" on timeout or end of stream)."""
    deadline = time.monotonic() + timeout
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()
