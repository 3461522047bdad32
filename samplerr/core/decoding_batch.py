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


def example_text(line: bytes) -> str:
    """A rejected line as a short printable text: at most ~200 characters, invalid UTF-8 escaped."""
    text = bytes(line[: EXAMPLE_CHARS * 4]).decode("utf-8", "backslashreplace").rstrip("\r\n")
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


class BatchBuilder:
    """Event columns filled either one event at a time (the list attributes) or by whole columns."""

    __slots__ = ("_columns", "examples", "rejected", "series", "times", "values")

    def __init__(self) -> None:
        self.series: list[int] = []
        self.times: list[int] = []
        self.values: list[float] = []
        self.rejected: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self._columns: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []

    def reject(self, reason: str, line: bytes, count: int = 1) -> None:
        self.rejected[reason] += count
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES_PER_REASON:
            kept.append(example_text(line))

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
        return batch
