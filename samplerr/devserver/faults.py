"""Fault injection for tests: rejected bulk items, 503s, latency, dropped connections, outages.

Configured with ``--fault-*`` flags or at run time through ``POST /_devserver/faults`` with a JSON
object; ``GET`` reads it, ``DELETE`` clears it. Keys (all optional):

- ``bulk_item_429_ratio``: share of bulk items answered 429 ``es_rejected_execution_exception``
  (not applied);
- ``reject_503_ratio`` / ``reject_429_ratio``: share of whole requests answered 503 / 429, before any
  effect;
- ``latency_ms``: added to every request;
- ``drop_connection_ratio``: share of requests whose connection is closed without an answer, before
  any effect; ``drop_response_ratio``: the same after the request took effect (a lost response);
- ``unavailable_for_s``: answer 503 to everything for that many seconds from now;
- ``paths``: only requests whose path contains one of these strings are affected (default: all);
- ``seed``: seed of the random choices, for reproducible tests.

Requests under ``/_devserver/`` are never affected.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from samplerr.devserver.errors import EsError, illegal_argument

RATIOS = (
    "bulk_item_429_ratio",
    "reject_503_ratio",
    "reject_429_ratio",
    "drop_connection_ratio",
    "drop_response_ratio",
)
KEYS = frozenset((*RATIOS, "latency_ms", "unavailable_for_s", "seed", "paths"))


class Decision(Enum):
    PROCEED = "proceed"
    REJECT_503 = "reject_503"
    REJECT_429 = "reject_429"
    DROP = "drop"


@dataclass
class FaultConfig:
    ratios: dict[str, float] = field(default_factory=lambda: dict.fromkeys(RATIOS, 0.0))
    latency_ms: float = 0.0
    unavailable_until: float = 0.0
    seed: int | None = None
    paths: list[str] | None = None

    def as_json(self) -> dict[str, Any]:
        remaining = max(0.0, self.unavailable_until - time.monotonic())
        out: dict[str, Any] = dict(self.ratios)
        out.update(
            {
                "latency_ms": self.latency_ms,
                "unavailable_for_s": round(remaining, 3),
                "seed": self.seed,
                "paths": self.paths,
            }
        )
        return out


def parse_config(data: Any) -> FaultConfig:
    if not isinstance(data, dict):
        raise illegal_argument("faults must be a JSON object")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise illegal_argument(f"unknown fault setting(s) {unknown}; known: {sorted(KEYS)}")
    config = FaultConfig()
    for key in RATIOS:
        value = data.get(key, 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
            raise illegal_argument(f"[{key}] must be a number between 0 and 1, got [{value}]")
        config.ratios[key] = float(value)
    latency = data.get("latency_ms", 0.0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
        raise illegal_argument(f"[latency_ms] must be a non-negative number, got [{latency}]")
    config.latency_ms = float(latency)
    outage = data.get("unavailable_for_s", 0.0)
    if not isinstance(outage, (int, float)) or isinstance(outage, bool) or outage < 0:
        raise illegal_argument(f"[unavailable_for_s] must be a non-negative number, got [{outage}]")
    config.unavailable_until = time.monotonic() + float(outage) if outage else 0.0
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise illegal_argument(f"[seed] must be an integer, got [{seed}]")
    config.seed = seed
    paths = data.get("paths")
    if paths is not None and (not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)):
        raise illegal_argument("[paths] must be a list of strings")
    config.paths = paths
    return config


class Faults:
    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = config or FaultConfig()
        self._rng = random.Random(self._config.seed)
        self.counts: dict[str, int] = {
            "rejected_503": 0,
            "rejected_429": 0,
            "unavailable_503": 0,
            "dropped": 0,
            "dropped_responses": 0,
            "bulk_items_429": 0,
            "delayed": 0,
        }

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)

    def clear(self) -> None:
        self.configure(FaultConfig())

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return self._config.as_json()

    def _applies(self, path: str) -> bool:
        paths = self._config.paths
        return paths is None or any(p in path for p in paths)

    def before(self, path: str) -> tuple[Decision, float]:
        """What to do with a request to ``path``, and the latency (s) to add first."""
        with self._lock:
            config = self._config
            if not self._applies(path):
                return Decision.PROCEED, 0.0
            delay = config.latency_ms / 1000.0
            if delay:
                self.counts["delayed"] += 1
            if config.unavailable_until and time.monotonic() < config.unavailable_until:
                self.counts["unavailable_503"] += 1
                return Decision.REJECT_503, delay
            for key, decision, counter in (
                ("drop_connection_ratio", Decision.DROP, "dropped"),
                ("reject_503_ratio", Decision.REJECT_503, "rejected_503"),
                ("reject_429_ratio", Decision.REJECT_429, "rejected_429"),
            ):
                ratio = config.ratios[key]
                if ratio and self._rng.random() < ratio:
                    self.counts[counter] += 1
                    return decision, delay
            return Decision.PROCEED, delay

    def rejects_items(self) -> bool:
        return bool(self._config.ratios["bulk_item_429_ratio"])

    def reject_item(self, path: str) -> bool:
        if not self._config.ratios["bulk_item_429_ratio"]:
            return False
        with self._lock:
            ratio = self._config.ratios["bulk_item_429_ratio"]
            if ratio and self._applies(path) and self._rng.random() < ratio:
                self.counts["bulk_items_429"] += 1
                return True
            return False

    def drop_response(self, path: str) -> bool:
        with self._lock:
            ratio = self._config.ratios["drop_response_ratio"]
            if ratio and self._applies(path) and self._rng.random() < ratio:
                self.counts["dropped_responses"] += 1
                return True
            return False


def unavailable() -> EsError:
    reason = "blocked by: [SERVICE_UNAVAILABLE/2/no master];"
    return EsError(503, "cluster_block_exception", reason)


def rejected_execution(what: str = "coordinating operation") -> EsError:
    return EsError(
        429,
        "es_rejected_execution_exception",
        f"rejected execution of {what} [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, "
        "max_coordinating_and_primary_bytes=0] (injected by the samplerr development server)",
    )
