"""Windows, watermarks, late data and consolidation (ARCHITECTURE §3-4).

Times in the diagrams are seconds after T0 (2026-11-22T00:00:00Z, a multiple of every step used).
"""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samplerr.core.config import Archive, ConsolidationSettings
from samplerr.core.consolidation import Consolidator, WindowResults
from samplerr.core.durations import Duration
from samplerr.core.events import EventBatch
from samplerr.core.partials import segment_reduce, segment_sum
from samplerr.core.periods import parse_tf

T0 = 1_795_305_600  # 2026-11-22T00:00:00Z
ALL = ("avg", "min", "max", "sum", "count", "first", "last")
U = 2.0**-53  # unit roundoff of float64
DAY_TF = parse_tf("YYYY.MM.DD")

Event = tuple[int, float, float]  # (series, seconds after T0, value)


def archive(step: int, cfuncs: Sequence[str] = ALL) -> Archive:
    return Archive(DAY_TF, step, Duration(86_400), tuple(cfuncs))


def batch(events: Sequence[Event]) -> EventBatch:
    return EventBatch(
        np.array([e[0] for e in events], dtype=np.int64),
        np.array([round((T0 + e[1]) * 1000) for e in events], dtype=np.int64),
        np.array([e[2] for e in events], dtype=np.float64),
    )


@dataclass(frozen=True)
class Window:
    count: int
    sum: float
    min: float
    max: float
    first: float
    last: float


Emitted = dict[tuple[int, int, int], Window]  # (archive, series, start s after T0) -> values


def emitted(results: list[WindowResults]) -> Emitted:
    out: Emitted = {}
    for res in results:
        for i in range(len(res)):
            key = (res.archive, int(res.series[i]), int(res.starts_s[i]) - T0)
            assert key not in out, f"{key} emitted twice by one collect"
            out[key] = Window(
                int(res.count[i]), float(res.sum[i]), float(res.min[i]), float(res.max[i]),
                float(res.first[i]), float(res.last[i]),
            )  # fmt: skip
    return out


def consolidator(
    steps: Sequence[int] = (20,), lateness: int = 30, late_hold: int = 600, idle_flush: int = 30
) -> Consolidator:
    return Consolidator(
        [archive(s) for s in steps],
        ConsolidationSettings(lateness=lateness, late_hold=late_hold, idle_flush=idle_flush),
    )


# -- windows and cfuncs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "at", "start"),
    [
        (20, 13.5, 0),  # [0, 20)
        (20, 20.0, 20),  # a window includes its start …
        (20, 39.999, 20),  # … and excludes its end
        (600, 1199.0, 600),
        (3600, 3599.999, 0),  # 1 h windows start on the hour
        (86_400, 86_399.0, 0),  # 1 d windows start at UTC midnight
        (86_400, 86_400.0 + 5, 86_400),
    ],
)
def test_windows_are_aligned_to_the_epoch_not_to_the_first_event(step: int, at: float, start: int) -> None:
    cons = consolidator((step,))
    cons.add(batch([(0, at, 1.0)]))
    assert list(emitted(cons.flush_all())) == [(0, 0, start)]


def test_each_cfunc_of_one_window() -> None:
    # window [0, 20) of series 7; arrival order differs from time order
    cons = consolidator((20,))
    cons.add(batch([(7, 12.0, 4.0), (7, 3.0, -1.5), (7, 19.999, 10.0), (7, 5.0, 2.5)]))
    (win,) = emitted(cons.flush_all()).values()
    assert win == Window(count=4, sum=15.0, min=-1.5, max=10.0, first=-1.5, last=10.0)


def test_first_and_last_ties_go_by_arrival_even_across_batches() -> None:
    # three events at the same instant: first is the earliest to arrive, last the latest
    cons = consolidator((20,))
    cons.add(batch([(0, 5.0, 1.0), (0, 5.0, 2.0)]))
    cons.add(batch([(0, 5.0, 3.0)]))
    (win,) = emitted(cons.flush_all()).values()
    assert (win.first, win.last) == (1.0, 3.0)


def test_empty_windows_produce_nothing() -> None:
    # events in [0, 20) and [60, 80): nothing for [20, 40) and [40, 60)
    cons = consolidator((20,))
    cons.add(batch([(0, 1.0, 1.0), (0, 61.0, 2.0)]))
    assert sorted(emitted(cons.flush_all())) == [(0, 0, 0), (0, 0, 60)]


def test_unconfigured_aggregates_are_nan() -> None:
    cons = Consolidator([archive(20, ("max",))], ConsolidationSettings())
    cons.add(batch([(0, 1.0, 1.0), (0, 2.0, 5.0)]))
    (res,) = cons.flush_all()
    assert res.max.tolist() == [5.0] and res.count.tolist() == [2]
    assert all(math.isnan(float(col[0])) for col in (res.sum, res.min, res.first, res.last))


def test_coarse_archives_cascade_from_fine_ones() -> None:
    #  20 s:  [0,20) [20,40) [40,60)        [60,80)
    #  60 s:  [0,                      60)  [60,120)
    cons = consolidator((20, 60))
    cons.add(batch([(0, 1.0, 1.0), (0, 25.0, 5.0), (0, 41.0, -2.0), (0, 70.0, 7.0)]))
    out = emitted(cons.flush_all())
    assert out[(1, 0, 0)] == Window(3, 4.0, -2.0, 5.0, 1.0, -2.0)
    assert out[(1, 0, 60)] == Window(1, 7.0, 7.0, 7.0, 7.0, 7.0)
    assert len([k for k in out if k[0] == 0]) == 4


@pytest.mark.parametrize("steps", [(20, 30), (0,), (20, 600, 900)])
def test_invalid_steps_are_refused(steps: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="step"):
        consolidator(steps)


# -- watermark, idle flush -------------------------------------------------------------------------


def test_a_window_is_final_when_the_watermark_reaches_its_end() -> None:
    # lateness 30 s: the watermark is the largest event time minus 30 s
    #   [0, 20) ── events at 5, 12
    #   event at 49.999 → watermark 19.999 → still open
    #   event at 50     → watermark 20     → final
    cons = consolidator((20,), lateness=30)
    cons.add(batch([(0, 5.0, 1.0), (0, 12.0, 2.0)]))
    assert cons.collect() == []
    cons.add(batch([(1, 49.999, 0.0)]))
    assert cons.collect() == []
    assert cons.stats.open_windows == 2
    cons.add(batch([(1, 50.0, 0.0)]))
    assert emitted(cons.collect()) == {(0, 0, 0): Window(2, 3.0, 1.0, 2.0, 1.0, 2.0)}
    assert cons.stats.watermark_ms == (T0 + 20) * 1000
    assert cons.collect() == [], "a window is emitted once"


def test_the_watermark_is_global_across_series() -> None:
    cons = consolidator((20,), lateness=0)
    cons.add(batch([(0, 5.0, 1.0), (1, 20.0, 2.0)]))
    assert list(emitted(cons.collect())) == [(0, 0, 0)]


@pytest.mark.parametrize(
    ("now", "final"),
    [
        (79.999, False),  # end 20 + lateness 30 + idle_flush 30 = 80
        (80.0, True),
    ],
)
def test_idle_flush_finalises_windows_by_the_clock(now: float, final: bool) -> None:
    cons = consolidator((20,), lateness=30, idle_flush=30)
    cons.add(batch([(0, 5.0, 1.0)]))
    assert bool(cons.collect(now_s=T0 + now)) is final


def test_the_clock_never_moves_backwards() -> None:
    cons = consolidator((20,), lateness=30, idle_flush=30)
    cons.add(batch([(0, 5.0, 1.0)]))
    cons.collect(now_s=T0 + 79.0)
    cons.collect(now_s=T0 + 200.0)  # [0, 20) final by the clock
    cons.add(batch([(0, 25.0, 1.0)]))
    assert list(emitted(cons.collect(now_s=T0 + 10.0))) == [(0, 0, 20)], "an earlier now_s is ignored"


# -- late data -------------------------------------------------------------------------------------


def test_a_late_event_within_the_hold_re_emits_the_merged_window() -> None:
    # step 20, lateness 30, late_hold 600
    #   [0, 20): 5 → 1.0, emitted when an event at 50 arrives
    #   late event at 7 → 3.0 (watermark 20 < 20 + 600): merged, emitted again with both
    cons = consolidator((20,), lateness=30, late_hold=600)
    cons.add(batch([(0, 5.0, 1.0), (1, 50.0, 0.0)]))
    assert emitted(cons.collect())[(0, 0, 0)] == Window(1, 1.0, 1.0, 1.0, 1.0, 1.0)
    cons.add(batch([(0, 7.0, 3.0)]))
    cons.add(batch([(0, 2.0, -1.0)]))
    assert emitted(cons.collect()) == {(0, 0, 0): Window(3, 3.0, -1.0, 3.0, -1.0, 3.0)}
    stats = cons.stats
    assert (stats.late_merged, stats.late_dropped) == (2, 0)
    assert (stats.windows_emitted, stats.windows_reemitted) == (1, 1)
    assert cons.collect() == []


def test_a_late_event_for_a_window_never_opened_opens_it() -> None:
    cons = consolidator((20,), lateness=0, late_hold=600)
    cons.add(batch([(0, 100.0, 1.0)]))
    cons.collect()
    cons.add(batch([(1, 30.0, 2.0)]))  # [20, 40) of series 1 is final (watermark 100) but held
    assert emitted(cons.collect()) == {(0, 1, 20): Window(1, 2.0, 2.0, 2.0, 2.0, 2.0)}
    assert cons.stats.late_merged == 1


def test_a_late_window_opened_among_held_ones_is_emitted() -> None:
    #  series 0: [0,20) [20,40) [40,60) emitted and held   ...   [100,120) open
    #  series 1: late event at 30 opens [20,40), between held windows of series 0
    cons = consolidator((20,), lateness=0, late_hold=600)
    cons.add(batch([(0, 5.0, 1.0), (0, 25.0, 1.0), (0, 45.0, 1.0), (0, 100.0, 1.0)]))
    assert len(emitted(cons.collect())) == 3
    cons.add(batch([(1, 30.0, 2.0), (1, 33.0, 4.0)]))
    assert emitted(cons.collect()) == {(0, 1, 20): Window(2, 6.0, 2.0, 4.0, 2.0, 4.0)}


def test_an_event_past_the_hold_is_dropped_and_counted() -> None:
    #  20 s archive: [0, 20) is forgotten once the watermark reaches 20 + 100
    #  60 s archive: [0, 60) is still held until 60 + 100
    cons = consolidator((20, 60), lateness=0, late_hold=100)
    cons.add(batch([(0, 5.0, 1.0), (0, 130.0, 0.0)]))  # watermark 130
    first = emitted(cons.collect())
    assert (0, 0, 0) in first and (1, 0, 0) in first
    cons.add(batch([(0, 10.0, 9.0)]))
    out = emitted(cons.collect())
    assert (0, 0, 0) not in out, "the fine window is past its hold: not re-emitted with partial values"
    assert out[(1, 0, 0)] == Window(2, 10.0, 1.0, 9.0, 1.0, 9.0)
    stats = cons.stats
    assert stats.late_dropped_by_archive == (1, 0)
    assert stats.late_merged_by_archive == (0, 1)


def test_lateness_is_judged_at_each_events_arrival_within_a_batch() -> None:
    # One batch: an event at 5, then one at 200 (watermark 200), then another at 6.
    # The first was on time when it arrived; the last one came after the hold of [0, 20) ended.
    cons = consolidator((20,), lateness=0, late_hold=100)
    cons.add(batch([(0, 5.0, 1.0), (1, 200.0, 0.0), (0, 6.0, 2.0)]))
    out = emitted(cons.collect())
    assert out[(0, 0, 0)].count == 1
    assert cons.stats.late_dropped == 1


def test_a_window_forgotten_by_the_clock_is_not_reopened() -> None:
    # quiet stream: [0, 20) final at now 80, forgotten at now 80 + late_hold 100
    cons = consolidator((20,), lateness=30, late_hold=100, idle_flush=30)
    cons.add(batch([(0, 5.0, 1.0)]))
    assert cons.collect(now_s=T0 + 80)
    assert cons.collect(now_s=T0 + 180) == []
    assert cons.stats.held_windows == 0
    cons.add(batch([(0, 6.0, 2.0)]))
    assert cons.collect(now_s=T0 + 181) == []
    assert cons.stats.late_dropped == 1


def test_held_windows_are_forgotten_after_the_hold() -> None:
    cons = consolidator((20,), lateness=0, late_hold=40)
    cons.add(batch([(0, 5.0, 1.0), (0, 25.0, 1.0), (0, 45.0, 1.0), (0, 65.0, 1.0)]))
    cons.collect()  # watermark 65: [0,20) [20,40) [40,60) final; [0,20) forgotten (20 + 40 <= 65)
    stats = cons.stats
    assert (stats.open_windows, stats.held_windows) == (1, 2)


def test_flush_all_emits_open_windows_once() -> None:
    cons = consolidator((20, 60))
    cons.add(batch([(0, 5.0, 1.0), (1, 15.0, 2.0)]))
    assert cons.collect() == []
    out = emitted(cons.flush_all())
    assert set(out) == {(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0)}
    assert cons.flush_all() == [] and cons.collect() == []
    assert cons.stats.open_windows == 0


def test_an_overflowing_sum_is_nan_not_a_wrong_number() -> None:
    cons = consolidator((20,))
    cons.add(batch([(0, 1.0, 1.7e308), (0, 2.0, 1.7e308), (1, 1.0, 1.0)]))
    out = emitted(cons.flush_all())
    assert math.isnan(out[(0, 0, 0)].sum)
    assert out[(0, 0, 0)].max == 1.7e308
    assert out[(0, 1, 0)].sum == 1.0


def test_compensated_sums_do_not_lose_small_terms() -> None:
    values = [1e16, 1.0, -1e16, 1.0] * 5
    cons = consolidator((20,))
    for i, v in enumerate(values):  # one event per batch: every addition is a merge
        cons.add(batch([(0, i * 0.5, v)]))
    assert emitted(cons.flush_all())[(0, 0, 0)].sum == 10.0


@pytest.mark.parametrize("longest", [1, 3, 6, 40])  # single terms, column by column, tree
def test_segment_reductions_equal_exact_ones(longest: int) -> None:
    rng = np.random.default_rng(longest)
    counts = rng.integers(1, longest + 1, 200)
    counts[0] = longest
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    values = rng.normal(0, 1, int(counts.sum())) * 10.0 ** rng.integers(-8, 16, int(counts.sum()))
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        if count >= 3:  # large terms that cancel: only compensated sums keep the small ones
            values[start], values[start + count - 1] = 1e17, -1e17
    hi, lo, mins, maxs = segment_reduce(starts, counts, sum_terms=(values, None), mins=values, maxs=values)
    assert hi is not None and lo is not None and mins is not None and maxs is not None
    sums, _ = segment_sum(values, None, starts, counts)
    for i, (start, count) in enumerate(zip(starts.tolist(), counts.tolist(), strict=True)):
        terms = values[start : start + count].tolist()
        exact = Exact(count, math.fsum(terms), math.fsum(map(abs, terms)), min(terms), max(terms), 0, 0)
        assert abs(hi[i] + lo[i] - exact.sum) <= sum_tolerance(exact)
        assert abs(sums[i] - exact.sum) <= sum_tolerance(exact)
        assert (mins[i], maxs[i]) == (exact.min, exact.max)


def test_bad_series_ids_are_refused() -> None:
    cons = consolidator((20,))
    with pytest.raises(ValueError, match="series"):
        cons.add(batch([(-1, 1.0, 1.0)]))


# -- snapshots -------------------------------------------------------------------------------------


def test_snapshot_round_trip_keeps_windows_clock_and_counters() -> None:
    # lateness 0, late_hold 100, idle_flush 30; the clock at 200 forgets windows ending by 70
    cons = consolidator((20, 60), lateness=0, late_hold=100, idle_flush=30)
    cons.add(batch([(0, 5.0, 1.0), (1, 30.0, 2.0), (0, 45.0, 3.0), (0, 90.0, 4.0)]))
    cons.collect(now_s=T0 + 200)
    restored = Consolidator.restore(cons.snapshot(), cons.archives, cons.settings)
    assert restored.stats == cons.stats
    # dropped by the clock's hold; merged into held [80, 100); new; dropped by the watermark
    follow = [(0, 8.0, 5.0), (0, 95.0, 5.0), (1, 300.0, 1.0), (0, 1.0, 1.0)]
    for c in (cons, restored):
        c.add(batch(follow))
    out = emitted(restored.collect())
    assert out == emitted(cons.collect())
    assert out[(0, 0, 80)] == Window(2, 9.0, 4.0, 5.0, 4.0, 5.0)
    assert (0, 0, 0) not in out
    assert restored.stats == cons.stats
    assert restored.stats.late_dropped_by_archive == (2, 2)


def test_snapshot_with_renumbered_series() -> None:
    cons = consolidator((20,))
    cons.add(batch([(0, 5.0, 1.0), (1, 6.0, 2.0), (2, 7.0, 3.0)]))
    assert cons.series_ids().tolist() == [0, 1, 2]
    # after a restart series 0, 1, 2 were interned as 5, 3, 4
    restored = Consolidator.restore(
        cons.snapshot(), cons.archives, cons.settings, series_map=np.array([5, 3, 4], dtype=np.int64)
    )
    out = emitted(restored.flush_all())
    assert {k[1]: w.sum for k, w in out.items()} == {5: 1.0, 3: 2.0, 4: 3.0}


def test_restore_refuses_other_archives_and_garbage() -> None:
    cons = consolidator((20,))
    cons.add(batch([(0, 5.0, 1.0)]))
    data = cons.snapshot()
    with pytest.raises(ValueError, match="steps"):
        Consolidator.restore(data, [archive(10)], ConsolidationSettings())
    with pytest.raises(ValueError, match="snapshot"):
        Consolidator.restore(b"not a snapshot", [archive(20)], ConsolidationSettings())
    few = Consolidator([archive(20, ("min",))], ConsolidationSettings())
    few.add(batch([(0, 5.0, 1.0)]))
    with pytest.raises(ValueError, match="columns"):
        Consolidator.restore(few.snapshot(), [archive(20, ("max",))], ConsolidationSettings())


# -- properties against a slow, obvious reference ---------------------------------------------------


@dataclass(frozen=True)
class Exact:
    count: int
    sum: float  # correctly rounded (math.fsum)
    abs_sum: float
    min: float
    max: float
    first: float
    last: float


def reference(
    events: Sequence[Event], steps: Sequence[int], lateness: int, late_hold: int
) -> dict[tuple[int, int, int], Exact]:
    """Every (archive, series, window) directly from raw events, dropping what came too late."""
    windows: dict[tuple[int, int, int], list[tuple[int, float]]] = defaultdict(list)
    largest: int | None = None
    for series, at, value in events:
        t = round((T0 + at) * 1000)
        largest = t if largest is None else max(largest, t)
        watermark = largest - lateness * 1000
        for a, step in enumerate(steps):
            start_ms = t // (step * 1000) * step * 1000
            if start_ms + step * 1000 <= watermark - late_hold * 1000:
                continue  # past the hold when it arrived
            windows[(a, series, start_ms // 1000 - T0)].append((t, value))
    out: dict[tuple[int, int, int], Exact] = {}
    for key, evs in windows.items():
        values = [v for _, v in evs]
        first_t = min(t for t, _ in evs)
        last_t = max(t for t, _ in evs)
        out[key] = Exact(
            len(values), math.fsum(values), math.fsum(abs(v) for v in values), min(values), max(values),
            next(v for t, v in evs if t == first_t),  # earliest arrival among equal times
            [v for t, v in evs if t == last_t][-1],  # latest arrival among equal times
        )  # fmt: skip
    return out


def sum_tolerance(exact: Exact) -> float:
    """Double-double sums: the final rounding (one ulp, 2u·|S|) plus the double-double error of
    n additions (a few u² per addition, relative to the magnitude of the terms: 8·n·u²·Σ|x|)."""
    return 2 * U * abs(exact.sum) + 8 * exact.count * U * U * exact.abs_sum


def assert_matches(got: Window, exact: Exact, where: object) -> None:
    assert (got.count, got.min, got.max, got.first, got.last) == (
        exact.count, exact.min, exact.max, exact.first, exact.last,
    ), where  # fmt: skip
    assert abs(got.sum - exact.sum) <= sum_tolerance(exact), (where, got.sum, exact.sum)


def run(
    events: Sequence[Event],
    cuts: Sequence[int],
    steps: Sequence[int],
    lateness: int,
    late_hold: int,
    snapshot_at: int | None = None,
) -> tuple[Emitted, list[Emitted]]:
    """Feed ``events`` cut at ``cuts``, collecting after each batch; the latest emission per
    window, and every collect's emissions. Checks that nothing is emitted before it is final."""
    cons = consolidator(steps, lateness=lateness, late_hold=late_hold)
    latest: Emitted = {}
    history: list[Emitted] = []
    bounds = [0, *sorted(cuts), len(events)]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if i == snapshot_at:
            cons = Consolidator.restore(cons.snapshot(), cons.archives, cons.settings)
        cons.add(batch(events[lo:hi]))
        out = emitted(cons.collect())
        watermark = cons.stats.watermark_ms
        for a, _, start in out:
            assert watermark is not None and (T0 + start + steps[a]) * 1000 <= watermark
        history.append(out)
        latest.update(out)
    out = emitted(cons.flush_all())
    history.append(out)
    latest.update(out)
    return latest, history


@st.composite
def streams(draw: st.DrawFn, max_events: int = 60) -> list[Event]:
    """Roughly time-ordered events of a few series; some arrive late, some very late; equal
    times happen (ties), so first/last by arrival is exercised."""
    n = draw(st.integers(1, max_events))
    value = st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.integers(-1000, 1000).map(float),
        st.sampled_from([1e15, -1e15, 0.1, 1e-9]),
    )
    clock = 0
    events: list[Event] = []
    for _ in range(n):
        clock += draw(st.sampled_from([0, 0, 250, 1000, 3000, 7000]))
        lag = draw(st.sampled_from([0, 0, 0, 500, 4000, 15_000, 60_000]))
        events.append((draw(st.integers(0, 3)), max(clock - lag, 0) / 1000, draw(value)))
    return events


STEPS = st.sampled_from([(1,), (2, 4), (1, 3, 6), (5, 10, 60), (2, 2, 8)])
LATENESS = st.sampled_from([0, 1, 5])
LATE_HOLD = st.sampled_from([0, 3, 20, 10_000])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cut_points(data: st.DataObject, n: int) -> list[int]:
    return data.draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=8, unique=True), label="cuts")


@FAST
@given(events=streams(), steps=STEPS, lateness=LATENESS, late_hold=LATE_HOLD, data=st.data())
def test_property_batching_does_not_change_results(
    events: list[Event], steps: tuple[int, ...], lateness: int, late_hold: int, data: st.DataObject
) -> None:
    """(1) and (3): any split into batches emits, per window, the values of a direct computation
    from the raw events of every archive (coarse archives included)."""
    expected = reference(events, steps, lateness, late_hold)
    one, _ = run(events, [], steps, lateness, late_hold)
    many, _ = run(events, cut_points(data, len(events)), steps, lateness, late_hold)
    assert set(one) == set(expected) == set(many)
    for key, exact in expected.items():
        assert_matches(one[key], exact, key)
        assert_matches(many[key], exact, key)


@FAST
@given(events=streams(), steps=STEPS, data=st.data())
def test_property_order_within_a_window_does_not_matter(
    events: list[Event], steps: tuple[int, ...], data: st.DataObject
) -> None:
    """(2): shuffling the events of each window among themselves gives the same values (distinct
    times; nothing is dropped): identical bits in one batch, equal within tolerance across batches."""
    seen: set[tuple[int, float]] = set()
    events = [e for e in events if (e[0], e[1]) not in seen and not seen.add((e[0], e[1]))]
    by_window: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (series, at, _) in enumerate(events):
        by_window[(series, int(at // steps[0]))].append(i)
    shuffled = list(events)
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    for positions in by_window.values():
        moved = [events[i] for i in positions]
        rng.shuffle(moved)
        for i, event in zip(positions, moved, strict=True):
            shuffled[i] = event
    hold = 10**6
    assert run(events, [], steps, 0, hold)[0] == run(shuffled, [], steps, 0, hold)[0]
    cuts = cut_points(data, len(events))
    expected = reference(events, steps, 0, hold)
    got, _ = run(shuffled, cuts, steps, 0, hold)
    assert set(got) == set(expected)
    for key, exact in expected.items():
        assert_matches(got[key], exact, key)


@FAST
@given(events=streams(), steps=STEPS, lateness=LATENESS, late_hold=LATE_HOLD, data=st.data())
def test_property_snapshot_and_restore_mid_stream_changes_nothing(
    events: list[Event], steps: tuple[int, ...], lateness: int, late_hold: int, data: st.DataObject
) -> None:
    """(4): restoring a snapshot between two batches emits exactly what an uninterrupted run does,
    collect by collect, to the last bit."""
    cuts = cut_points(data, len(events))
    at = data.draw(st.integers(0, len(cuts)), label="snapshot before batch")
    assert run(events, cuts, steps, lateness, late_hold, snapshot_at=at)[1] == run(
        events, cuts, steps, lateness, late_hold
    )[1]


def test_a_wide_batch_takes_the_unpacked_sort_and_agrees() -> None:
    # series ids and times far apart do not fit the packed 64-bit sort key
    events: list[Event] = [(2**30 + i % 3, i * 86_400 * 400.0 + (i % 7), float(i)) for i in range(30)]
    events += [(i % 3, 1.0 + i, float(-i)) for i in range(30)]
    expected = reference(events, (1, 2), 10**9, 10**9)
    got, _ = run(events, [], (1, 2), 10**9, 10**9)
    assert set(got) == set(expected)
    for key, exact in expected.items():
        assert_matches(got[key], exact, key)


@settings(max_examples=100, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.one_of(st.integers(0, 50), st.integers(0, 2**31 - 1)),  # dense ids, and sparse ones
            st.floats(0, 3000),
            st.floats(-1e6, 1e6),
        ),
        max_size=40,
    ),
    now=st.one_of(st.none(), st.floats(0, 4000)),
)
def test_series_ids_are_those_with_windows(events, now) -> None:
    cons = consolidator((20, 60))
    cons.add(batch(events))
    if now is not None:
        cons.collect(T0 + now)  # some windows forgotten, others held
    expected = sorted(
        {int(key) & ((1 << 31) - 1) for state in cons._states for key in state.keys}
    )
    ids = cons.series_ids()
    assert ids.dtype == np.int64
    assert ids.tolist() == expected


def _v1_snapshot(cons: Consolidator) -> bytes:
    """What versions before 2 wrote: an .npz archive of the columns and a JSON "meta" array."""
    import io
    import json

    arrays = {
        f"a{i}.{name}": col
        for i, state in enumerate(cons._states)
        for name, col in state.live_columns().items()
    }
    meta = {
        "version": 1,
        "steps_ms": cons._steps_ms,
        "max_t": cons._max_t,
        "now_final_ms": cons._now_final_ms,
        "now_hold_ms": cons._now_hold_ms,
        "events_in": cons._events_in,
        "late_merged": cons._late_merged,
        "late_dropped": cons._late_dropped,
        "emitted": cons._emitted,
        "reemitted": cons._reemitted,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **arrays)
    return buf.getvalue()


def test_a_version_1_snapshot_is_still_restored() -> None:
    """Checkpoints written by the previous release restore into the same state."""
    cons = consolidator((20, 60))
    cons.add(batch([(0, 5.0, 1.0), (1, 6.0, 2.0), (0, 65.0, 3.0), (2, 130.0, 4.0)]))
    cons.collect()
    old = Consolidator.restore(_v1_snapshot(cons), cons.archives, cons.settings)
    new = Consolidator.restore(cons.snapshot(), cons.archives, cons.settings)
    assert old.stats == new.stats == cons.stats
    follow = batch([(1, 140.0, 5.0), (0, 200.0, 6.0)])
    for c in (old, new, cons):
        c.add(follow)
    assert emitted(old.flush_all()) == emitted(new.flush_all()) == emitted(cons.flush_all())


def test_a_damaged_snapshot_is_refused() -> None:
    cons = consolidator((20,))
    cons.add(batch([(0, 5.0, 1.0), (1, 6.0, 2.0)]))
    data = cons.snapshot()
    head, _, rest = data.partition(b"\n")
    meta_end = rest.index(b"\n")
    meta = rest[:meta_end]
    for damaged in (
        data[:-1],  # truncated
        data + b"\0",  # longer than its columns
        head + b"\n" + meta.replace(b'"<i8"', b'"|O"', 1) + rest[meta_end:],  # not a column type
        head + b"\n" + b"{" + rest[meta_end:],  # unreadable metadata
        head + b"\n" + meta.replace(b'"version": 2', b'"version": 3') + rest[meta_end:],
    ):
        with pytest.raises(ValueError, match="snapshot"):
            Consolidator.restore(damaged, cons.archives, cons.settings)
