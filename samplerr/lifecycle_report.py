"""What ``samplerr status``, ``rotate`` and ``purge`` report, as plain records and JSON.

Built from a :class:`~samplerr.lifecycle_ops.LifecycleState` and the plan at ``now``; printed as
tables by :mod:`samplerr.commands.lifecycle`, drawn by :mod:`samplerr.plot`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from samplerr.core.config import Config
from samplerr.core.lifecycle import Decision, Plan, Segment, coverage, summary
from samplerr.core.lifecycle_spans import Spans, iso, normalize
from samplerr.lifecycle_ops import LifecycleState, PurgeResult, RotateResult


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """One classified index: its period, contents, expiry, what the plan decides and what it serves."""

    name: str
    archive: int
    start: int
    end: int
    docs: int
    size_bytes: int
    expires_at: int
    decision: str  # "keep" or "delete"
    reason: str
    detail: str
    serves: Spans
    first_s: int | None = None  # data extent: min/max @timestamp, None when unknown
    last_s: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = None
        if self.first_s is not None and self.last_s is not None:
            data = {"first": _iso_or_seconds(self.first_s), "last": _iso_or_seconds(self.last_s)}
        return {
            "index": self.name,
            "period": {"start": iso(self.start), "end": iso(self.end)},
            "data": data,
            "docs": self.docs,
            "size_bytes": self.size_bytes,
            "expires": iso(self.expires_at),
            "decision": self.decision,
            "reason": self.reason,
            "detail": self.detail,
            "serves": [{"start": iso(start), "end": iso(end)} for start, end in self.serves],
        }


def _iso_or_seconds(epoch_s: int) -> str | int:
    try:
        return iso(epoch_s)
    except ValueError:  # outside the years 0001-9999: a stray document
        return epoch_s


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    number: int
    tf: str
    step_seconds: int
    ttl: str
    indices: tuple[IndexStatus, ...]

    @property
    def docs(self) -> int:
        return sum(index.docs for index in self.indices)

    @property
    def size_bytes(self) -> int:
        return sum(index.size_bytes for index in self.indices)

    def as_dict(self) -> dict[str, Any]:
        return {
            "archive": self.number,
            "tf": self.tf,
            "step_seconds": self.step_seconds,
            "ttl": self.ttl,
            "docs": self.docs,
            "size_bytes": self.size_bytes,
            "indices": [index.as_dict() for index in self.indices],
        }


@dataclass(frozen=True, slots=True)
class UnknownStatus:
    name: str
    reason: str
    docs: int
    size_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.name, "reason": self.reason, "docs": self.docs, "size_bytes": self.size_bytes}


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: int
    index_prefix: str
    alias_prefix: str
    archives: tuple[ArchiveStatus, ...]
    unknown: tuple[UnknownStatus, ...]
    coverage: tuple[Segment, ...]
    aliases: int  # (alias, index) pairs under alias_prefix now
    pending_actions: int  # what `samplerr rotate` would send
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": iso(self.now),
            "index_prefix": self.index_prefix,
            "alias_prefix": self.alias_prefix,
            "archives": [archive.as_dict() for archive in self.archives],
            "unknown": [index.as_dict() for index in self.unknown],
            "coverage": [segment_dict(segment) for segment in self.coverage],
            "aliases": {"current": self.aliases, "pending_actions": self.pending_actions},
            "problems": list(self.problems),
        }


def segment_dict(segment: Segment) -> dict[str, Any]:
    return {
        "start": iso(segment.start),
        "end": iso(segment.end),
        "archive": segment.archive,
        "index": segment.index,
    }


def status_report(config: Config, state: LifecycleState, plan: Plan) -> StatusReport:
    """Per archive its indices (period, documents, size, expiry, decision), unknown ones, coverage."""
    decisions = {d.index: ("keep", d) for d in plan.kept} | {d.index: ("delete", d) for d in plan.deletions}
    serves: dict[str, list[tuple[int, int]]] = {}
    for segment in plan.served:
        if segment.index is not None:
            serves.setdefault(segment.index, []).append((segment.start, segment.end))
    infos = {info.name: info for info in state.indices}
    by_archive: list[list[IndexStatus]] = [[] for _ in config.archives]
    for index in plan.classified:
        info = infos.get(index.name)
        decision, why = decisions[index.name]
        by_archive[index.archive].append(
            IndexStatus(
                name=index.name,
                archive=index.archive,
                start=index.period.start,
                end=index.period.end,
                docs=info.docs if info else 0,
                size_bytes=info.size_bytes if info else 0,
                expires_at=index.expires_at,
                decision=decision,
                reason=why.reason,
                detail=why.detail,
                serves=normalize(serves.get(index.name, ())),
                first_s=index.first_s,
                last_s=index.last_s,
            )
        )
    archives = tuple(
        ArchiveStatus(
            number=number,
            tf=archive.tf.pattern,
            step_seconds=archive.step,
            ttl=str(archive.ttl),
            indices=tuple(sorted(found, key=lambda index: index.start)),
        )
        for number, (archive, found) in enumerate(zip(config.archives, by_archive, strict=True))
    )
    unknown = tuple(
        UnknownStatus(
            index.name,
            index.reason,
            infos[index.name].docs if index.name in infos else 0,
            infos[index.name].size_bytes if index.name in infos else 0,
        )
        for index in plan.unknown
    )
    return StatusReport(
        now=plan.now,
        index_prefix=config.elasticsearch.index_prefix,
        alias_prefix=config.elasticsearch.alias_prefix,
        archives=archives,
        unknown=unknown,
        coverage=until_now(coverage(plan), plan.now),
        aliases=len(state.aliases),
        pending_actions=len(plan.actions),
        problems=plan.problems,
    )


def until_now(segments: tuple[Segment, ...], now: int) -> tuple[Segment, ...]:
    """The coverage from the oldest data to ``now`` (the served parts of current periods stop there)."""
    return tuple(
        Segment(segment.start, min(segment.end, now), segment.archive, segment.index)
        for segment in segments
        if segment.start < now
    )


def decision_dict(decision: Decision) -> dict[str, str]:
    return {"index": decision.index, "reason": decision.reason, "detail": decision.detail}


def purge_json(result: PurgeResult) -> dict[str, Any]:
    """``{"delete": [names], "keep": [{"index", "reason", "detail"}], "rotate": {"actions": [...]}}``."""
    return {
        "delete": [decision.index for decision in result.deleted],
        "keep": [decision_dict(decision) for decision in result.kept],
        "rotate": result.rotation.plan.body(),
    }


@dataclass(frozen=True, slots=True)
class RotateCounts:
    added: int
    removed: int
    changed: int  # (alias, index) pairs whose filter changes: one remove and one add each
    unchanged: int


def rotate_counts(result: RotateResult) -> RotateCounts:
    rows = summary(result.plan)
    adds = {(row.alias, row.index) for row in rows if row.change == "add"}
    removes = {(row.alias, row.index) for row in rows if row.change == "remove"}
    return RotateCounts(
        added=len(adds - removes),
        removed=len(removes - adds),
        changed=len(adds & removes),
        unchanged=sum(1 for row in rows if row.change == "keep"),
    )
