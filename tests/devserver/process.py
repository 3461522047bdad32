"""Run ``samplerr devserver`` as a real process for tests: start, kill -9, restart, inject faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30.0


class DevServerProcess:
    """One ``python -m samplerr devserver --port 0 …`` process.

    ``url``/``port`` are known once started; ``data_dir`` is the ``--data-dir`` (or None);
    ``restart()`` starts it again with the same arguments (same data dir) after ``kill()``/``stop()``.
    """

    def __init__(self, *args: str, data_dir: Path | None = None, port: int = 0) -> None:
        self.args = list(args)
        self.data_dir = data_dir
        self.port = port
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "samplerr", "devserver", "--port", str(self.port), *self.args]
        if self.data_dir is not None:
            cmd += ["--data-dir", str(self.data_dir)]
        return cmd

    def start(self) -> DevServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        line = self._first_line()
        if not line.startswith("listening on http://"):
            self.kill()
            self._stderr.seek(0)
            raise RuntimeError(f"devserver did not start: {line!r}\n{self._stderr.read()}")
        self.url = line.split(" ", 2)[2].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def _first_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(START_TIMEOUT_S)
        return result[0] if result else ""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        status, body = self.request("POST", "/_devserver/faults", faults)
        assert status == 200, body
        return dict(body)

    def clear_faults(self) -> None:
        status, body = self.request("DELETE", "/_devserver/faults")
        assert status == 200, body

    def stats(self) -> dict[str, Any]:
        status, body = self.request("GET", "/_devserver/stats")
        assert status == 200, body
        return dict(body)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        return self.proc.returncode

    def restart(self, *, same_port: bool = True) -> DevServerProcess:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if not same_port:
            self.port = 0
        return self.start()

    def close(self) -> None:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()
