"""The open and held windows of one archive, as sorted columns in a sliding buffer.

Rows are (series, window) partials sorted time-major by ``key = window << 31 | series``. Because
events mostly arrive in time order, the useful operations all touch one end of the buffer:

* merging a batch's partials updates the windows it touches in place, appends the new windows
  that come after every existing one, and shifts only the rows after the first window inserted
  in the middle (a series' first event in a window others already opened);
* the windows that became final are a prefix of the rows (``window < w_final``), so finding them
  is one binary search and a scan of the rows not yet known to be emitted;
* the windows whose hold expired are a prefix too, and dropping them moves ``head``.

Each row has a status: ``OPEN`` (never emitted), ``HELD`` (emitted, kept for late events) or
``DIRTY`` (emitted, then changed by a late event: to be emitted again). ``clean`` is an index
below which every row is ``HELD``, so collecting does not rescan the held windows.

The buffer compacts (moves the live rows to the front) when it runs out of room at the end, and
grows by a quarter when compacting would not free an eighth of it, so appends cost amortised O(1)
per row and at most about a quarter of the memory is slack.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from samplerr.core.partials import (
    I64,
    INT_COLUMNS,
    SERIES_BITS,
    Aggregate,
    Partials,
    columns_for,
    dd_add,
)

OPEN: Final = 0
HELD: Final = 1
DIRTY: Final = 2

_MIN_CAPACITY: Final = 256
# A window's status after a merge: open stays open, an emitted one must be emitted again.
_AFTER_MERGE: Final = np.array([OPEN, DIRTY, DIRTY], dtype=np.uint8)

Column = npt.NDArray[Any]


class ArchiveState:
    """Windows of one archive that are open (not final yet) or held (emitted, awaiting late data)."""

    __slots__ = ("aggregates", "clean", "columns", "head", "names", "tail")

    def __init__(self, aggregates: frozenset[Aggregate], capacity: int = _MIN_CAPACITY) -> None:
        self.aggregates = aggregates
        self.names: tuple[str, ...] = ("key", "status", *columns_for(aggregates))
        self.columns: dict[str, Column] = {
            name: np.empty(capacity, dtype=_dtype(name)) for name in self.names
        }
        self.head = 0
        self.tail = 0
        self.clean = 0

    # -- inspection -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.tail - self.head

    @property
    def capacity(self) -> int:
        return int(self.columns["key"].shape[0])

    @property
    def keys(self) -> I64:
        """Live keys (a view)."""
        keys: I64 = self.columns["key"][self.head : self.tail]
        return keys

    def nbytes(self) -> int:
        """Bytes allocated for the columns (live rows and room to grow)."""
        return sum(int(col.nbytes) for col in self.columns.values())

    def live_nbytes(self) -> int:
        """Bytes used by live rows."""
        return len(self) * sum(int(col.itemsize) for col in self.columns.values())

    def status_counts(self) -> tuple[int, int]:
        """(open windows, held windows) — held includes those waiting to be re-emitted."""
        status = self.columns["status"][self.head : self.tail]
        opened = int(np.count_nonzero(status == OPEN))
        return opened, len(self) - opened

    # -- merging --------------------------------------------------------------------------------

    def merge(self, part: Partials, keys: I64) -> None:
        """Merge partials whose time-major keys are ``keys`` (unique, in any order) into the state.

        Existing windows combine with the new partials (a held one becomes ``DIRTY``); new windows
        are inserted ``OPEN``: appended when they come after every existing one (the usual case),
        otherwise by shifting only the rows after the first insertion. Partials must describe
        events that arrived after every event already merged (first/last ties depend on it).
        """
        m = int(keys.shape[0])
        if m == 0:
            return
        cols = self.columns
        live = self.keys
        n_live = int(live.shape[0])
        pos: I64 = np.searchsorted(live, keys)
        if n_live:
            found = live[np.minimum(pos, n_live - 1)] == keys
            j_found = np.flatnonzero(found)
            if j_found.shape[0]:
                rows = pos[j_found] + self.head
                self._combine(rows, part, j_found)
                self.clean = min(self.clean, int(rows.min()))
                if j_found.shape[0] == m:
                    return
                j_new: I64 = np.flatnonzero(~found)
            else:
                j_new = np.arange(m, dtype=np.int64)
        else:
            j_new = np.arange(m, dtype=np.int64)
        new_keys = keys[j_new]
        k = int(j_new.shape[0])
        if k > 1 and not bool(np.all(new_keys[1:] > new_keys[:-1])):
            order = np.argsort(new_keys)
            j_new, new_keys = j_new[order], new_keys[order]
        ins = pos[j_new]  # where each new key goes among the live rows (non-decreasing)
        first = int(ins[0])
        self._reserve(k)  # may move the live rows to the front: positions are relative to head
        head = self.head
        if first == n_live:  # after every existing window: append
            end = self.tail + k
            cols["key"][self.tail : end] = new_keys
            cols["status"][self.tail : end] = OPEN
            for name in self.names[2:]:
                cols[name][self.tail : end] = getattr(part, name)[j_new]
        else:
            # Each row from the first insertion on moves down by the number of new rows before it.
            moved = np.arange(first, n_live, dtype=np.int64)
            dest_old = moved + np.searchsorted(ins, moved, side="right") + head
            dest_new = ins + np.arange(k, dtype=np.int64) + head
            src = slice(head + first, self.tail)
            for name in self.names:
                col = cols[name]
                col[dest_old] = col[src]  # NumPy copies first when source and target overlap
                if name == "key":
                    col[dest_new] = new_keys
                elif name == "status":
                    col[dest_new] = OPEN
                else:
                    col[dest_new] = getattr(part, name)[j_new]
            end = self.tail + k
        self.tail = end
        self.clean = min(self.clean, head + first)

    def _combine(self, rows: I64, part: Partials, j: I64) -> None:
        """Merge partial rows ``j`` into existing state rows ``rows`` (same windows)."""
        cols = self.columns
        cols["count"][rows] += part.count[j]
        if "sum" in self.aggregates:
            assert part.sum_hi is not None and part.sum_lo is not None
            cols["sum_hi"][rows], cols["sum_lo"][rows] = dd_add(
                cols["sum_hi"][rows], cols["sum_lo"][rows], part.sum_hi[j], part.sum_lo[j]
            )
        if "min" in self.aggregates:
            assert part.min is not None
            cols["min"][rows] = np.minimum(cols["min"][rows], part.min[j])
        if "max" in self.aggregates:
            assert part.max is not None
            cols["max"][rows] = np.maximum(cols["max"][rows], part.max[j])
        if "first" in self.aggregates:  # earlier arrivals keep equal times
            assert part.first_t is not None and part.first_v is not None
            take = part.first_t[j] < cols["first_t"][rows]
            cols["first_t"][rows[take]] = part.first_t[j[take]]
            cols["first_v"][rows[take]] = part.first_v[j[take]]
        if "last" in self.aggregates:  # later arrivals win equal times
            assert part.last_t is not None and part.last_v is not None
            take = part.last_t[j] >= cols["last_t"][rows]
            cols["last_t"][rows[take]] = part.last_t[j[take]]
            cols["last_v"][rows[take]] = part.last_v[j[take]]
        status = cols["status"]
        status[rows] = _AFTER_MERGE[status[rows]]

    def _reserve(self, extra: int) -> int:
        """Make room for ``extra`` rows after ``tail``; return how far the live rows moved up."""
        cap = self.capacity
        live = self.tail - self.head
        if self.tail + extra <= cap:
            return 0
        shift = self.head
        need = live + extra
        if need > cap - cap // 8 or cap > max(_MIN_CAPACITY, 4 * need):
            # Grow (or shrink) to 1.25x what is needed: compactions then come after at least
            # need/4 appended rows, so each row is copied a bounded number of times.
            new_cap = max(_MIN_CAPACITY, need + need // 4)
            for name in self.names:
                col = np.empty(new_cap, dtype=self.columns[name].dtype)
                col[:live] = self.columns[name][self.head : self.tail]
                self.columns[name] = col
        else:
            for name in self.names:
                col = self.columns[name]
                col[:live] = col[self.head : self.tail]
        self.head = 0
        self.tail = live
        self.clean = max(self.clean - shift, 0)
        return shift

    # -- emitting and evicting ------------------------------------------------------------------

    def rows_before(self, window: int) -> int:
        """Index one past the last live row whose window index is below ``window``."""
        if window <= 0:
            return self.head
        return self.head + int(np.searchsorted(self.keys, window << SERIES_BITS))

    def take_pending(self, upto: int) -> tuple[I64, int]:
        """Rows below index ``upto`` that are open or dirty, now marked held; and how many were dirty."""
        start = max(self.clean, self.head)
        if start >= upto:
            return np.empty(0, dtype=np.int64), 0
        status = self.columns["status"]
        region = status[start:upto]
        rows: I64 = np.flatnonzero(region != HELD).astype(np.int64, copy=False)
        dirty = int(np.count_nonzero(region == DIRTY)) if rows.shape[0] else 0
        rows += start
        region[...] = HELD
        self.clean = upto
        return rows, dirty

    def evict_before(self, upto: int) -> int:
        """Forget the rows below index ``upto`` (every one must be held); return how many."""
        upto = max(upto, self.head)
        dropped = upto - self.head
        self.head = upto
        self.clean = max(self.clean, upto)
        return dropped

    # -- snapshots ------------------------------------------------------------------------------

    def live_columns(self, *, copy: bool = True) -> dict[str, Column]:
        """The live rows of every column: copies, or views (valid until the state changes)."""
        live = {name: self.columns[name][self.head : self.tail] for name in self.names}
        return {name: col.copy() for name, col in live.items()} if copy else live

    @classmethod
    def from_columns(cls, aggregates: frozenset[Aggregate], columns: dict[str, Column]) -> ArchiveState:
        """A state holding ``columns`` (as returned by :meth:`live_columns`; keys sorted, unique)."""
        state = cls(aggregates, capacity=max(_MIN_CAPACITY, 2 * int(columns["key"].shape[0])))
        missing = set(state.names) - set(columns)
        if missing:
            raise ValueError(f"snapshot lacks columns {sorted(missing)}")
        n = int(columns["key"].shape[0])
        order = np.argsort(columns["key"], kind="stable")
        for name in state.names:
            col = np.asarray(columns[name], dtype=_dtype(name))
            if col.shape != (n,):
                raise ValueError(f"snapshot column {name} has shape {col.shape}, expected ({n},)")
            state.columns[name][:n] = col[order]
        keys = state.columns["key"][:n]
        if n > 1 and not bool(np.all(keys[1:] > keys[:-1])):
            raise ValueError("snapshot holds the same window twice")
        state.tail = n
        status = state.columns["status"][:n]
        pending = np.flatnonzero(status != HELD)
        state.clean = int(pending[0]) if pending.shape[0] else n
        return state


def _dtype(name: str) -> type[np.generic]:
    if name == "status":
        return np.uint8
    if name == "key" or name in INT_COLUMNS:
        return np.int64
    return np.float64
