"""The reproducible benchmark workload: Riemann-style JSON events of many series, in arrival order.

Independent of samplerr (NumPy and the standard library only), so any tool can be measured on it:

    from bench_workload import WorkloadSpec, ensure_events_file, generate
    path = ensure_events_file()              # bench-data/events.jsonl, written once and reused
    workload = generate(WorkloadSpec())      # the same events as NumPy columns

Default: 2,000 series (100 hosts x 20 services) each reporting every 10 s for 2 hours starting
2026-11-22T00:00:00Z: 1,440,000 events ``{"host":…,"service":…,"metric":…,"time":…}`` with
``time`` in epoch seconds (millisecond precision). Each series has its own phase within the 10 s;
each event's time carries up to ``jitter_s`` of jitter, and events arrive in the order of their
nominal time plus a transport delay of up to ``delay_s``, so arrival order is only roughly time
order (never by more than the default 30 s lateness). Values are random walks rounded to 3 decimals.
Everything derives from ``seed``: the same spec always gives the same bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / "bench-data" / "events.jsonl"

SERVICES = (
    "cpu.user", "cpu.system", "cpu.iowait", "cpu.idle", "load.1m", "load.5m", "load.15m",
    "memory.used_percent", "memory.cached", "swap.used", "disk.root.used_percent", "disk.io.read",
    "disk.io.write", "net.eth0.rx", "net.eth0.tx", "net.eth0.errors", "processes.running",
    "processes.total", "tcp.established", "ntp.offset",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    hosts: int = 100
    services: int = 20
    interval_s: int = 10
    duration_s: int = 7200
    start_s: int = 1_795_305_600  # 2026-11-22T00:00:00Z
    jitter_s: float = 2.0
    delay_s: float = 1.0
    seed: int = 20261122

    @property
    def series(self) -> int:
        return self.hosts * self.services

    @property
    def events(self) -> int:
        return self.series * (self.duration_s // self.interval_s)


@dataclass(frozen=True, slots=True)
class Workload:
    """Events in arrival order: ``hosts[host[i]]``/``services[service[i]]`` had ``values[i]`` at
    ``times_ms[i]`` (UTC epoch ms)."""

    spec: WorkloadSpec
    hosts: tuple[str, ...]
    services: tuple[str, ...]
    host: npt.NDArray[np.int64]
    service: npt.NDArray[np.int64]
    times_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.times_ms.shape[0])

    @property
    def series(self) -> npt.NDArray[np.int64]:
        """A dense series number per event (host-major)."""
        return self.host * len(self.services) + self.service


def service_names(count: int) -> tuple[str, ...]:
    return tuple(SERVICES[i] if i < len(SERVICES) else f"custom.metric{i}" for i in range(count))


def generate(spec: WorkloadSpec | None = None) -> Workload:
    """The events of ``spec`` as columns, in arrival order (deterministic)."""
    spec = spec or WorkloadSpec()
    rng = np.random.default_rng(spec.seed)
    n_series = spec.series
    reports = spec.duration_s // spec.interval_s
    series = np.tile(np.arange(n_series, dtype=np.int64), reports)
    k = np.repeat(np.arange(reports, dtype=np.int64), n_series)
    phase_ms = rng.integers(0, spec.interval_s * 1000, n_series)
    nominal_ms = spec.start_s * 1000 + k * spec.interval_s * 1000 + phase_ms[series]
    jitter_ms = rng.integers(-int(spec.jitter_s * 1000), int(spec.jitter_s * 1000) + 1, series.shape[0])
    delay_ms = rng.integers(0, int(spec.delay_s * 1000) + 1, series.shape[0])
    times_ms = nominal_ms + jitter_ms
    # Random walks around a level per series, 3 decimals like most collectors print.
    level = rng.uniform(0.0, 1000.0, n_series)
    steps = rng.normal(0.0, 1.0, (reports, n_series))
    walk = level + np.cumsum(steps, axis=0) * (level / 100.0 + 0.1)
    values = np.round(walk.reshape(-1), 3)
    order = np.argsort(nominal_ms + delay_ms, kind="stable")
    series = series[order]
    return Workload(
        spec=spec,
        hosts=tuple(f"host-{h:04d}" for h in range(spec.hosts)),
        services=service_names(spec.services),
        host=series // spec.services,
        service=series % spec.services,
        times_ms=times_ms[order],
        values=values[order],
    )


def jsonl_lines(workload: Workload) -> list[bytes]:
    """The events as Riemann-style JSON lines (``time`` in epoch seconds, ms precision)."""
    hosts = [json.dumps(h) for h in workload.hosts]
    services = [json.dumps(s) for s in workload.services]
    out: list[bytes] = []
    columns = (workload.host, workload.service, workload.times_ms, workload.values)
    for h, s, t, v in zip(*(col.tolist() for col in columns), strict=True):
        when = f"{t // 1000}.{t % 1000:03d}"
        out.append(f'{{"host":{hosts[h]},"service":{services[s]},"metric":{v!r},"time":{when}}}\n'.encode())
    return out


def write_events_file(path: Path, spec: WorkloadSpec | None = None) -> Path:
    """Write the workload of ``spec`` to ``path`` as JSON lines (and its spec next to it)."""
    spec = spec or WorkloadSpec()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as out:
        out.writelines(jsonl_lines(generate(spec)))
    os.replace(tmp, path)
    _spec_path(path).write_text(json.dumps(asdict(spec), sort_keys=True) + "\n", encoding="utf-8")
    return path


def ensure_events_file(path: Path = DEFAULT_PATH, spec: WorkloadSpec | None = None) -> Path:
    """``path``, written first unless it already holds the workload of ``spec``."""
    spec = spec or WorkloadSpec()
    wanted = json.dumps(asdict(spec), sort_keys=True) + "\n"
    spec_path = _spec_path(path)
    if path.exists() and spec_path.exists() and spec_path.read_text(encoding="utf-8") == wanted:
        return path
    return write_events_file(path, spec)


def _spec_path(path: Path) -> Path:
    return path.with_name(path.name + ".spec.json")


if __name__ == "__main__":
    written = ensure_events_file()
    print(f"{written}: {WorkloadSpec().events:,} events")
