"""Partial aggregates of windows in columns, and the arithmetic that builds and merges them.

A *partial* is the consolidation state of one (series, window): ``count``, the sum as a
double-double ``(sum_hi, sum_lo)``, ``min``, ``max``, and ``first``/``last`` as (time, value).
It is small, fixed-size and mergeable: merging the partials of two disjoint sets of events gives
the partial of their union, which is how batches, late events and coarser archives are all
computed. :class:`Partials` holds many of them as aligned NumPy columns; columns that no
configured cfunc needs are ``None`` and cost nothing.

Event and merge order
    ``first`` is the event with the smallest time, ties going to the earliest arrival; ``last``
    the largest time, ties going to the latest arrival. Within a batch this is done by sorting
    on (series, window, time, arrival index). Across merges it needs no sequence numbers: every
    event of a later batch arrived after every event already merged, so on equal times an
    existing ``first`` is kept and an incoming ``last`` wins.

Compensated sums
    Sums are double-double: every addition is an error-free TwoSum whose rounding error is
    carried in ``sum_lo``. Within a batch the values of a window are added in time order, so
    shuffling the events of a window does not change a bit (distinct times); across batchings
    the merge order differs, and results agree to within about one rounding of the final sum
    (relative error ~1e-16 plus ~n·2⁻¹⁰⁶·Σ|x| absolute, far below a float's precision).
    A sum that overflows becomes non-finite (NaN); renderers leave such values out.

Keys
    A window is identified by its index ``w = floor(t / step)`` (``[w·step, (w+1)·step)``,
    aligned to the epoch). Batch partials are sorted series-major (series, window) so that
    cascading to a coarser archive (``w // ratio``) keeps groups contiguous; the running state
    (:mod:`samplerr.core.windows`) is sorted time-major by ``window << SERIES_BITS | series``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

Aggregate = Literal["sum", "min", "max", "first", "last"]
AGGREGATES: Final[tuple[Aggregate, ...]] = ("sum", "min", "max", "first", "last")
# What each cfunc needs besides the count, which is always kept.
CFUNC_AGGREGATES: Final[dict[str, tuple[Aggregate, ...]]] = {
    "avg": ("sum",),
    "sum": ("sum",),
    "count": (),
    "min": ("min",),
    "max": ("max",),
    "first": ("first",),
    "last": ("last",),
}

SERIES_BITS: Final = 31  # series ids below 2**31; window indices below 2**32 (1 s windows until 2106)
SERIES_MASK: Final = (1 << SERIES_BITS) - 1
MAX_WINDOW: Final = (1 << 32) - 1


def aggregates_for(cfuncs: Iterable[str]) -> frozenset[Aggregate]:
    """The aggregates (besides count) that ``cfuncs`` need; raises ``ValueError`` on an unknown one."""
    out: set[Aggregate] = set()
    for cfunc in cfuncs:
        try:
            out.update(CFUNC_AGGREGATES[cfunc])
        except KeyError:
            raise ValueError(f"unknown cfunc {cfunc!r}; valid: {', '.join(CFUNC_AGGREGATES)}") from None
    return frozenset(out)


# Column names, in a fixed order, per aggregate.
COLUMNS: Final[dict[Aggregate, tuple[str, ...]]] = {
    "sum": ("sum_hi", "sum_lo"),
    "min": ("min",),
    "max": ("max",),
    "first": ("first_t", "first_v"),
    "last": ("last_t", "last_v"),
}
INT_COLUMNS: Final = frozenset({"series", "window", "count", "first_t", "last_t"})


def columns_for(aggregates: Collection[Aggregate]) -> tuple[str, ...]:
    """The value columns a set of aggregates needs, in a fixed order (``count`` first)."""
    names = ["count"]
    for agg in AGGREGATES:
        if agg in aggregates:
            names.extend(COLUMNS[agg])
    return tuple(names)


@dataclass(slots=True)
class Partials:
    """Partial aggregates of windows in aligned columns (one row per series and window)."""

    series: I64
    window: I64
    count: I64
    sum_hi: F64 | None = None
    sum_lo: F64 | None = None
    min: F64 | None = None
    max: F64 | None = None
    first_t: I64 | None = None
    first_v: F64 | None = None
    last_t: I64 | None = None
    last_v: F64 | None = None

    def __len__(self) -> int:
        return int(self.series.shape[0])

    @property
    def aggregates(self) -> frozenset[Aggregate]:
        return frozenset(agg for agg in AGGREGATES if getattr(self, COLUMNS[agg][0]) is not None)

    def time_major_keys(self) -> I64:
        """``window << SERIES_BITS | series`` for every row (the running state's sort key)."""
        keys: I64 = self.window << SERIES_BITS
        keys |= self.series
        return keys


# ---------------------------------------------------------------------------------------------
# Double-double arithmetic (error-free transformations, vectorised)


def two_sum(a: F64, b: F64) -> tuple[F64, F64]:
    """``s, e`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth's TwoSum)."""
    s = a + b
    bp = s - a
    e = (a - (s - bp)) + (b - bp)
    return s, e


def dd_add(a_hi: F64, a_lo: F64, b_hi: F64, b_lo: F64) -> tuple[F64, F64]:
    """Sum of two double-doubles, renormalised so that ``|lo| <= ulp(hi) / 2``.

    An overflow gives NaN (``inf - inf`` in the error term), which then stays NaN.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        s, e = two_sum(a_hi, b_hi)
        e += a_lo
        e += b_lo
        hi = s + e
        lo = e - (hi - s)
    return hi, lo


# Segments longer than this are summed as a tree (log rounds) rather than column by column.
_COLUMN_SUM_LIMIT: Final = 8


def segment_sum(hi: F64, lo: F64 | None, starts: I64, counts: I64) -> tuple[F64, F64]:
    """Double-double sums of consecutive segments ``[starts[i], starts[i] + counts[i])``.

    ``hi``/``lo`` are the terms (``lo`` may be ``None`` for plain floats). Terms are added in
    their order within a segment, so the same terms in the same order give the same bits.
    """
    nseg = starts.shape[0]
    seg_hi: F64 = hi[starts]
    seg_lo: F64 = np.zeros(nseg) if lo is None else lo[starts]
    if nseg == hi.shape[0]:
        return seg_hi, seg_lo
    maxc = int(counts.max())
    if maxc <= _COLUMN_SUM_LIMIT:
        # Column by column: add the j-th term of every segment that has one.
        for j in range(1, maxc):
            sel = np.flatnonzero(counts > j)
            pos = starts[sel] + j
            t_lo: F64 = np.zeros(sel.shape[0]) if lo is None else lo[pos]
            seg_hi[sel], seg_lo[sel] = dd_add(seg_hi[sel], seg_lo[sel], hi[pos], t_lo)
        return seg_hi, seg_lo
    # A pairwise tree within each segment: after the round of width d, the element at relative
    # position k·2d holds the sum of its 2d terms. The segment's sum ends at its start.
    n = hi.shape[0]
    acc_hi = hi.copy()
    acc_lo: F64 = np.zeros(n) if lo is None else lo.copy()
    rel = np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
    end = np.repeat(starts + counts, counts)
    heads = np.arange(n, dtype=np.int64)
    d = 1
    while d < maxc:
        heads = heads[(rel[heads] & (2 * d - 1)) == 0]
        partner = heads + d
        ok = partner < end[heads]
        h = heads[ok]
        p = partner[ok]
        acc_hi[h], acc_lo[h] = dd_add(acc_hi[h], acc_lo[h], acc_hi[p], acc_lo[p])
        d *= 2
    return acc_hi[starts], acc_lo[starts]


# Segments up to this long reduce min, max and sum together column by column (a few vectorised
# steps per column); longer ones use ufunc.reduceat and the summation tree.
_COLUMN_REDUCE_LIMIT: Final = 4


def segment_reduce(
    starts: I64,
    counts: I64,
    *,
    sum_terms: tuple[F64, F64 | None] | None,
    mins: F64 | None,
    maxs: F64 | None,
) -> tuple[F64 | None, F64 | None, F64 | None, F64 | None]:
    """(sum_hi, sum_lo, min, max) over consecutive segments; an aggregate given as None is skipped.

    ``sum_terms`` is ``(hi, lo)`` (``lo`` None for plain floats), summed as :func:`segment_sum`.
    """
    nseg = starts.shape[0]
    n = int(counts.sum()) if nseg else 0
    maxc = int(counts.max()) if nseg else 0
    if maxc > _COLUMN_REDUCE_LIMIT or n == nseg:
        out_hi = out_lo = None
        if sum_terms is not None:
            out_hi, out_lo = segment_sum(sum_terms[0], sum_terms[1], starts, counts)
        out_min = None if mins is None else (mins[starts] if n == nseg else np.minimum.reduceat(mins, starts))
        out_max = None if maxs is None else (maxs[starts] if n == nseg else np.maximum.reduceat(maxs, starts))
        return out_hi, out_lo, out_min, out_max
    seg_hi = seg_lo = seg_min = seg_max = None
    if sum_terms is not None:
        hi, lo = sum_terms
        seg_hi = hi[starts]
        seg_lo = np.zeros(nseg) if lo is None else lo[starts]
    if mins is not None:
        seg_min = mins[starts]
    if maxs is not None:
        seg_max = maxs[starts]
    for j in range(1, maxc):
        sel = np.flatnonzero(counts > j)
        pos = starts[sel] + j
        if seg_hi is not None and seg_lo is not None and sum_terms is not None:
            hi, lo = sum_terms
            t_lo: F64 = np.zeros(sel.shape[0]) if lo is None else lo[pos]
            seg_hi[sel], seg_lo[sel] = dd_add(seg_hi[sel], seg_lo[sel], hi[pos], t_lo)
        if seg_min is not None and mins is not None:
            seg_min[sel] = np.minimum(seg_min[sel], mins[pos])
        if seg_max is not None and maxs is not None:
            seg_max[sel] = np.maximum(seg_max[sel], maxs[pos])
    return seg_hi, seg_lo, seg_min, seg_max


# ---------------------------------------------------------------------------------------------
# Building partials


def _bits(span: int) -> int:
    return max(int(span).bit_length(), 0)


def _reduce_sorted(
    series: I64,
    window: I64,
    starts: I64,
    *,
    n: int,
    values: F64,
    order: I64,
    times: I64,
    aggregates: frozenset[Aggregate],
) -> Partials:
    """Partials of events sorted by (series, window, time, arrival); ``order`` maps to input rows."""
    counts: I64 = np.empty(starts.shape[0], dtype=np.int64)
    counts[:-1] = starts[1:] - starts[:-1]
    counts[-1] = n - starts[-1]
    out = Partials(series, window, counts)
    v: F64 = values[order]
    out.sum_hi, out.sum_lo, out.min, out.max = segment_reduce(
        starts,
        counts,
        sum_terms=(v, None) if "sum" in aggregates else None,
        mins=v if "min" in aggregates else None,
        maxs=v if "max" in aggregates else None,
    )
    if "first" in aggregates:
        out.first_v = v[starts]
        out.first_t = times[order[starts]]
    if "last" in aggregates:
        ends = starts + counts - 1
        out.last_v = v[ends]
        out.last_t = times[order[ends]]
    return out


def partials_from_events(
    series: I64, times_ms: I64, values: F64, step_ms: int, aggregates: frozenset[Aggregate]
) -> Partials:
    """Partials of events (in arrival order) for windows of ``step_ms``, sorted series-major.

    One sort of a packed 64-bit key (series, window, offset in window, arrival index) orders the
    events; reductions then run over contiguous segments. When the batch is too wide for the
    packed key, a stable lexicographic sort gives the same order.
    """
    n = int(series.shape[0])
    if n == 0:
        return _empty(aggregates)
    window: I64 = times_ms // step_ms
    smin, smax = int(series.min()), int(series.max())
    wmin, wmax = int(window.min()), int(window.max())
    if smin < 0 or smax > SERIES_MASK:
        raise ValueError(f"series ids must be in [0, 2**{SERIES_BITS}); got {smin}..{smax}")
    if wmin < 0 or wmax > MAX_WINDOW:
        raise ValueError("event times must be after 1970 and before 2106")
    sb, wb, ob, ib = _bits(smax - smin), _bits(wmax - wmin), _bits(step_ms - 1), _bits(n - 1)
    if sb + wb + ob + ib <= 63:
        offset: I64 = window * step_ms
        np.subtract(times_ms, offset, out=offset)
        packed: I64 = series - smin
        packed <<= wb
        window -= wmin
        packed |= window
        packed <<= ob
        packed |= offset
        packed <<= ib
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()
        order: I64 = packed & ((1 << ib) - 1)
        packed >>= ob + ib  # the group: series and window relative to their minimum
        group = packed
        flag = np.empty(n, dtype=np.bool_)
        flag[0] = True
        np.not_equal(group[1:], group[:-1], out=flag[1:])
        starts: I64 = np.flatnonzero(flag)
        heads = group[starts]
        seg_series: I64 = (heads >> wb) + smin
        seg_window: I64 = (heads & ((1 << wb) - 1)) + wmin
    else:
        order = np.lexsort((times_ms, window, series)).astype(np.int64, copy=False)
        s_sorted, w_sorted = series[order], window[order]
        flag = np.empty(n, dtype=np.bool_)
        flag[0] = True
        flag[1:] = (s_sorted[1:] != s_sorted[:-1]) | (w_sorted[1:] != w_sorted[:-1])
        starts = np.flatnonzero(flag)
        seg_series, seg_window = s_sorted[starts], w_sorted[starts]
    return _reduce_sorted(
        seg_series, seg_window, starts, n=n, values=values, order=order, times=times_ms, aggregates=aggregates
    )


def cascade(fine: Partials, ratio: int, aggregates: frozenset[Aggregate]) -> Partials:
    """Partials of windows ``ratio`` times longer, from series-major sorted finer partials.

    Each coarse window is exactly a run of consecutive fine windows of the same series, so the
    groups stay contiguous and in order: no sort is needed. ``first``/``last`` are those of the
    first and last fine window of each run (fine windows do not overlap in time).
    """
    n = len(fine)
    window: I64 = fine.window // ratio
    if n == 0:
        return _empty(aggregates)
    flag = np.empty(n, dtype=np.bool_)
    flag[0] = True
    np.not_equal(window[1:], window[:-1], out=flag[1:])
    flag[1:] |= fine.series[1:] != fine.series[:-1]
    starts: I64 = np.flatnonzero(flag)
    counts_rows: I64 = np.diff(np.append(starts, n))
    out = Partials(fine.series[starts], window[starts], np.add.reduceat(fine.count, starts))
    if ("sum" in aggregates and fine.sum_hi is None) or ("min" in aggregates and fine.min is None) or (
        "max" in aggregates and fine.max is None
    ):
        raise ValueError("the finer partials lack an aggregate the coarser ones need")
    out.sum_hi, out.sum_lo, out.min, out.max = segment_reduce(
        starts,
        counts_rows,
        sum_terms=(fine.sum_hi, fine.sum_lo) if "sum" in aggregates and fine.sum_hi is not None else None,
        mins=fine.min if "min" in aggregates else None,
        maxs=fine.max if "max" in aggregates else None,
    )
    if "first" in aggregates:
        assert fine.first_t is not None and fine.first_v is not None
        out.first_t, out.first_v = fine.first_t[starts], fine.first_v[starts]
    if "last" in aggregates:
        assert fine.last_t is not None and fine.last_v is not None
        ends = starts + counts_rows - 1
        out.last_t, out.last_v = fine.last_t[ends], fine.last_v[ends]
    return out


def _empty(aggregates: Collection[Aggregate]) -> Partials:
    out = Partials(
        np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    )
    for agg in aggregates:
        for name in COLUMNS[agg]:
            setattr(out, name, np.empty(0, dtype=np.int64 if name in INT_COLUMNS else np.float64))
    return out
