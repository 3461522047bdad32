"""The consolidation state of one input partition, its snapshot, and the series limit.

Each Kafka partition the service owns gets its own :class:`PartitionState`: a
:class:`~samplerr.pipeline.Pipeline` (series registry, decoder, consolidator, renderer) and the offset
up to which it has consumed. Keeping partitions apart is what makes results deterministic: Kafka
orders messages within a partition only, and the watermark of a partition's consolidator depends only
on that partition's messages, never on how partitions interleave or on restarts. It also makes a
partition's state movable with the partition (checkpoints are per partition).

A snapshot (:meth:`PartitionState.snapshot`) is::

    b"samplerr-state 2\\n" + header JSON line + consolidator snapshot

where the header holds the configuration fingerprint and the key of every series that has state
(open or held windows), with the id the snapshot uses for it. Restoring interns those keys in a fresh
registry and renumbers the snapshot's series, so series without state are gone: the same round trip
(:meth:`PartitionState.compact`) is how idle series are evicted while running.

The series limit (``[service] max_series``) counts live series over every partition; events of a new
series beyond it are refused as ``series_limit`` (counted and logged, like bad input).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from typing import Final

import numpy as np
import orjson

from samplerr.core.config import Config, InputFormat
from samplerr.core.consolidation import Consolidator
from samplerr.core.errors import SamplerrError
from samplerr.core.events import EventBatch, SeriesKey, SeriesRegistry
from samplerr.pipeline import BulkBody, Pipeline

STATE_MAGIC: Final = b"samplerr-state 2\n"
SERIES_LIMIT: Final = "series_limit"


class StateError(SamplerrError):
    """A partition state cannot be restored (damaged, or from another configuration)."""


def state_fingerprint(config: Config, fmt: InputFormat) -> str:
    """What a snapshot depends on: archive steps and cfuncs, the series settings, the input format.

    Lateness, hold times, index names and the layout may change between runs; these may not.
    """
    series = config.series
    data = {
        "archives": [[a.step, sorted(a.cfuncs)] for a in config.archives],
        "key": list(series.key) if series.key is not None else None,
        "include": {k: list(v) for k, v in sorted(series.include.items())},
        "exclude": {k: list(v) for k, v in sorted(series.exclude.items())},
        "format": fmt,
    }
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class PartitionState:
    """One partition's pipeline and consumption progress (see the module docstring)."""

    def __init__(self, config: Config, fmt: InputFormat, pipeline: Pipeline | None = None) -> None:
        self.config = config
        self.fmt = fmt
        self.pipeline = pipeline if pipeline is not None else Pipeline(config, fmt)
        self.next_offset: int | None = None  # every message before it has been fed
        self.start_offset: int | None = None  # where consumption started, when known
        self.checkpoint_offset: int | None = None  # offset of the last checkpoint saved or restored
        self.generation = 0  # of the last checkpoint saved or restored
        self.events = 0
        self.rejected: Counter[str] = Counter()
        self.keep_rejected = False  # keep the lines rejected by each feed (for a dead-letter topic)
        self.rejected_lines: list[tuple[str, bytes]] = []  # (reason, line) of the last feed
        self.last_fed = time.monotonic()
        self.late_reported = (0, 0)  # late events (merged, dropped) already in the metrics
        self._refuse_from: int | None = None  # series ids from here on are refused (series limit)

    # -- input ----------------------------------------------------------------------------------------

    def feed(self, data: bytes, room: int) -> int:
        """Decode and consolidate newline-separated lines; at most ``room`` new series are admitted.

        Returns the number of events refused by the series limit.
        """
        pipe = self.pipeline
        before = len(pipe.registry)
        pipe.decoder.keep_rejected = self.keep_rejected
        batch = pipe.decoder.decode_buffer(data)
        self.rejected_lines = batch.rejected_lines
        refused = 0
        limit = before + max(0, room)
        if self._refuse_from is not None:
            limit = min(limit, self._refuse_from)
        if len(pipe.registry) > limit and len(batch):
            keep = batch.series < limit
            refused = len(batch) - int(np.count_nonzero(keep))
            if refused:
                batch = EventBatch(
                    batch.series[keep], batch.times_ms[keep], batch.values[keep], batch.rejected
                )
                batch.rejected[SERIES_LIMIT] += refused
            self._refuse_from = limit
        self.events += len(batch)
        self.rejected.update(batch.rejected)
        if len(batch):
            pipe.consolidator.add(batch)
        self.last_fed = time.monotonic()
        return refused

    # -- output ---------------------------------------------------------------------------------------

    def collect(self, now_s: float | None = None) -> list[BulkBody]:
        return self.pipeline.collect(now_s)

    def finish(self) -> list[BulkBody]:
        return self.pipeline.finish()

    @property
    def position(self) -> int | None:
        """The next offset to read, when known (for the lag)."""
        return self.next_offset if self.next_offset is not None else self.start_offset

    @property
    def series_count(self) -> int:
        """Series known to the registry (with state, or seen since the last compaction)."""
        return len(self.pipeline.registry)

    def live_series(self) -> int:
        """Series with open or held windows (costs a pass over the state)."""
        return int(self.pipeline.consolidator.series_ids().shape[0])

    # -- snapshots ------------------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The state as bytes (see the module docstring)."""
        pipe = self.pipeline
        key_of = pipe.registry.key
        header = {
            "fingerprint": state_fingerprint(self.config, self.fmt),
            "series": [[sid, key_of(sid)] for sid in pipe.consolidator.series_ids().tolist()],
        }
        return b"".join((STATE_MAGIC, orjson.dumps(header), b"\n", pipe.consolidator.snapshot()))

    @classmethod
    def restore(cls, config: Config, fmt: InputFormat, data: bytes) -> PartitionState:
        """A state continuing from :meth:`snapshot` ``data``; raises :class:`StateError`."""
        if not data.startswith(STATE_MAGIC):
            raise StateError("not a samplerr partition state")
        try:
            body = data[len(STATE_MAGIC) :]
            end = body.index(b"\n")
            header = orjson.loads(body[:end])
            fingerprint = str(header["fingerprint"])
            series: list[tuple[int, SeriesKey]] = [
                (int(sid), tuple((str(f), str(v)) for f, v in key)) for sid, key in header["series"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"partition state is damaged: {exc}") from exc
        if fingerprint != state_fingerprint(config, fmt):
            raise StateError(
                "partition state was saved with other archives (steps or cfuncs), [series] settings or "
                "input format than the configuration has now"
            )
        registry = SeriesRegistry()
        size = max((sid for sid, _ in series), default=-1) + 1
        series_map = np.full(size, -1, dtype=np.int64)
        for sid, key in series:
            series_map[sid] = registry.intern(key)
        try:
            consolidator = Consolidator.restore(
                body[end + 1 :], config.archives, config.consolidation, series_map
            )
        except ValueError as exc:  # unreadable, or taken with other archives
            raise StateError(f"partition state cannot be restored: {exc}") from exc
        return cls(config, fmt, Pipeline(config, fmt, registry, consolidator))

    def compact(self) -> int:
        """Forget series without state (renumbering the others); returns how many were forgotten."""
        before = len(self.pipeline.registry)
        fresh = PartitionState.restore(self.config, self.fmt, self.snapshot())
        self.pipeline = fresh.pipeline
        self._refuse_from = None
        return before - len(self.pipeline.registry)

