"""What every handler receives: the cluster state, fault injection, counters and server identity."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver.faults import Faults
from samplerr.devserver.store import Cluster

VERSIONS: dict[int, dict[str, str]] = {
    9: {"lucene": "10.2.2", "wire": "8.19.0", "index": "8.0.0"},
    8: {"lucene": "9.12.2", "wire": "7.17.0", "index": "7.0.0"},
}
BUILD_HASH = "devserver00000000000000000000000000000000"
BUILD_DATE = "2025-07-01T00:00:00.000Z"


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    busy_ms: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    bulk_requests: int = 0
    bulk_items: int = 0
    bulk_item_errors: int = 0
    docs_written: int = 0

    def count_request(self, endpoint: str) -> None:
        with self.lock:
            self.requests[endpoint] += 1
            self.requests["total"] += 1

    def count_time(self, endpoint: str, seconds: float) -> None:
        with self.lock:
            self.busy_ms[f"{endpoint}"] += int(seconds * 1000)

    def count_status(self, status: int) -> None:
        with self.lock:
            self.statuses[str(status)] += 1

    def count_bulk(self, items: int, errors: int, written: int) -> None:
        with self.lock:
            self.bulk_requests += 1
            self.bulk_items += items
            self.bulk_item_errors += errors
            self.docs_written += written

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "busy_ms": dict(self.busy_ms),
                "statuses": dict(self.statuses),
                "bulk": {
                    "requests": self.bulk_requests,
                    "items": self.bulk_items,
                    "item_errors": self.bulk_item_errors,
                },
                "docs_written": self.docs_written,
            }


@dataclass
class Ctx:
    cluster: Cluster
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)
    host: str = "127.0.0.1"
    port: int = 9200
    started: float = field(default_factory=time.time)

    @property
    def version(self) -> str:
        return self.cluster.version

    @property
    def major(self) -> int:
        return self.cluster.major

    def warning(self, message: str) -> str:
        """A ``Warning`` header value as Elasticsearch sends deprecation warnings."""
        return f'299 Elasticsearch-{self.version}-{BUILD_HASH[:10]} "{message}"'
