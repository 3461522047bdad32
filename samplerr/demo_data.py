"""Realistic host metrics for ``samplerr demo``, as Telegraf would send them (InfluxDB line protocol).

Each series is one field of one host: ``cpu.usage_user``, ``mem.used_percent``, ``system.load1``,
``net.bytes_recv``. Values follow a daily cycle (busiest mid-afternoon UTC), a weekly one (quieter
weekends), a slow drift over weeks and noise, with a few spikes. A few outages leave gaps (the host
sends nothing), and a few bursts arrive late, as when an agent's buffer is flushed after a network
hiccup: minutes late (merged into windows already written), and once later than ``late_hold``
(dropped from the finest archive and counted, still merged into the coarser windows).

Everything is drawn from one seeded generator: the same arguments give the same events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from samplerr.demo_scale import DAY, Tier

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
WEEK = 7 * DAY
HOSTS: tuple[str, ...] = ("web-1", "web-2", "db-1", "cache-1", "web-3", "batch-1")
HOSTS_PER_ROUND = 3  # series go round these hosts first, a metric at a time


@dataclass(frozen=True, slots=True)
class Metric:
    measurement: str
    field: str
    decimals: int

    @property
    def service(self) -> str:
        """The series' ``service`` as samplerr decodes line protocol: ``<measurement>.<field>``."""
        return f"{self.measurement}.{self.field}"


METRICS: tuple[Metric, ...] = (
    Metric("cpu", "usage_user", 2),
    Metric("mem", "used_percent", 2),
    Metric("system", "load1", 2),
    Metric("net", "bytes_recv", 0),
)
MAX_SERIES = len(HOSTS) * len(METRICS)


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    host: str
    metric: Metric

    @property
    def service(self) -> str:
        return self.metric.service


def demo_series(count: int) -> tuple[SeriesSpec, ...]:
    """The first ``count`` series: each metric of three hosts in turn, then of three more hosts."""
    if not 1 <= count <= MAX_SERIES:
        raise ValueError(f"the demo has 1 to {MAX_SERIES} series, not {count}")
    order = [
        SeriesSpec(host, metric)
        for first in range(0, len(HOSTS), HOSTS_PER_ROUND)
        for metric in METRICS
        for host in HOSTS[first : first + HOSTS_PER_ROUND]
    ]
    return tuple(order[:count])


@dataclass(frozen=True, slots=True)
class Incident:
    """Something that happened to one host: an outage (``delay`` 0) or a burst arriving late."""

    host: str
    start: int
    end: int
    delay: int  # seconds after ``end`` the burst arrives; 0 for an outage (nothing arrives)


@dataclass(frozen=True, slots=True)
class DemoEvents:
    """Events sorted by arrival: series number, event time, value, arrival time (epoch seconds)."""

    series: tuple[SeriesSpec, ...]
    index: I64
    times: I64
    values: F64
    arrivals: I64
    incidents: tuple[Incident, ...]
    spikes: int

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def arrived_before(self, instant: int) -> int:
        """How many events arrived before ``instant`` (they are sorted by arrival)."""
        return int(np.searchsorted(self.arrivals, instant, side="left"))

    def lines(self, first: int, last: int) -> bytes:
        """Events ``[first, last)`` as line protocol, one line each, nanosecond timestamps."""
        prefixes = [f"{s.metric.measurement},host={s.host} {s.metric.field}=" for s in self.series]
        formats = [f"{{:.{s.metric.decimals}f}}" for s in self.series]
        out = [
            f"{prefixes[i]}{formats[i].format(v)} {t}000000000\n"
            for i, v, t in zip(
                self.index[first:last].tolist(),
                self.values[first:last].tolist(),
                self.times[first:last].tolist(),
                strict=True,
            )
        ]
        return "".join(out).encode()


def _phases(times: I64) -> tuple[F64, F64]:
    """(daily activity 0..1 peaking at 15:00 UTC, weekly factor: 1 on weekdays, lower at weekends)."""
    hours = (times % DAY) / 3_600.0
    daily = 0.5 - 0.5 * np.cos(2 * np.pi * (hours - 3.0) / 24.0)
    weekday = ((times // DAY) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)
    weekly = np.where(weekday >= 5, 0.55, 1.0)
    return daily, weekly


def _drift(times: I64, rng: np.random.Generator) -> F64:
    """A smooth wander between -1 and 1 over weeks: a few slow sines with random phases."""
    total = np.zeros(times.shape[0])
    for period_days in (9.0, 23.0, 41.0):
        phase = rng.uniform(0, 2 * np.pi)
        total += np.sin(2 * np.pi * times / (period_days * DAY) + phase)
    drift: F64 = total / 3.0
    return drift


def metric_values(metric: Metric, host_number: int, times: I64, rng: np.random.Generator) -> F64:
    """The values of one series at ``times``."""
    daily, weekly = _phases(times)
    drift = _drift(times, rng)
    size = times.shape[0]
    busy = 0.7 + 0.15 * host_number  # hosts differ in how busy they are
    if metric.field == "usage_user":
        values = 8 + 50 * busy * daily * weekly + 5 * drift + rng.normal(0, 3, size)
        return np.clip(values, 0.0, 100.0)
    if metric.field == "used_percent":
        leak = 12 * ((times + host_number * 2 * DAY) % WEEK) / WEEK  # a weekly restart frees memory
        values = 38 + 6 * busy * daily + leak + 4 * drift + rng.normal(0, 0.8, size)
        return np.clip(values, 0.0, 100.0)
    if metric.field == "load1":
        values = 0.2 + 3.5 * busy * daily * weekly + 0.3 * drift + rng.normal(0, 0.25, size)
        return np.maximum(values, 0.0)
    base = 2e5 + 6e6 * busy * daily * weekly * (1 + 0.2 * drift)
    noisy: F64 = base * rng.lognormal(0.0, 0.2, size)
    return noisy


def plan_incidents(
    hosts: Sequence[str],
    tiers: Sequence[Tier],
    start: int,
    end: int,
    late_hold: int,
    rng: np.random.Generator,
) -> tuple[Incident, ...]:
    """Two outages and a few late bursts, at least some of them where samples are dense."""
    if not hosts or end - start < DAY:
        return ()
    recent = tiers[-1] if tiers else None
    dense_start = recent.start if recent is not None else start

    def moment(low: int, high: int) -> int:
        return int(rng.integers(low, max(low + 1, high)))

    incidents = [
        # a host down for most of a working day, early in the run
        Incident(hosts[-1], (t := moment(start, start + (end - start) // 3)), t + 9 * 3_600, 0),
        # a shorter outage lately, where the finest archive serves
        Incident(hosts[0], (t := moment(dense_start, end - 4 * 3_600)), t + 90 * 60, 0),
    ]
    for number in range(5):  # bursts minutes late: merged into windows already written
        host = hosts[number % len(hosts)]
        t = moment(dense_start, end - 3_600)
        incidents.append(Incident(host, t, t + int(rng.integers(2, 6)) * 60, int(rng.integers(1, 5)) * 60))
    # one burst later than late_hold: dropped from the fine windows, counted, merged into coarse ones
    t = moment(dense_start, end - 3 * 3_600)
    incidents.append(Incident(hosts[len(hosts) // 2], t, t + 4 * 60, late_hold + 10 * 60))
    return tuple(incidents)


def generate(
    series: Sequence[SeriesSpec], tiers: Sequence[Tier], late_hold: int, seed: int = 1
) -> DemoEvents:
    """Every event of the run, sorted by arrival (ties: by time, then series)."""
    rng = np.random.default_rng(seed)
    start = tiers[0].start if tiers else 0
    end = tiers[-1].end if tiers else 0
    times = np.concatenate(
        [np.arange(_align_up(t.start, t.every), t.end, t.every, dtype=np.int64) for t in tiers]
        or [np.empty(0, dtype=np.int64)]
    )
    hosts = list(dict.fromkeys(spec.host for spec in series))
    incidents = plan_incidents(hosts, tiers, start, end, late_hold, rng)
    host_numbers = {host: number for number, host in enumerate(HOSTS)}
    parts_index, parts_times, parts_values, parts_arrivals = [], [], [], []
    spikes = 0
    for number, spec in enumerate(series):
        values = metric_values(spec.metric, host_numbers[spec.host], times, rng)
        arrivals = times + rng.integers(0, 3, times.shape[0])  # a second or two in transit
        keep = np.ones(times.shape[0], dtype=np.bool_)
        for incident in incidents:
            if incident.host != spec.host:
                continue
            inside = (times >= incident.start) & (times < incident.end)
            if incident.delay == 0:
                keep &= ~inside
            else:
                arrivals = np.where(inside, incident.end + incident.delay, arrivals)
        if times.shape[0]:
            chosen = rng.choice(times.shape[0], size=min(3, times.shape[0]), replace=False)
            if spec.metric.field == "usage_user":  # a percentage: a spike pins it near 100
                values[chosen] = rng.uniform(92, 100, chosen.shape[0])
            else:
                values[chosen] *= 2.5
            spikes += int(chosen.shape[0])
        parts_index.append(np.full(int(keep.sum()), number, dtype=np.int64))
        parts_times.append(times[keep])
        parts_values.append(values[keep])
        parts_arrivals.append(arrivals[keep])
    index = np.concatenate(parts_index) if parts_index else np.empty(0, dtype=np.int64)
    all_times = np.concatenate(parts_times) if parts_times else np.empty(0, dtype=np.int64)
    all_values = np.concatenate(parts_values) if parts_values else np.empty(0)
    all_arrivals = np.concatenate(parts_arrivals) if parts_arrivals else np.empty(0, dtype=np.int64)
    order = np.lexsort((index, all_times, all_arrivals))
    return DemoEvents(
        series=tuple(series),
        index=index[order],
        times=all_times[order],
        values=all_values[order].astype(np.float64),
        arrivals=all_arrivals[order],
        incidents=incidents,
        spikes=spikes,
    )


def _align_up(instant: int, every: int) -> int:
    return -(-instant // every) * every
