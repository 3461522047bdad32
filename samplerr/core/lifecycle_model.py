"""The lifecycle plan's records (all frozen) and the views the CLI prints from them.

:func:`samplerr.core.lifecycle.plan_lifecycle` builds a :class:`Plan`; ``rotate`` sends
``plan.body()`` as one ``POST _aliases``, ``purge`` deletes ``plan.deletions``, ``status`` prints
:func:`coverage` and :func:`summary`. Archives are numbered by their position in the
configuration (0 is the finest).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from samplerr.core.lifecycle_spans import Span, Spans, filter_spans, span_text
from samplerr.core.periods import Period

Change = Literal["add", "remove", "keep"]
# Why an index is kept; an index is deleted only for the reason "expired".
KeepReason = Literal["future period", "current period", "unexpired", "only copy", "unknown name"]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """An existing index; ``docs=None`` when its document count is unknown.

    ``first_s``/``last_s``: its data extent, the smallest and largest ``@timestamp`` of its documents
    in epoch seconds (rounded down), ``None`` when unknown (or when it has no documents).
    """

    name: str
    docs: int | None = None
    first_s: int | None = None
    last_s: int | None = None


@dataclass(frozen=True, slots=True)
class AliasInfo:
    """One alias on one index, as Elasticsearch reports it (``filter=None`` when unfiltered)."""

    alias: str
    index: str
    filter: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ClassifiedIndex:
    """An index whose name is exactly ``index_prefix + tf(period)`` of one archive."""

    name: str
    archive: int
    period: Period
    expires_at: int  # period end + ttl: expired when this is at or before now
    docs: int | None
    first_s: int | None = None  # the data extent as reported (see IndexInfo)
    last_s: int | None = None
    # The part of its period it may hold data in: the extent rounded out to the archive's step, or
    # None when the extent is unknown or not inside the period (then: the whole period).
    data: Span | None = None

    @property
    def data_span(self) -> Span:
        """Where it may hold data: the rounded extent when known, else its whole period."""
        return self.data if self.data is not None else (self.period.start, self.period.end)


@dataclass(frozen=True, slots=True)
class UnknownIndex:
    """An index under the prefix that names no archive's period: reported, never touched."""

    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class AliasTarget:
    """One index of an alias: the part of the alias's period it serves, and the filter saying so."""

    index: str
    spans: Spans
    filter: Mapping[str, Any] | None  # None when the index serves its whole period


@dataclass(frozen=True, slots=True)
class DesiredAlias:
    """The alias of one archive's period and the indices that serve it, finest data first."""

    name: str
    archive: int
    period: Period
    targets: tuple[AliasTarget, ...]


@dataclass(frozen=True, slots=True)
class AliasAction:
    """One entry of the ``POST _aliases`` body."""

    op: Literal["add", "remove"]
    alias: str
    index: str
    filter: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"index": self.index, "alias": self.alias}
        if self.op == "add" and self.filter is not None:
            fields["filter"] = self.filter
        return {self.op: fields}


@dataclass(frozen=True, slots=True)
class Decision:
    """Why an index is kept (``reason`` is a :data:`KeepReason`) or deleted (``"expired"``)."""

    index: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start, end)`` is served by ``index`` of ``archive``; both ``None`` in a gap."""

    start: int
    end: int
    archive: int | None
    index: str | None


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """One alias on one index, for ``rotate --dry-run`` and ``status``."""

    alias: str
    index: str
    range: str
    change: Change


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything rotate, purge and status need, computed from the inputs alone."""

    now: int
    classified: tuple[ClassifiedIndex, ...]
    unknown: tuple[UnknownIndex, ...]
    served: tuple[Segment, ...]  # the best cover, oldest first, without gaps
    desired_aliases: tuple[DesiredAlias, ...]
    managed_aliases: tuple[AliasInfo, ...]  # the current samplerr aliases (on classified indices)
    actions: tuple[AliasAction, ...]
    kept: tuple[Decision, ...]
    deletions: tuple[Decision, ...]
    problems: tuple[str, ...]  # things a human should look at (ambiguous names, foreign aliases …)

    @property
    def classification(self) -> dict[str, tuple[int, Period] | None]:
        """Each index under the prefix: (archive, period), or ``None`` when unknown."""
        found: dict[str, tuple[int, Period] | None] = {
            index.name: (index.archive, index.period) for index in self.classified
        }
        found.update((index.name, None) for index in self.unknown)
        return found

    def desired_alias_map(self) -> dict[str, dict[str, Mapping[str, Any] | None]]:
        """Alias name → index → filter, the state ``actions`` lead to."""
        return {
            alias.name: {target.index: target.filter for target in alias.targets}
            for alias in self.desired_aliases
        }

    def body(self) -> dict[str, Any]:
        """The exact ``POST _aliases`` request body."""
        return {"actions": [action.to_json() for action in self.actions]}


def filter_text(query: Mapping[str, Any] | None) -> str:
    """A readable range for an alias filter: ``whole index``, spans, or the raw filter."""
    if query is None:
        return "whole index"
    spans = filter_spans(query)
    if spans is None:
        return f"other filter {dict(query)}"
    return ", ".join(span_text(span) for span in spans)


def summary(plan: Plan) -> tuple[SummaryRow, ...]:
    """One row per (alias, index) the plan adds, removes or keeps; a changed filter is remove + add."""
    current = {(alias.alias, alias.index): alias.filter for alias in plan.managed_aliases}
    changed = {(action.alias, action.index) for action in plan.actions}
    rows: list[SummaryRow] = [
        SummaryRow(
            action.alias,
            action.index,
            filter_text(action.filter if action.op == "add" else current.get((action.alias, action.index))),
            action.op,
        )
        for action in plan.actions
    ]
    rows.extend(
        SummaryRow(alias.name, target.index, filter_text(target.filter), "keep")
        for alias in plan.desired_aliases
        for target in alias.targets
        if (alias.name, target.index) not in changed
    )
    order = {"remove": 0, "add": 1, "keep": 1}
    return tuple(sorted(rows, key=lambda row: (row.alias, row.index, order[row.change])))


def coverage(plan: Plan) -> tuple[Segment, ...]:
    """The served timeline with its gaps, from the oldest kept data to the newest (or to now)."""
    segments: list[Segment] = []
    for segment in plan.served:
        if segments and segments[-1].end < segment.start:
            segments.append(Segment(segments[-1].end, segment.start, None, None))
        segments.append(segment)
    if segments and segments[-1].end < plan.now:
        segments.append(Segment(segments[-1].end, plan.now, None, None))
    return tuple(segments)
