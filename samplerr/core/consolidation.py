"""Windows and consolidation: events in, the values of final windows out (ARCHITECTURE §3-4).

Windows are ``[k·step, (k+1)·step)`` in UTC epoch seconds, aligned to the epoch. For every
archive the :class:`Consolidator` keeps the partial aggregates of each (series, window) it has
seen (:mod:`samplerr.core.partials`), in time-sorted columns (:mod:`samplerr.core.windows`).

Time::

    event times ──────────────────────────────────────────────▶ max event time
                                               watermark = max event time - lateness
    ┌──────w0──────┬──────w1──────┬──────w2──────┬──────w3──────┐
      final, held    final, held     final          open
      (end ≤ wm -      (end ≤ wm)     (end ≤ wm)     (end > wm)
       late_hold:
       forgotten)

* A window is **final** when the watermark reaches its end, or when the wall clock ``now_s``
  given to :meth:`Consolidator.collect` reaches end + lateness + idle_flush (so a quiet stream
  still flushes). :meth:`~Consolidator.collect` emits each final window once.
* An emitted window is **held** until the watermark reaches end + late_hold (or ``now_s``
  reaches end + lateness + late_hold + idle_flush). A late event for a held window merges into
  it and the window is emitted again by the next collect, with the values it would have had if
  the event had been on time. A late event whose window was never opened but is still within
  the hold opens it, and the next collect emits it.
* An event whose window is past its hold is **dropped** for that archive and counted in
  ``late_dropped`` (never silently). Whether an event is late or dropped is decided with the
  watermark *as of its arrival* (the events before it, in this batch and earlier ones), so the
  decision does not depend on how the stream was cut into batches.

Each event counts once per archive it is late for (``late_merged``) or dropped from
(``late_dropped``): an event too late for the 20 s archive may still merge into its 1 h window.

A batch is consolidated with a handful of vectorised passes: one sort of a packed 64-bit key
gives the finest archive's partials, each coarser archive is cascaded from the partials of the
one before (its step is a multiple), and each archive's partials merge into its state. Results
do not depend on batching or on the order of events within a window (first/last ties aside,
which go by arrival), up to the last bit of compensated sums (see :mod:`samplerr.core.partials`).

:meth:`Consolidator.snapshot` serialises the whole state (open and held windows, watermark,
counters) and :meth:`Consolidator.restore` rebuilds it, so a restarted service continues exactly.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from samplerr.core.config import Archive, ConsolidationSettings
from samplerr.core.events import EventBatch
from samplerr.core.partials import (
    F64,
    I64,
    SERIES_BITS,
    SERIES_MASK,
    Aggregate,
    Partials,
    aggregates_for,
    cascade,
    partials_from_events,
)
from samplerr.core.windows import ArchiveState

__all__ = ["ConsolidationStats", "Consolidator", "WindowResults"]

# Version 2: a line of JSON (counters, clock, and each column's name, dtype and length), then the
# columns' bytes one after the other. Version 1 (an .npz archive) is still read.
SNAPSHOT_VERSION: Final = 2
SNAPSHOT_MAGIC: Final = b"samplerr-windows 2\n"
_COLUMN_DTYPES: Final = frozenset({"<i8", ">i8", "<f8", ">f8", "|u1"})  # those of ArchiveState
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WindowResults:
    """Windows of one archive being written (final, or re-emitted after a late merge), in columns.

    ``sum`` is NaN when it overflowed. Columns of aggregates the archive's cfuncs do not need
    (``min`` when only ``avg`` is configured …) are all NaN; they share one read-only array.
    """

    archive: int  # index into the archives tuple
    series: I64
    starts_s: I64  # window start, UTC epoch seconds
    count: I64
    sum: F64
    min: F64
    max: F64
    first: F64
    last: F64

    def __len__(self) -> int:
        return int(self.series.shape[0])


@dataclass(frozen=True, slots=True)
class ConsolidationStats:
    """Counters and gauges of a :class:`Consolidator` (a copy: it does not change afterwards)."""

    events_in: int
    late_merged: int  # events accepted into windows already final at their arrival (summed over archives)
    late_dropped: int  # events too late for a window's hold (summed over archives)
    late_merged_by_archive: tuple[int, ...]
    late_dropped_by_archive: tuple[int, ...]
    open_windows: int  # not emitted yet
    held_windows: int  # emitted, kept for late events
    watermark_ms: int | None  # max event time - lateness; None before the first event
    windows_emitted: int  # first emissions
    windows_reemitted: int  # emissions after a late merge
    state_bytes: int  # memory allocated for the window columns


class Consolidator:
    """Consolidates event batches into the windows of every archive; see the module docstring."""

    def __init__(self, archives: Sequence[Archive], settings: ConsolidationSettings) -> None:
        if not archives:
            raise ValueError("at least one archive is needed")
        steps = [int(a.step) for a in archives]
        for i, step in enumerate(steps):
            if step <= 0:
                raise ValueError(f"archive {i}: step must be a positive number of seconds, not {step}")
            if i and step % steps[i - 1]:
                raise ValueError(
                    f"archive {i}: step {step}s is not a multiple of the previous archive's {steps[i - 1]}s"
                )
        for name in ("lateness", "late_hold", "idle_flush"):
            if getattr(settings, name) < 0:
                raise ValueError(f"{name} must not be negative")
        self.archives: tuple[Archive, ...] = tuple(archives)
        self.settings = settings
        self._steps_ms = [step * 1000 for step in steps]
        self._aggregates = [aggregates_for(a.cfuncs) for a in archives]
        # Partials computed for archive i also feed archives i+1 …: they carry what those need.
        self._carry: list[frozenset[Aggregate]] = [
            frozenset().union(*self._aggregates[i:]) for i in range(len(archives))
        ]
        self._states = [ArchiveState(aggs) for aggs in self._aggregates]
        self._lateness_ms = settings.lateness * 1000
        self._late_hold_ms = settings.late_hold * 1000
        self._idle_flush_ms = settings.idle_flush * 1000
        self._max_t: int | None = None  # largest event time seen (ms)
        self._now_final_ms: int | None = None  # windows ending at or before this are final (by clock)
        self._now_hold_ms: int | None = None  # windows ending at or before this are forgotten (by clock)
        self._events_in = 0
        self._late_merged = [0] * len(archives)
        self._late_dropped = [0] * len(archives)
        self._emitted = 0
        self._reemitted = 0

    # -- input ----------------------------------------------------------------------------------

    def add(self, batch: EventBatch) -> None:
        """Consolidate a batch of events (in arrival order; values finite)."""
        n = len(batch)
        if n == 0:
            return
        series = np.asarray(batch.series, dtype=np.int64)
        times = np.asarray(batch.times_ms, dtype=np.int64)
        values = np.asarray(batch.values, dtype=np.float64)
        prev_max = self._max_t
        t_max = int(times.max())
        new_max = t_max if prev_max is None else max(prev_max, t_max)
        keeps: list[BoolArray | None] = [None] * len(self.archives)
        # Fast path: if even the earliest window of the batch ends after the watermark (as it is
        # after the whole batch), no event is late for any archive.
        step0 = self._steps_ms[0]
        earliest_end = (int(times.min()) // step0 + 1) * step0
        final_bound = new_max - self._lateness_ms
        if self._now_final_ms is not None:
            final_bound = max(final_bound, self._now_final_ms)
        if earliest_end <= final_bound:
            keeps = self._late_events(times, prev_max)
        self._events_in += n
        self._max_t = new_max

        part: Partials | None = None
        for i, state in enumerate(self._states):
            keep = keeps[i]
            if part is None or _kept(keep) != _kept(keeps[i - 1]):
                if keep is None:
                    part = partials_from_events(series, times, values, self._steps_ms[i], self._carry[i])
                else:
                    part = partials_from_events(
                        series[keep], times[keep], values[keep], self._steps_ms[i], self._carry[i]
                    )
            else:
                part = cascade(part, self._steps_ms[i] // self._steps_ms[i - 1], self._carry[i])
            if len(part):
                state.merge(part, part.time_major_keys())

    def _late_events(self, times: I64, prev_max: int | None) -> list[BoolArray | None]:
        """Count late and dropped events per archive; the mask of events kept, or None for all."""
        wm: I64 = np.maximum.accumulate(times)  # largest time up to and including each event
        if prev_max is not None:
            np.maximum(wm, prev_max, out=wm)
        wm -= self._lateness_ms
        final_at = wm if self._now_final_ms is None else np.maximum(wm, self._now_final_ms)
        drop_at: I64 = wm - self._late_hold_ms
        if self._now_hold_ms is not None:
            np.maximum(drop_at, self._now_hold_ms, out=drop_at)
        keeps: list[BoolArray | None] = [None] * len(self._steps_ms)
        for i, step in enumerate(self._steps_ms):
            ends: I64 = times // step
            ends += 1
            ends *= step
            late = ends <= final_at
            n_late = int(np.count_nonzero(late))
            if not n_late:  # a coarser window ends no earlier: nothing is late for those either
                break
            dropped = ends <= drop_at
            n_dropped = int(np.count_nonzero(dropped))
            self._late_dropped[i] += n_dropped
            self._late_merged[i] += n_late - n_dropped
            if n_dropped:
                keeps[i] = ~dropped
        return keeps

    # -- output ---------------------------------------------------------------------------------

    def collect(self, now_s: float | None = None) -> list[WindowResults]:
        """Windows that became final, and held windows changed by late events since last time.

        ``now_s`` (UTC epoch seconds, from the caller's clock) also finalises windows whose end +
        lateness + idle_flush it passed. It never moves backwards: an earlier value is ignored.
        Each window appears at most once; results come one per archive that has any.
        """
        if now_s is not None:
            now_ms = math.floor(now_s * 1000)
            final_ms = now_ms - self._lateness_ms - self._idle_flush_ms
            hold_ms = final_ms - self._late_hold_ms
            self._now_final_ms = _later(self._now_final_ms, final_ms)
            self._now_hold_ms = _later(self._now_hold_ms, hold_ms)
        wm = self.watermark_ms
        final_ms_bound = _later(wm, self._now_final_ms)
        hold_ms_bound = _later(None if wm is None else wm - self._late_hold_ms, self._now_hold_ms)
        out: list[WindowResults] = []
        if final_ms_bound is None:
            return out
        for i, state in enumerate(self._states):
            step = self._steps_ms[i]
            rows, dirty = state.take_pending(state.rows_before(final_ms_bound // step))
            if rows.shape[0]:
                out.append(self._results(i, rows))
                self._emitted += int(rows.shape[0]) - dirty
                self._reemitted += dirty
            if hold_ms_bound is not None:
                state.evict_before(state.rows_before(hold_ms_bound // step))
        return out

    def flush_all(self) -> list[WindowResults]:
        """End of input: emit every window not emitted yet (or changed since). They stay held."""
        out: list[WindowResults] = []
        for i, state in enumerate(self._states):
            rows, dirty = state.take_pending(state.tail)
            if rows.shape[0]:
                out.append(self._results(i, rows))
                self._emitted += int(rows.shape[0]) - dirty
                self._reemitted += dirty
        return out

    def _results(self, archive: int, rows: I64) -> WindowResults:
        state = self._states[archive]
        cols = state.columns
        keys = cols["key"][rows]
        n = int(rows.shape[0])
        nan: F64 = np.full(n, np.nan)
        nan.flags.writeable = False

        def column(name: str) -> F64:
            return cols[name][rows] if name in cols else nan

        with np.errstate(invalid="ignore", over="ignore"):
            total: F64 = cols["sum_hi"][rows] + cols["sum_lo"][rows] if "sum_hi" in cols else nan
        return WindowResults(
            archive=archive,
            series=keys & SERIES_MASK,
            starts_s=(keys >> SERIES_BITS) * (self._steps_ms[archive] // 1000),
            count=cols["count"][rows],
            sum=total,
            min=column("min"),
            max=column("max"),
            first=column("first_v"),
            last=column("last_v"),
        )

    # -- state ----------------------------------------------------------------------------------

    @property
    def watermark_ms(self) -> int | None:
        """The largest event time seen minus lateness (UTC epoch ms); None before any event."""
        return None if self._max_t is None else self._max_t - self._lateness_ms

    @property
    def stats(self) -> ConsolidationStats:
        opened = held = 0
        for state in self._states:
            o, h = state.status_counts()
            opened += o
            held += h
        return ConsolidationStats(
            events_in=self._events_in,
            late_merged=sum(self._late_merged),
            late_dropped=sum(self._late_dropped),
            late_merged_by_archive=tuple(self._late_merged),
            late_dropped_by_archive=tuple(self._late_dropped),
            open_windows=opened,
            held_windows=held,
            watermark_ms=self.watermark_ms,
            windows_emitted=self._emitted,
            windows_reemitted=self._reemitted,
            state_bytes=sum(state.nbytes() for state in self._states),
        )

    def series_ids(self) -> I64:
        """The series ids that have open or held windows (sorted), e.g. to checkpoint their keys."""
        parts = [state.keys & SERIES_MASK for state in self._states if len(state)]
        if not parts:
            return np.empty(0, dtype=np.int64)
        largest = max(int(part.max()) for part in parts)
        if largest > 4 * sum(len(part) for part in parts) + 4096:  # sparse ids: sort them
            return np.unique(np.concatenate(parts))
        # dense ids (a registry's): marked in a table, without sorting every window's key
        seen = np.zeros(largest + 1, dtype=np.bool_)
        for part in parts:
            seen[part] = True
        return np.flatnonzero(seen)

    def snapshot(self) -> bytes:
        """The whole state — open and held windows, watermark, clock, counters — as bytes.

        Series are stored by id: keep the registry's keys for :meth:`series_ids` alongside, and
        pass ``series_map`` to :meth:`restore` when ids change across restarts.
        """
        arrays: dict[str, npt.NDArray[Any]] = {}
        for i, state in enumerate(self._states):
            for name, col in state.live_columns(copy=False).items():  # written out at once
                arrays[f"a{i}.{name}"] = col
        meta = {
            "version": SNAPSHOT_VERSION,
            "steps_ms": self._steps_ms,
            "max_t": self._max_t,
            "now_final_ms": self._now_final_ms,
            "now_hold_ms": self._now_hold_ms,
            "events_in": self._events_in,
            "late_merged": self._late_merged,
            "late_dropped": self._late_dropped,
            "emitted": self._emitted,
            "reemitted": self._reemitted,
            "columns": [[name, col.dtype.str, int(col.shape[0])] for name, col in arrays.items()],
        }
        columns = [col.data for col in arrays.values()]
        return b"".join([SNAPSHOT_MAGIC, json.dumps(meta).encode(), b"\n", *columns])

    @classmethod
    def restore(
        cls,
        data: bytes,
        archives: Sequence[Archive],
        settings: ConsolidationSettings,
        series_map: I64 | None = None,
    ) -> Consolidator:
        """A consolidator continuing from :meth:`snapshot` ``data``.

        ``series_map[old_id]`` gives the new id of each series when ids changed (``-1`` or an
        out-of-range id is an error). Raises ``ValueError`` when the snapshot is unreadable or was
        taken with other archive steps or fewer aggregates than the archives now need.
        """
        out = cls(archives, settings)
        meta, arrays = _read_snapshot(data)
        if meta["steps_ms"] != out._steps_ms:
            raise ValueError(
                f"snapshot archives have steps {[s // 1000 for s in meta['steps_ms']]} s, "
                f"the configuration {[s // 1000 for s in out._steps_ms]} s"
            )
        for i, aggs in enumerate(out._aggregates):
            prefix = f"a{i}."
            columns = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
            if series_map is not None and columns.get("key") is not None:
                columns["key"] = _remap(columns["key"], np.asarray(series_map, dtype=np.int64))
            out._states[i] = ArchiveState.from_columns(aggs, columns)
        out._max_t = meta["max_t"]
        out._now_final_ms = meta["now_final_ms"]
        out._now_hold_ms = meta["now_hold_ms"]
        out._events_in = int(meta["events_in"])
        out._late_merged = [int(x) for x in meta["late_merged"]]
        out._late_dropped = [int(x) for x in meta["late_dropped"]]
        out._emitted = int(meta["emitted"])
        out._reemitted = int(meta["reemitted"])
        return out


def _read_snapshot(data: bytes) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The metadata and columns of a snapshot (version 2, or 1); ValueError when unreadable."""
    if not data.startswith(SNAPSHOT_MAGIC):
        return _read_npz_snapshot(data)
    try:
        end = data.index(b"\n", len(SNAPSHOT_MAGIC))
        meta = json.loads(data[len(SNAPSHOT_MAGIC) : end])
        arrays: dict[str, npt.NDArray[Any]] = {}
        offset = end + 1
        for name, dtype, length in meta.pop("columns"):
            if dtype not in _COLUMN_DTYPES or int(length) < 0:
                raise ValueError(f"column {name!r} of type {dtype!r}")
            arrays[str(name)] = np.frombuffer(data, dtype=np.dtype(dtype), count=int(length), offset=offset)
            offset += arrays[str(name)].nbytes
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a consolidation snapshot: {exc}") from exc
    if offset != len(data):
        raise ValueError("not a consolidation snapshot: its length does not match its columns")
    if meta.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"snapshot version {meta.get('version')!r} is not {SNAPSHOT_VERSION}")
    return meta, arrays


def _read_npz_snapshot(data: bytes) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """A version 1 snapshot (an .npz archive), as written before version 2."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(arrays.pop("meta").tobytes())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a consolidation snapshot: {exc}") from exc
    if meta.get("version") != 1:
        raise ValueError(f"snapshot version {meta.get('version')!r} is not 1 or {SNAPSHOT_VERSION}")
    return meta, arrays


def _kept(keep: BoolArray | None) -> int | None:
    """How many events a keep mask keeps (None: all). Masks of successive archives are nested."""
    return None if keep is None else int(np.count_nonzero(keep))


def _later(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _remap(keys: I64, series_map: I64) -> I64:
    old = keys & SERIES_MASK
    if old.shape[0] and int(old.max()) >= series_map.shape[0]:
        raise ValueError("series_map does not cover every series of the snapshot")
    new = series_map[old]
    if new.shape[0] and (int(new.min()) < 0 or int(new.max()) > SERIES_MASK):
        raise ValueError("series_map maps a series of the snapshot to an invalid id")
    out: I64 = (keys >> SERIES_BITS) << SERIES_BITS
    out |= new
    return out
