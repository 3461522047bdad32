"""Properties of the lifecycle planner over random archives, indices, aliases and clocks.

The oracles here are written independently of the planner: expiry with ``Duration.add_to``, the
best cover by scanning every kept index, filters read with ``datetime.fromisoformat``, and
Elasticsearch's alias semantics simulated as documented (the filters of the aliases searched
are OR-ed per index; an unfiltered alias, or the index itself, drops them all).

The world holds documents: each index drawn gets a few document timestamps (windows of its
archive's step, none in the future), and the planner is told the document count and the data
extent (min/max ``@timestamp``) derived from them — or not (unknown), and now and then an extent
made wrong by a stray document outside the index's period, which the planner must not trust.
An expired index is taken to hold data from its first to its last document (the planner cannot see
holes between them), or over its whole period when its extent is unknown or untrusted; an index
kept as a copy is taken to be complete over its period, as the planner does.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from samplerr.core.config import Archive
from samplerr.core.durations import parse_duration
from samplerr.core.lifecycle import AliasInfo, ClassifiedIndex, IndexInfo, Plan, coverage, plan_lifecycle
from samplerr.core.lifecycle_policy import retained_spans
from samplerr.core.lifecycle_spans import filter_spans, intersect, normalize, spans_filter
from samplerr.core.periods import Period, parse_tf

IP, AP = ".p-", "p-"
TF = {"hour": "YYYY.MM.DD.HH", "day": "YYYY.MM.DD", "week": "GGGG-WW", "month": "YYYY.MM", "year": "YYYY"}
TIME_FORMATS = {unit: parse_tf(tf) for unit, tf in TF.items()}
# Unit combinations, finest first; an hourly archive goes with at most weekly ones so that the
# number of aliases (one per hour served) stays small enough for fast examples.
COMBOS = [
    ("hour",),
    ("day",),
    ("hour", "day"),
    ("hour", "week"),
    ("hour", "day", "week"),
    ("day", "week"),
    ("day", "month"),
    ("day", "year"),
    ("day", "month", "year"),
    ("day", "week", "month"),
    ("week", "month", "year"),
    ("month", "year"),
]
TTLS = {
    "hour": ["1h", "2h", "6h", "12h", "30h"],
    "day": ["1d", "2d", "3d", "10d", "1mo"],
    "week": ["1w", "2w", "20d", "1mo", "6w"],
    "month": ["1mo", "2mo", "3mo", "70d"],
    "year": ["1y", "13mo", "400d"],
}
LOW, HIGH = 1_704_067_200, 1_893_456_000  # 2024-01-01 .. 2030-01-01
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Spans = tuple[tuple[int, int], ...]


# --- independent oracles --------------------------------------------------------------------


def read_filter(query: Mapping[str, Any]) -> Spans:
    """The instants a filter selects, read with the standard library."""
    clauses = query["bool"]["should"] if "bool" in query else [query]
    if "bool" in query:
        assert query["bool"] == {"should": clauses, "minimum_should_match": 1}
    spans = []
    for clause in clauses:
        bounds = clause["range"]["@timestamp"]
        assert bounds["format"] == "strict_date_optional_time"
        start = datetime.fromisoformat(bounds["gte"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(bounds["lt"].replace("Z", "+00:00"))
        assert start.tzinfo == UTC
        spans.append((int(start.timestamp()), int(end.timestamp())))
    merged = normalize(spans)
    assert len(merged) == len(spans), "ranges of one filter overlap or touch"
    return merged


def holds_data(index: ClassifiedIndex, now: int) -> bool:
    return index.docs is None or index.docs > 0 or index.period.end > now or index.first_s is not None


def believed(index: ClassifiedIndex, scenario: Scenario, now: int) -> Spans:
    """Where ``index`` holds data, as far as the planner can know: from its first to the end of its last
    document's window when the extent is given and inside its period, else its whole period (or nothing
    when it is known to be empty)."""
    if index.first_s is not None and index.last_s is not None:
        start, end = index.period.start, index.period.end
        if start <= index.first_s and index.last_s < end:
            return scenario.data[index.name]
    return ((index.period.start, index.period.end),) if holds_data(index, now) else ()


def edges_of(spans: Iterable[tuple[int, int]]) -> set[int]:
    return {edge for span in spans for edge in span}


def best_cover(kept: Sequence[ClassifiedIndex]) -> dict[str, Spans]:
    """index → the instants it should serve: the finest kept index holding each instant."""
    edges = sorted(edges_of((i.period.start, i.period.end) for i in kept))
    served: dict[str, list[tuple[int, int]]] = {}
    for start, end in itertools.pairwise(edges):
        holders = [i for i in kept if i.period.start <= start < i.period.end]
        if holders:
            finest = min(holders, key=lambda i: i.archive)
            served.setdefault(finest.name, []).append((start, end))
    return {name: normalize(spans) for name, spans in served.items()}


def search(
    state: Mapping[str, Mapping[str, Mapping[str, Any] | None]], aliases: Iterable[str], periods
) -> dict:
    """What Elasticsearch returns per index when ``aliases`` are searched together."""
    filters: dict[str, list[Mapping[str, Any] | None]] = {}
    for alias in aliases:
        for index, query in state.get(alias, {}).items():
            filters.setdefault(index, []).append(query)
    returned = {}
    for index, queries in filters.items():
        own = ((periods[index].start, periods[index].end),)
        if any(query is None for query in queries):
            returned[index] = own
        else:
            returned[index] = intersect(normalize(s for q in queries for s in read_filter(q)), own)
    return returned


@dataclass(frozen=True)
class Scenario:
    archives: tuple[Archive, ...]
    indices: tuple[IndexInfo, ...]
    aliases: tuple[AliasInfo, ...]
    now: int
    # index → [first document, end of the last one's window), from the simulated documents
    data: Mapping[str, Spans] = dataclasses.field(default_factory=dict)

    def plan(self, now: int | None = None, indices=None, aliases=None) -> Plan:
        return plan_lifecycle(
            self.archives,
            IP,
            AP,
            self.indices if indices is None else indices,
            self.aliases if aliases is None else aliases,
            now=self.now if now is None else now,
        )


# --- strategies ---------------------------------------------------------------------------------


@st.composite
def archive_sets(draw) -> tuple[Archive, ...]:
    units = draw(st.sampled_from(COMBOS))
    ttls = [parse_duration(draw(st.sampled_from(TTLS[unit]))) for unit in units]
    assume(all(a.approx_seconds() < b.approx_seconds() for a, b in itertools.pairwise(ttls)))
    return tuple(
        Archive(TIME_FORMATS[unit], 10 * 2**k, ttl, ("avg",))
        for k, (unit, ttl) in enumerate(zip(units, ttls, strict=True))
    )


def candidate_periods(archive: Archive, now: int) -> list[Period]:
    """Periods from a few before the oldest the ttl keeps to the one after now's."""
    period = archive.tf.period_of(archive.ttl.subtract_from(now))
    for _ in range(3):
        period = archive.tf.previous_period(period)
    last = archive.tf.next_period(archive.tf.period_of(now))
    found = []
    while period.start <= last.start:
        found.append(period)
        period = archive.tf.next_period(period)
    return found


@st.composite
def scenarios(draw, with_aliases: bool = True) -> Scenario:
    archives = draw(archive_sets())
    now = draw(st.integers(LOW, HIGH))
    how = draw(st.sampled_from(["any", "period start", "expiry"]))
    chosen = draw(st.sampled_from(archives))
    if how == "period start":
        now = chosen.tf.period_of(now).start + draw(st.sampled_from([-1, 0, 1]))
    elif how == "expiry":  # exactly when some index expires (or one second before)
        period = chosen.tf.period_of(chosen.ttl.subtract_from(now))
        now = chosen.ttl.add_to(period.end) - draw(st.sampled_from([0, 1]))
    periods = {archive: candidate_periods(archive, now) for archive in archives}
    for k, archive in enumerate(archives[:-1]):  # leftovers of a finer archive in a coarser one's periods
        for _ in range(draw(st.integers(0, 3))):
            coarser = draw(st.sampled_from(archives[k + 1 :]))
            coarse = draw(st.sampled_from([p for p in periods[coarser] if p.start <= now]))
            instant = draw(st.integers(coarse.start, min(coarse.end, now + 1) - 1))
            periods[archive].append(archive.tf.period_of(instant))
    indices: list[IndexInfo] = []
    data: dict[str, Spans] = {}
    for archive in archives:
        presence = draw(st.integers(1, 4))  # in quarters: some archives miss many indices
        for period in sorted(set(periods[archive])):
            if draw(st.integers(0, 3)) < presence:
                name = IP + archive.tf.format(period.start)
                stamps = draw(documents(archive, period, now))
                docs = draw(st.sampled_from([None, len(stamps)]))
                if stamps and draw(st.booleans()):  # the extent is known
                    first, last = min(stamps), max(stamps)
                    data[name] = ((first, last + archive.step),)
                    if draw(st.integers(0, 9)) == 0:  # a stray document outside the period
                        stray = draw(st.sampled_from([period.start - 1, period.end]))
                        first, last = min(first, stray), max(last, stray)
                    indices.append(IndexInfo(name, docs, first, last))
                else:
                    indices.append(IndexInfo(name, docs))
    junk = draw(st.lists(st.sampled_from([".p-2026.13", ".p-foo", ".p-2026-54", ".p-2025.11.31", "other"])))
    indices += [IndexInfo(name) for name in junk]
    aliases: list[AliasInfo] = []
    if with_aliases and draw(st.booleans()):
        # yesterday's (or an older) desired state, partly damaged, plus aliases samplerr must leave alone
        earlier = now - draw(st.sampled_from([300, 3_600, 86_400, 40 * 86_400]))
        old = plan_lifecycle(archives, IP, AP, indices, [], now=earlier)
        for action in old.actions:
            if draw(st.integers(0, 4)):
                query = draw(st.sampled_from([action.filter, action.filter, None, {"match_all": {}}]))
                aliases.append(AliasInfo(action.alias, action.index, query))
        names = [i.name for i in indices]
        if names:
            aliases.append(AliasInfo("p-junk", draw(st.sampled_from(names))))
            aliases.append(AliasInfo("grafana", draw(st.sampled_from(names))))
        aliases.append(AliasInfo("p-2026.11.22", "other"))
    return Scenario(archives, tuple(indices), tuple(aliases), now, data)


@st.composite
def documents(draw, archive: Archive, period: Period, now: int) -> list[int]:
    """The timestamps (window starts) of an index's documents: none in the future, often none at all."""
    last = min(period.end, now + 1) - 1
    if last < period.start or draw(st.integers(0, 3)) == 0:
        return []
    window = st.integers(period.start, last).map(lambda t: t - t % archive.step)
    stamps = draw(st.lists(window, min_size=1, max_size=4))
    if draw(st.integers(0, 3)) == 0:  # from the period's start to its end (or now)
        stamps += [period.start, last - last % archive.step]
    return stamps


# --- helpers -----------------------------------------------------------------------------------


def kept_holding(plan: Plan) -> list[ClassifiedIndex]:
    deleted = {d.index for d in plan.deletions}
    return [i for i in plan.classified if i.name not in deleted and holds_data(i, plan.now)]


def check_alias_names(scenario: Scenario, plan: Plan) -> None:
    for alias in plan.desired_aliases:
        tf = scenario.archives[alias.archive].tf
        assert alias.period == tf.period_of(alias.period.start)
        assert alias.name == AP + tf.format(alias.period.start)
        assert alias.targets, alias.name


def check_searches(plan: Plan, selections: Iterable[Sequence[str]]) -> None:
    """(1) any set of aliases returns each instant once, from the finest kept index, within the aliases."""
    kept = kept_holding(plan)
    expected = best_cover(kept)
    periods = {i.name: i.period for i in plan.classified}
    state = plan.desired_alias_map()
    alias_periods = {a.name: a.period for a in plan.desired_aliases}
    assert {index for targets in state.values() for index in targets} <= {i.name for i in kept}
    for selected in selections:
        region = normalize((alias_periods[a].start, alias_periods[a].end) for a in selected)
        returned = search(state, selected, periods)
        for index in {i.name for i in kept}:
            want = intersect(expected.get(index, ()), region)
            assert returned.get(index, ()) == want, (selected, index, returned.get(index), want)


def check_everything_served(plan: Plan) -> None:
    """(1b) searching every alias (``samplerr-*``) reaches all kept data."""
    kept = kept_holding(plan)
    expected = best_cover(kept)
    periods = {i.name: i.period for i in plan.classified}
    returned = search(plan.desired_alias_map(), [a.name for a in plan.desired_aliases], periods)
    assert {k: v for k, v in returned.items() if v} == expected
    # the plan's own timeline says the same
    timeline = [(s.start, s.end, s.index) for s in coverage(plan) if s.index is not None]
    assert {
        name: normalize((a, b) for a, b, i in timeline if i == name) for _, _, name in timeline
    } == expected


def check_purge(scenario: Scenario, plan: Plan) -> None:
    """(2) never an only copy, a current or future period, or an index an alias still targets."""
    now = plan.now
    kept = kept_holding(plan)
    targeted = {index for targets in plan.desired_alias_map().values() for index in targets}
    by_name = {i.name: i for i in plan.classified}
    expiries: dict[tuple[Archive, int], int] = {}

    def expiry(archive: Archive, end: int) -> int:
        if (archive, end) not in expiries:
            expiries[archive, end] = archive.ttl.add_to(end)
        return expiries[archive, end]

    assert {u.name for u in plan.unknown}.isdisjoint(d.index for d in plan.deletions)
    for decision in plan.deletions:
        index = by_name[decision.index]
        archive = scenario.archives[index.archive]
        assert index.period.end <= now
        assert archive.ttl.add_to(index.period.end) <= now
        assert index.name not in targeted
        mine = believed(index, scenario, now)
        if not mine:
            continue
        # every instant it holds data at that some archive still keeps is in the period of a kept
        # index (taken as complete over its period) at least as fine as that archive, or finer
        # than this one
        edges = edges_of(mine)
        edges |= edges_of((i.period.start, i.period.end) for i in kept)
        for other in scenario.archives:
            period = other.tf.period_of(index.period.start)
            while period.start < index.period.end:
                edges |= {period.start, period.end}
                period = other.tf.next_period(period)
        for start in sorted(edges):
            if not any(a <= start < b for a, b in mine):
                continue
            for j, other in enumerate(scenario.archives):
                if expiry(other, other.tf.period_of(start).end) <= now:
                    continue  # archive j no longer keeps this instant
                finest_allowed = max(j, index.archive - 1)
                assert any(
                    i.period.start <= start < i.period.end and i.archive <= finest_allowed for i in kept
                ), (decision, j, start)
    for decision in plan.kept:
        assert decision.index not in {d.index for d in plan.deletions}


def apply(current: Iterable[AliasInfo], plan: Plan) -> list[AliasInfo]:
    """Apply ``plan.body()`` the way Elasticsearch does (removing a missing pair is an error).

    Elasticsearch would let an ``add`` replace the filter of an existing pair; the plan promises
    remove + add instead, so an ``add`` over an existing pair fails here.
    """
    state = {(a.alias, a.index): a.filter for a in current}
    for action in plan.body()["actions"]:
        ((op, fields),) = action.items()
        key = (fields["alias"], fields["index"])
        if op == "remove":
            assert key in state, f"remove of a missing alias {key}"
            del state[key]
        else:
            assert key not in state, f"add over an existing alias {key}: a changed filter is remove + add"
            assert set(fields) <= {"alias", "index", "filter"}
            state[key] = fields.get("filter")
    return [AliasInfo(alias, index, query) for (alias, index), query in sorted(state.items())]


def foreign(aliases: Iterable[AliasInfo], ours: set[str]) -> list[tuple[str, str, str]]:
    """The aliases samplerr must leave alone: other names, or on indices it does not manage."""
    return sorted(
        (a.alias, a.index, str(a.filter)) for a in aliases if not (a.alias.startswith(AP) and a.index in ours)
    )


# --- properties -------------------------------------------------------------------------------


@FAST
@given(scenarios(with_aliases=False), st.data())
def test_searches_return_each_instant_once_from_the_finest_kept_index(scenario, data):
    plan = scenario.plan()
    check_alias_names(scenario, plan)
    names = [a.name for a in plan.desired_aliases]
    finest = [a.name for a in plan.desired_aliases if a.archive == 0]
    selections: list[Sequence[str]] = [[name] for name in names]  # (a) each alias alone
    selections.append(names)  # (b) samplerr-*
    for pool in (finest, names):  # (c) Grafana's daily pattern over a range, any mix
        if pool:
            selections.append(data.draw(st.lists(st.sampled_from(pool), max_size=12, unique=True)))
            first = data.draw(st.integers(0, len(pool) - 1))
            selections.append(pool[first : first + data.draw(st.integers(1, 10))])
    check_searches(plan, selections)
    check_everything_served(plan)


@FAST
@given(scenarios())
def test_purge_never_deletes_an_only_copy_a_current_period_or_a_served_index(scenario):
    plan = scenario.plan()
    check_purge(scenario, plan)
    assert {d.index for d in plan.kept} | {d.index for d in plan.deletions} == set(plan.classification)


@FAST
@given(scenarios())
def test_applying_the_actions_reaches_the_desired_state_and_a_replan_does_nothing(scenario):
    plan = scenario.plan()
    after = apply(scenario.aliases, plan)
    ours = {i.name for i in plan.classified}
    managed = {(a.alias, a.index): a.filter for a in after if a.alias.startswith(AP) and a.index in ours}
    desired = {
        (alias, index): q
        for alias, targets in plan.desired_alias_map().items()
        for index, q in targets.items()
    }
    assert managed == desired
    assert foreign(after, ours) == foreign(scenario.aliases, ours)
    # rotate again: nothing to do
    assert scenario.plan(aliases=after).actions == ()
    # purge, then rotate and purge again: nothing to do either
    deleted = {d.index for d in plan.deletions}
    remaining = [i for i in scenario.indices if i.name not in deleted]
    survivors = [a for a in after if a.index not in deleted]
    again = scenario.plan(indices=remaining, aliases=survivors)
    assert (again.actions, again.deletions) == ((), ())


@settings(FAST, max_examples=50)
@given(scenarios(), st.integers(1, 40 * 86_400))
def test_a_clock_going_backwards_is_harmless(scenario, back):
    plan = scenario.plan()
    deleted = {d.index for d in plan.deletions}
    remaining = tuple(i for i in scenario.indices if i.name not in deleted)
    after = [a for a in apply(scenario.aliases, plan) if a.index not in deleted]
    earlier = Scenario(scenario.archives, remaining, tuple(after), scenario.now - back, scenario.data)
    replanned = earlier.plan()
    check_purge(earlier, replanned)
    check_searches(replanned, [[a.name for a in replanned.desired_aliases]])
    assert replanned == earlier.plan()  # the plan depends on its inputs only


# --- building blocks ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(list(TF.values())),
    st.sampled_from([*TTLS["hour"], *TTLS["day"], "1mo", "2mo", "13mo", "10y"]),
    st.integers(LOW, HIGH),
)
def test_retained_spans_are_the_unexpired_periods(tf_text, ttl_text, now):
    archive = Archive(parse_tf(tf_text), 10, parse_duration(ttl_text), ("avg",))
    spans = retained_spans(archive, now)
    boundary = archive.ttl.subtract_from(now)
    period = archive.tf.period_of(boundary - 40 * 86_400)
    while period.start < boundary + 40 * 86_400:
        kept = archive.ttl.add_to(period.end) > now
        assert intersect(spans, ((period.start, period.end),)) == (
            ((period.start, period.end),) if kept else ()
        )
        period = archive.tf.next_period(period)
    assert spans[-1][1] == 253_402_300_800  # everything after is kept


small_spans = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=6)


def instants(spans: Iterable[tuple[int, int]]) -> set[int]:
    return {t for start, end in spans for t in range(start, end)}


@settings(max_examples=200, deadline=None)
@given(small_spans, small_spans)
def test_span_algebra_matches_sets_of_instants(left, right):
    a, b = normalize(left), normalize(right)
    assert instants(a) == instants(left)
    assert all(x[1] < y[0] for x, y in itertools.pairwise(a))  # sorted, apart
    assert instants(intersect(a, b)) == instants(a) & instants(b)
    assert intersect(a, b) == normalize(intersect(a, b))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-62_135_596_800, 253_402_300_798), st.integers(1, 10**9)),
        min_size=1,
        max_size=4,
    )
)
def test_filters_select_exactly_their_spans(pairs):
    spans = normalize((start, min(start + length, 253_402_300_799)) for start, length in pairs)
    query = spans_filter(spans)
    assert read_filter(query) == spans
    assert filter_spans(query) == spans
