"""Accumulates one decode call's events and rejections, then hands them over as an EventBatch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from samplerr.core.events import EventBatch

EXAMPLES_PER_REASON: Final = 3
EXAMPLE_CHARS: Final = 200
# Rejections that are no input error: counted, but a line rejected only for them is not kept
# (a string field of Telegraf is normal; ``filtered`` is on purpose).
NOT_ERRORS: Final = frozenset({"filtered", "not_numeric"})


def example_text(line: bytes) -> str:
    """A rejected line as a short printable text: at most ~200 characters, invalid UTF-8 escaped."""
    text = bytes(line[: EXAMPLE_CHARS * 4]).decode("utf-8", "backslashreplace").rstrip("\r\n")
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


class BatchBuilder:
    """Event columns filled either one event at a time (the list attributes) or by whole columns.

    With ``keep_rejected``, :attr:`rejected_lines` receives every line rejected for an input error
    (a reason not in :data:`NOT_ERRORS`), once, with that reason: decoders that reject several events
    of one line call :meth:`reject_line` (or keep the first entry of the line themselves).
    """

    __slots__ = (
        "_columns",
        "examples",
        "keep_rejected",
        "rejected",
        "rejected_lines",
        "series",
        "times",
        "values",
    )

    def __init__(self, *, keep_rejected: bool = False) -> None:
        self.series: list[int] = []
        self.times: list[int] = []
        self.values: list[float] = []
        self.rejected: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.keep_rejected = keep_rejected
        self.rejected_lines: list[tuple[str, bytes]] = []
        self._columns: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []

    def reject(self, reason: str, line: bytes, count: int = 1) -> None:
        self.rejected[reason] += count
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES_PER_REASON:
            kept.append(example_text(line))
        if self.keep_rejected and reason not in NOT_ERRORS:
            self.rejected_lines.append((reason, line))

    def reject_line(self, reasons: Sequence[str], line: bytes) -> None:
        """Rejections of several events of one ``line``; it is kept once, with its first error."""
        for reason in reasons:
            self.rejected[reason] += 1
            kept = self.examples.setdefault(reason, [])
            if len(kept) < EXAMPLES_PER_REASON:
                kept.append(example_text(line))
        if self.keep_rejected:
            for reason in reasons:
                if reason not in NOT_ERRORS:
                    self.rejected_lines.append((reason, line))
                    break

    def keep_line(self, reason: str, line: bytes) -> None:
        """Keep ``line`` as rejected for ``reason`` (already counted, e.g. by :meth:`reject_many`)."""
        if self.keep_rejected and reason not in NOT_ERRORS:
            self.rejected_lines.append((reason, line))

    def reject_many(self, reason: str, count: int, lines: Sequence[bytes]) -> None:
        """Count ``count`` rejections for ``reason``; ``lines`` are examples of them."""
        self.rejected[reason] += count
        kept = self.examples.setdefault(reason, [])
        for line in lines[: EXAMPLES_PER_REASON - len(kept)]:
            kept.append(example_text(line))

    def add_columns(
        self, series: npt.NDArray[np.int64], times: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
    ) -> None:
        self._flush()
        if len(series):
            self._columns.append((series, times, values))

    def _flush(self) -> None:
        if self.series:
            self._columns.append(
                (
                    np.array(self.series, dtype=np.int64),
                    np.array(self.times, dtype=np.int64),
                    np.array(self.values, dtype=np.float64),
                )
            )
            self.series, self.times, self.values = [], [], []

    def build(self) -> EventBatch:
        self._flush()
        if not self._columns:
            batch = EventBatch.empty()
        elif len(self._columns) == 1:
            batch = EventBatch(*self._columns[0])
        else:
            batch = EventBatch(
                np.concatenate([series for series, _, _ in self._columns]),
                np.concatenate([times for _, times, _ in self._columns]),
                np.concatenate([values for _, _, values in self._columns]),
            )
        batch.rejected = self.rejected
        batch.reject_examples = self.examples
        batch.rejected_lines = self.rejected_lines
        return batch
