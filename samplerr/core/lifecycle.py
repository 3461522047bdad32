"""The lifecycle planner: existing indices + current aliases + archives + now → a :class:`Plan`.

Pure: the plan depends on its arguments only (a clock going backwards between runs is just
another ``now``). The rules (ARCHITECTURE §5), as this module applies them:

* **classification** — an index belongs to archive ``k`` when its name is exactly
  ``index_prefix + tf_k.format(period)``; a name no archive (or more than one) reads is unknown.
* **kept** — an index is kept when its period is current or future, when it is unexpired
  (period end + ttl > now), or when it is the only copy of data some archive's policy still keeps:
  for an instant ``t`` kept by archive ``j``, the copy that counts is an index at least as fine as
  ``j`` (an unexpired one if any, else the coarsest of them), else the finest coarser one.
* **holds data** — an index of a past period with ``docs == 0`` (and no extent) holds nothing: it
  serves nothing and is no copy of anything (it is still kept while unexpired).
* **data extent** — an index may report the smallest and largest ``@timestamp`` of its documents
  (``IndexInfo.first_s``/``last_s``). It then holds data only in ``[first, last]`` rounded out to its
  archive's step (``first`` down to a multiple of the step, ``last + step`` up to one: a document
  stamped ``last`` stands for its window), cut to its period. The *kept* rule looks only at the
  instants where some expired index holds data: an instant where none does needs no copy (so a
  week reaching into a year without data is not the only copy of that year's last days). At the
  instants it looks at, the rule is unchanged, and an index counts as a copy over its whole period
  as before: extents are not used to doubt a copy, because a sparse index's last document (say at
  23:00 on the month's last day) would then seem to leave the rest of its period to a finer index
  whose extent runs on across it. So extents only ever release an expired index where no expired
  index holds data, never keep more than before. An unknown extent, or one not inside the index's
  period (reported as a problem), is taken as the whole period, as before.
* **best cover** — each instant is served by the kept index holding data of the finest archive
  whose period contains it. Every other index is reached by no alias at that instant.
* **aliases** — for each archive ``j`` and each of its periods ``Q`` that holds served instants and
  starts at or before now (or is the period of a kept index of ``j``), the alias
  ``alias_prefix + tf_j(Q)`` targets every index serving part of ``Q``, filtered to exactly that
  part, unfiltered only when the index serves its whole own period inside ``Q``. So any set of
  aliases searched together (their filters OR-ed per index, an unfiltered one winning) returns
  each instant once, from the index serving it. The best cover and the aliases are built on
  periods, never on extents: an extent is a snapshot (late or backfilled documents move it), so
  filters built on it would hide data written after the rotation and change at every run; and an
  index that holds nothing at an instant returns nothing there through its alias anyway.

Timeline of the default archives (20 s daily kept 2 d, 10 min monthly kept 2 mo, 1 h yearly kept
10 y) at 2026-11-22T10:00Z, with the daily indices of 11-20 .. 11-22 and the monthly index of
November present::

    yearly   .samplerr-2026     |=====================================================|
    monthly  .samplerr-2026.11               |==========================|
    daily    11-20, 11-21, 11-22                        |20|21|22|
    served by                   | Y ...     | M          |20|21|22| M     | Y (December) |
                                2026-01-01  11-01      11-20     11-23  12-01      2027-01-01

so the alias ``samplerr-2026.11`` targets M filtered to [11-01, 11-20) and [11-23, 12-01) and the
three daily indices unfiltered, and ``samplerr-2026.11.19`` targets M filtered to that day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from samplerr.core.config import Archive
from samplerr.core.lifecycle_model import (
    AliasAction,
    AliasInfo,
    AliasTarget,
    ClassifiedIndex,
    Decision,
    DesiredAlias,
    IndexInfo,
    Plan,
    Segment,
    UnknownIndex,
    coverage,
    filter_text,
    summary,
)
from samplerr.core.lifecycle_policy import expires_at, is_expired, retained_spans
from samplerr.core.lifecycle_spans import (
    END_OF_TIME,
    MIN_EPOCH,
    Span,
    Spans,
    contains,
    intersect,
    iso,
    normalize,
    span_text,
    spans_filter,
)
from samplerr.core.periods import Period

__all__ = [
    "AliasAction",
    "AliasInfo",
    "AliasTarget",
    "ClassifiedIndex",
    "Decision",
    "DesiredAlias",
    "IndexInfo",
    "Plan",
    "Segment",
    "UnknownIndex",
    "classify",
    "coverage",
    "data_extent",
    "filter_text",
    "next_period_indices",
    "plan_lifecycle",
    "summary",
]


def classify(
    archives: Sequence[Archive], index_prefix: str, indices: Iterable[IndexInfo]
) -> tuple[tuple[ClassifiedIndex, ...], tuple[UnknownIndex, ...]]:
    """Split the indices under ``index_prefix`` into classified and unknown ones (sorted by name)."""
    classified: list[ClassifiedIndex] = []
    unknown: list[UnknownIndex] = []
    for info in sorted({info.name: info for info in indices}.values(), key=lambda info: info.name):
        if not info.name.startswith(index_prefix):
            continue
        suffix = info.name[len(index_prefix) :]
        matches: list[tuple[int, Period]] = []
        for number, archive in enumerate(archives):
            period = archive.tf.parse(suffix)
            if period is not None and archive.tf.format(period.start) == suffix:
                matches.append((number, period))
        if not matches:
            unknown.append(UnknownIndex(info.name, "unknown name: no archive's tf reads it"))
        elif len(matches) > 1:
            tfs = " and ".join(str(archives[number].tf) for number, _ in matches)
            unknown.append(UnknownIndex(info.name, f"unknown name: ambiguous, both {tfs} read it"))
        elif not MIN_EPOCH <= matches[0][1].start < matches[0][1].end < END_OF_TIME:
            unknown.append(UnknownIndex(info.name, "unknown name: period outside the years 0001-9999"))
        else:
            number, period = matches[0]
            archive = archives[number]
            classified.append(
                ClassifiedIndex(
                    info.name,
                    number,
                    period,
                    expires_at(archive, period),
                    info.docs,
                    info.first_s,
                    info.last_s,
                    data_extent(archive, period, info.first_s, info.last_s),
                )
            )
    return tuple(classified), tuple(unknown)


def data_extent(archive: Archive, period: Period, first_s: int | None, last_s: int | None) -> Span | None:
    """The part of ``period`` an index of ``archive`` with data in ``[first_s, last_s]`` holds data in.

    From ``first_s`` rounded down to a multiple of the step, to ``last_s + step`` rounded up to one
    (the document stamped ``last_s`` stands for the window that starts there), cut to the period.
    ``None`` — take the whole period — when a bound is unknown, ``first_s > last_s``, or the extent
    is not inside the period (documents the name does not account for: nothing is trusted then).
    """
    if first_s is None or last_s is None or not period.start <= first_s <= last_s < period.end:
        return None
    step = max(archive.step, 1)
    start = max(first_s - first_s % step, period.start)
    end = min(-(-(last_s + step) // step) * step, period.end)
    return start, end


def _extent_text(epoch_s: int) -> str:
    return iso(epoch_s) if MIN_EPOCH <= epoch_s < END_OF_TIME else f"{epoch_s} s"


def _extent_problems(classified: Iterable[ClassifiedIndex]) -> list[str]:
    return [
        f"index {index.name} reports data from {_extent_text(index.first_s)} "
        f"to {_extent_text(index.last_s)}, "
        f"not inside its period {span_text((index.period.start, index.period.end))}: its extent is ignored "
        "(taken as holding data over its whole period)"
        for index in classified
        if index.first_s is not None and index.last_s is not None and index.data is None
    ]


@dataclass(frozen=True, slots=True)
class _Catalogue:
    """The classified indices holding data, by archive and period."""

    archives: Sequence[Archive]
    by_period: tuple[dict[Period, ClassifiedIndex], ...]

    @classmethod
    def of(cls, archives: Sequence[Archive], indices: Iterable[ClassifiedIndex]) -> _Catalogue:
        by_period: tuple[dict[Period, ClassifiedIndex], ...] = tuple({} for _ in archives)
        for index in indices:
            by_period[index.archive][index.period] = index
        return cls(archives, by_period)

    def at(self, instant: int) -> list[ClassifiedIndex | None]:
        """For each archive, its index whose period holds ``instant`` (or ``None``)."""
        return [
            found.get(archive.tf.period_of(instant)) if found else None
            for archive, found in zip(self.archives, self.by_period, strict=True)
        ]

    def boundaries(self) -> list[int]:
        return sorted({edge for found in self.by_period for p in found for edge in (p.start, p.end)})


def _elementary(boundaries: Iterable[int]) -> list[tuple[int, int]]:
    edges = sorted(set(boundaries))
    return list(pairwise(edges))


def _copy_for(
    archive: int, present: list[ClassifiedIndex | None], expired: set[str]
) -> ClassifiedIndex | None:
    """The index holding archive ``archive``'s kept data at one instant, when it must be an expired one.

    Indices at least as fine as the archive count first: if one is unexpired, nothing more is
    needed; else the coarsest of them is kept. Without any, the finest coarser index is kept.
    """
    fine_enough = [index for index in present[: archive + 1] if index is not None]
    if fine_enough:
        if any(index.name not in expired for index in fine_enough):
            return None
        return fine_enough[-1]
    coarser = [index for index in present[archive + 1 :] if index is not None]
    if coarser and coarser[0].name in expired:
        return coarser[0]
    return None


def _only_copies(
    archives: Sequence[Archive], holding: Sequence[ClassifiedIndex], expired: set[str], now: int
) -> dict[str, list[tuple[int, tuple[int, int]]]]:
    """Expired indices that are the only copy of kept data: name → [(archive keeping it, span)].

    Only the instants where some expired index holds data (its data extent, or its whole period
    when unknown) are looked at; there, the copies count over their whole periods, as always.
    """
    region = normalize(i.data_span for i in holding if i.name in expired)
    if not region:
        return {}
    catalogue = _Catalogue.of(archives, holding)
    kept = [retained_spans(archive, now) for archive in archives]
    edges = [edge for spans in kept for span in intersect(spans, region) for edge in span]
    edges += [edge for span in region for edge in span] + catalogue.boundaries()
    needed: dict[str, list[tuple[int, tuple[int, int]]]] = {}
    for start, end in _elementary(edges):
        if not contains(region, start):
            continue
        present = catalogue.at(start)
        for number, spans in enumerate(kept):
            if contains(spans, start):
                copy = _copy_for(number, present, expired)
                if copy is not None:
                    needed.setdefault(copy.name, []).append((number, (start, end)))
    return needed


def _best_cover(archives: Sequence[Archive], serving: Sequence[ClassifiedIndex]) -> tuple[Segment, ...]:
    """Who serves what: the finest serving index at each instant, adjacent pieces merged."""
    catalogue = _Catalogue.of(archives, serving)
    segments: list[Segment] = []
    for start, end in _elementary(catalogue.boundaries()):
        finest = next((index for index in catalogue.at(start) if index is not None), None)
        if finest is None:
            continue
        last = segments[-1] if segments else None
        if last is not None and last.index == finest.name and last.end == start:
            segments[-1] = Segment(last.start, end, finest.archive, finest.name)
        else:
            segments.append(Segment(start, end, finest.archive, finest.name))
    return tuple(segments)


def _alias_periods(
    archive: Archive, number: int, served: Spans, serving: Sequence[ClassifiedIndex], now: int
) -> list[Period]:
    """The periods of ``archive`` that get an alias: served, and started by now or an own index's."""
    periods = {index.period for index in serving if index.archive == number}
    for start, end in intersect(served, ((MIN_EPOCH, now + 1),)):
        period = archive.tf.period_of(start)
        while period.start < end:
            periods.add(period)
            if period.end >= END_OF_TIME:
                break
            period = archive.tf.next_period(period)
    return sorted(periods, key=lambda period: period.start)


def _alias_targets(
    period: Period, segments: Sequence[Segment], starts: Sequence[int], periods: dict[str, Period]
) -> tuple[AliasTarget, ...]:
    first = max(bisect_right(starts, period.start) - 1, 0)
    last = bisect_left(starts, period.end)
    pieces: dict[str, list[tuple[int, int]]] = {}
    for segment in segments[first:last]:
        start, end = max(segment.start, period.start), min(segment.end, period.end)
        if start < end and segment.index is not None:
            pieces.setdefault(segment.index, []).append((start, end))
    targets: list[AliasTarget] = []
    for name, spans in pieces.items():
        served = normalize(spans)
        own = periods[name]
        whole = served == ((own.start, own.end),)
        targets.append(AliasTarget(name, served, None if whole else spans_filter(served)))
    return tuple(sorted(targets, key=lambda target: target.spans))


def _desired_aliases(
    archives: Sequence[Archive],
    alias_prefix: str,
    serving: Sequence[ClassifiedIndex],
    segments: Sequence[Segment],
    index_names: set[str],
    *,
    now: int,
) -> tuple[tuple[DesiredAlias, ...], list[str]]:
    served = normalize((segment.start, segment.end) for segment in segments)
    starts = [segment.start for segment in segments]
    periods = {index.name: index.period for index in serving}
    by_name: dict[str, DesiredAlias] = {}
    clashes: dict[str, set[int]] = {}
    for number, archive in enumerate(archives):
        for period in _alias_periods(archive, number, served, serving, now):
            name = alias_prefix + archive.tf.format(period.start)
            other = by_name.get(name)
            if other is not None and other.period != period:
                clashes.setdefault(name, {other.archive}).add(number)
            elif other is None:
                targets = _alias_targets(period, segments, starts, periods)
                by_name[name] = DesiredAlias(name, number, period, targets)
    problems = [
        f"alias {name} would name periods of archives "
        + " and ".join(str(archives[number].tf) for number in sorted(numbers))
        + ": left out (make the tfs tell their periods apart)"
        for name, numbers in sorted(clashes.items())
    ]
    problems += [
        f"alias {name} is also the name of an index: left out (use different prefixes)"
        for name in sorted(by_name.keys() & index_names)
    ]
    dropped = clashes.keys() | index_names
    return tuple(by_name[name] for name in sorted(by_name.keys() - dropped)), problems


def _diff(managed: Sequence[AliasInfo], desired: Sequence[DesiredAlias]) -> tuple[AliasAction, ...]:
    current = {(alias.alias, alias.index): alias.filter for alias in managed}
    wanted = {(alias.name, target.index): target.filter for alias in desired for target in alias.targets}
    actions: list[AliasAction] = []
    for key in sorted(current.keys() | wanted.keys()):
        alias, index = key
        if key in current and (key not in wanted or current[key] != wanted[key]):
            actions.append(AliasAction("remove", alias, index))
        if key in wanted and (key not in current or current[key] != wanted[key]):
            actions.append(AliasAction("add", alias, index, wanted[key]))
    return tuple(actions)


def _decide(
    archives: Sequence[Archive],
    classified: Sequence[ClassifiedIndex],
    unknown: Sequence[UnknownIndex],
    expired: set[str],
    only_copies: dict[str, list[tuple[int, tuple[int, int]]]],
    now: int,
) -> tuple[tuple[Decision, ...], tuple[Decision, ...]]:
    kept: list[Decision] = []
    deleted: list[Decision] = []
    for index in classified:
        if index.period.start > now:
            kept.append(Decision(index.name, "future period", f"period starts {iso(index.period.start)}"))
        elif index.period.end > now:
            kept.append(Decision(index.name, "current period", f"period ends {iso(index.period.end)}"))
        elif index.name not in expired:
            kept.append(Decision(index.name, "unexpired", f"expires {iso(index.expires_at)}"))
        elif index.name in only_copies:
            keepers = sorted({number for number, _ in only_copies[index.name]})
            spans = normalize(span for _, span in only_copies[index.name])
            kept.append(
                Decision(
                    index.name,
                    "only copy",
                    "only copy of data archive "
                    + " and ".join(str(archives[number].tf) for number in keepers)
                    + " still keeps: "
                    + ", ".join(span_text(span) for span in spans),
                )
            )
        else:
            ttl = archives[index.archive].ttl
            detail = f"expired {iso(index.expires_at)} (period end + {ttl})"
            if index.data is not None and index.data != (index.period.start, index.period.end):
                detail += f"; holds data in {span_text(index.data)} only"
            deleted.append(Decision(index.name, "expired", detail))
    kept.extend(Decision(index.name, "unknown name", index.reason) for index in unknown)
    return tuple(sorted(kept, key=lambda d: d.index)), tuple(deleted)


def plan_lifecycle(
    archives: Sequence[Archive],
    index_prefix: str,
    alias_prefix: str,
    indices: Iterable[IndexInfo | str],
    aliases: Iterable[AliasInfo],
    *,
    now: int,
) -> Plan:
    """Plan rotate and purge: the desired aliases, the actions reaching them, what to delete."""
    infos = [IndexInfo(info) if isinstance(info, str) else info for info in indices]
    classified, unknown = classify(archives, index_prefix, infos)
    expired = {index.name for index in classified if is_expired(archives[index.archive], index.period, now)}
    holding = [
        index
        for index in classified
        if index.docs is None or index.docs > 0 or index.period.end > now or index.data is not None
    ]
    only_copies = _only_copies(archives, holding, expired, now)
    serving = [index for index in holding if index.name not in expired or index.name in only_copies]
    segments = _best_cover(archives, serving)
    names = {info.name for info in infos}
    desired, problems = _desired_aliases(archives, alias_prefix, serving, segments, names, now=now)
    problems += _extent_problems(classified)
    ours = {index.name for index in classified}
    managed = tuple(
        sorted(
            (alias for alias in aliases if alias.alias.startswith(alias_prefix) and alias.index in ours),
            key=lambda alias: (alias.alias, alias.index),
        )
    )
    problems += [
        f"alias {alias.alias} on {alias.index}, which samplerr does not manage: left alone "
        "(searches through it may return data twice)"
        for alias in sorted(aliases, key=lambda alias: (alias.alias, alias.index))
        if alias.alias.startswith(alias_prefix) and alias.index not in ours
    ]
    kept, deletions = _decide(archives, classified, unknown, expired, only_copies, now)
    return Plan(
        now=now,
        classified=classified,
        unknown=unknown,
        served=segments,
        desired_aliases=desired,
        managed_aliases=managed,
        actions=_diff(managed, desired),
        kept=kept,
        deletions=deletions,
        problems=tuple(problems),
    )


def next_period_indices(
    archives: Sequence[Archive], index_prefix: str, now: int, ahead_s: int
) -> tuple[str, ...]:
    """Indices to create ahead: the next period's of each archive whose boundary is within ``ahead_s``."""
    names: list[str] = []
    for archive in archives:
        upcoming = archive.tf.next_period(archive.tf.period_of(now))
        name = index_prefix + archive.tf.format(upcoming.start)
        if upcoming.start - now <= ahead_s and name not in names:
            names.append(name)
    return tuple(names)
