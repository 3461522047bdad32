"""Running `samplerr run` and `samplerr devserver` as separate processes, and reading what they did."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# librdkafka's mock cluster forgets a dead member only after its session times out: keep it short in tests.
FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 200}


def samplerr_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "samplerr", *args]


def http(method: str, url: str, body: object = None, timeout: float = 30) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            raw = answer.read()
            status = answer.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    text = raw.decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def documents(es_url: str, index_pattern: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every document of the indices matching ``index_pattern``: (index, _id) -> _source."""
    http("POST", f"{es_url}/{index_pattern}/_refresh?ignore_unavailable=true&allow_no_indices=true")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    status, indices = http("GET", f"{es_url}/_cat/indices/{index_pattern}?format=json&h=index")
    if status == 404:
        return out
    assert status == 200, indices
    for entry in indices:
        index = entry["index"]
        status, answer = http("GET", f"{es_url}/{index}/_count")
        assert status == 200, answer
        count = int(answer["count"])
        if count > 10_000:  # read everything in one page, as a test may
            status, answer = http(
                "PUT", f"{es_url}/{index}/_settings", {"index": {"max_result_window": count}}
            )
            assert status == 200, answer
        status, answer = http(
            "POST", f"{es_url}/{index}/_search", {"size": count, "query": {"match_all": {}}}
        )
        assert status == 200, answer
        hits = answer["hits"]["hits"]
        assert len(hits) == count
        for hit in hits:
            out[(hit["_index"], hit["_id"])] = hit["_source"]
    return out


def config_text(
    *,
    es_url: str,
    index_prefix: str,
    bootstrap: str,
    topics: Iterable[str],
    group: str,
    checkpoint_dir: Path,
    archives: str,
    consolidation: str = "",
    service: str = "",
    kafka_config: dict[str, object] | None = None,
    fmt: str = "json",
    kafka_lines: str = "",
) -> str:
    kafka_extra = {**FAST_GROUP, **(kafka_config or {})}
    lines = [
        "[elasticsearch]",
        f'hosts = ["{es_url}"]',
        f'index_prefix = "{index_prefix}"',
        f'alias_prefix = "{index_prefix.lstrip(".")}a-"',
        "max_retries = 3",
        "[kafka]",
        f'bootstrap_servers = "{bootstrap}"',
        f"topics = {json.dumps(list(topics))}",
        f'group_id = "{group}"',
        f'format = "{fmt}"',
        kafka_lines,
        "[kafka.config]",
        *(f'"{k}" = {json.dumps(v)}' for k, v in kafka_extra.items()),
        "[service]",
        'listen = "127.0.0.1:0"',
        f'checkpoint_dir = "{checkpoint_dir}"',
        service,
        "[consolidation]",
        consolidation,
        archives,
    ]
    return "\n".join(lines) + "\n"


RUNNING: list[Service] = []  # killed after each test by tests/service/conftest.py, if still running


def kill_leftovers() -> None:
    """Kill every `samplerr run` a test started and left running (a failed assertion, a timeout)."""
    while RUNNING:
        service = RUNNING.pop()
        if service.process is not None and service.process.poll() is None:
            service.process.kill()
            service.process.wait()
        if not service._log.closed:
            service._log.close()


@dataclass
class Service:
    """One `samplerr run` process; its log (JSON lines) goes to ``log_path``."""

    config: Path
    log_path: Path
    extra: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    url: str | None = None
    stdin: int | None = None  # a file descriptor for --source stdin (inherited otherwise)

    def start(self) -> Service:
        self.url = None
        self._log = self.log_path.open("ab")
        self._log_start = self.log_path.stat().st_size
        self.process = subprocess.Popen(
            samplerr_command(
                "run", "--config", str(self.config), "--no-lifecycle", "--log-format", "json", *self.extra
            ),
            stdin=self.stdin,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            cwd=ROOT,
            env={**os.environ, **self.env},
        )
        RUNNING.append(self)
        return self

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_bytes()[self._log_start :].splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"level": "raw", "message": raw.decode(errors="replace")})
        return lines

    def wait_for_url(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log_lines():
                match = re.search(r"metrics on (http://\S+)/metrics", entry.get("message", ""))
                if match:
                    self.url = match.group(1)
                    return self.url
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"samplerr run exited with {self.process.returncode}: {self.log_lines()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"no metrics URL in the log: {self.log_lines()}")

    def metrics(self) -> dict[str, float]:
        """Metric samples by name with labels (``name{a="b"}``), from /metrics."""
        return scrape(self.url or self.wait_for_url())

    def wait(
        self, condition: Callable[[dict[str, float]], bool], timeout: float, what: str
    ) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        last: dict[str, float] = {}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"samplerr run exited with {self.process.returncode} while waiting for {what}"
                )
            try:
                last = self.metrics()
            except (OSError, AssertionError):
                time.sleep(0.1)
                continue
            if condition(last):
                return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last metrics: {last}")

    def exit_status(self, timeout: float) -> int:
        """Wait for the process to end by itself."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._log.close()
        return status


def scrape(url: str) -> dict[str, float]:
    """Metric samples by name with labels (``name{a="b"}``), from ``url``/metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def total(metrics: dict[str, float], name: str) -> float:
    """Sum of every sample of ``name`` (all label sets)."""
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))
