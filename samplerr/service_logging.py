"""Log lines of ``samplerr run``: readable text by default, one JSON object a line with ``--log-format json``.

Text: ``2026-11-22T10:31:40.123Z INFO samplerr.service: assigned metrics[0], metrics[1]``.
JSON: ``{"time": "2026-11-22T10:31:40.123Z", "level": "info", "logger": "samplerr.service",
"message": "…"}`` plus ``exception`` when there is a traceback. Lines go to stderr (journald and
container runtimes collect it); times are UTC.

:class:`RateLimited` keeps a noisy condition (bad input, a broker down) to one line per interval,
saying how many were suppressed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, TextIO

import orjson

LogFormat = Literal["text", "json"]


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def setup_logging(fmt: LogFormat = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send samplerr's (and librdkafka's, elastic_transport's) logs to ``stream`` (stderr) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The HTTP client logs every request at INFO: keep those for debugging.
    logging.getLogger("elastic_transport").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))


class RateLimited:
    """At most one log line per ``interval`` seconds for one condition, counting what was held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None
        self.suppressed = 0

    def ready(self) -> bool:
        """True when a line may be logged now (then :attr:`suppressed` says how many were not)."""
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            self.suppressed += 1
            return False
        self._last = now
        return True

    def logged(self) -> None:
        self.suppressed = 0
