"""Regenerate samples/events.jsonl: a small, reproducible Riemann-style JSON sample.

3 hosts x 3 services every 10 s for 4 hours of 2026-11-22 UTC, with daily-cycle shapes, noise,
a few events out of order and a handful of bad lines (to show the rejection counters).
Run: .venv/bin/python scripts/make_sample.py | gzip -n9 > samples/events.jsonl.gz
"""

from __future__ import annotations

import json
import math
import random
import sys

START = 1_795_305_600  # 2026-11-22T00:00:00Z
HOURS = 4
HOSTS = ("web-1", "web-2", "db-1")
SERVICES = ("cpu.user", "load.1m", "memory.used_percent")


def value(host: int, service: int, t: int, rng: random.Random) -> float:
    day = 2 * math.pi * (t % 86400) / 86400
    base = (20.0, 1.5, 55.0)[service] * (1 + 0.3 * host)
    return round(base * (1 + 0.5 * math.sin(day)) + rng.gauss(0, base * 0.05), 3)


def main() -> None:
    rng = random.Random(20261122)
    lines: list[str] = []
    for t in range(START, START + HOURS * 3600, 10):
        for h, host in enumerate(HOSTS):
            for s, service in enumerate(SERVICES):
                jitter = rng.uniform(0, 2)
                metric = value(h, s, t, rng)
                event = {"host": host, "service": service, "metric": metric, "time": round(t + jitter, 3)}
                lines.append(json.dumps(event, separators=(",", ":")))
    # a little disorder within the lateness allowance
    for i in range(0, len(lines) - 9, 997):
        lines[i], lines[i + 9] = lines[i + 9], lines[i]
    bad = [
        '{"host":"web-1","service":"cpu.user","metric":"NaN","time":1795306000}',
        '{"host":"web-1","service":"cpu.user","time":1795306000}',
        '{"host":"web-1","service":"cpu.user","metric":1.0',
        '{"host":"web-1","service":"cpu.user","metric":1.0,"time":99999999999999}',
        "this is not json",
    ]
    for n, line in enumerate(bad):
        lines.insert(1000 * (n + 1), line)
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
