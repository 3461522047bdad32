"""Rotate, purge and status against Elasticsearch: read the state, plan with ``now``, apply.

The planner (:mod:`samplerr.core.lifecycle`) is pure; this module is the I/O around it:

* :func:`read_state` lists the indices under ``index_prefix`` (documents, sizes and data extents:
  min/max ``@timestamp``, in one search) and the aliases under ``alias_prefix`` (with their
  filters), after a refresh so that documents written a moment ago count (the index template's
  ``refresh_interval`` is 30 s);
* :func:`rotate` applies the plan's alias actions as ONE ``POST _aliases`` (Elasticsearch applies
  all of them or none);
* :func:`purge` rotates, reads the state again, and deletes the indices the plan deletes and no
  samplerr alias targets;
* :func:`create_next_indices` creates the next period's index of every archive ahead of the
  boundary, so a rotation just after midnight already finds today's index.

Two runs at the same time (two hosts, cron and the service) are kept apart by a lock document
with an expiry (:class:`~samplerr.adapters.es_catalogue.LifecycleLock`): whoever changes
anything takes the lock first, then reads the state, plans and applies it. The second run waits
for the lock, reads the state the first one left, and finds nothing more to do. If a run dies
holding the lock, the lock expires after :data:`LOCK_TTL_S` and is taken over. Even without the
lock, a rotation is one atomic request computed from a full read, and running it again converges
on the same state; purge deletes only indices whose period is expired and whose data no kept
index lacks, which does not depend on the aliases.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from samplerr.adapters.es_catalogue import (
    LOCK_SUFFIX,
    AliasInfo,
    IndexInfo,
    LifecycleLock,
    create_index,
    data_extents,
    delete_indices,
    list_aliases,
    list_indices,
    update_aliases,
)
from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.core import lifecycle
from samplerr.core.config import Config
from samplerr.core.errors import SinkError
from samplerr.core.lifecycle import Decision, Plan

log = logging.getLogger(__name__)

LOCK_TTL_S = 600.0  # a run that dies holding the lock blocks others this long at most
LOCK_WAIT_S = 60.0  # how long a run waits for another one to finish by default
LOCK_POLL_S = 0.25


class LockBusyError(SinkError):
    """Another lifecycle run held the lock for longer than we were willing to wait."""


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """samplerr's indices (the lock index left out) and aliases, as read from Elasticsearch."""

    indices: tuple[IndexInfo, ...]
    aliases: tuple[AliasInfo, ...]
    lock_index: IndexInfo | None  # index_prefix + "lock", when it exists

    def index(self, name: str) -> IndexInfo | None:
        return next((info for info in self.indices if info.name == name), None)


@dataclass(frozen=True, slots=True)
class RotateResult:
    """What a rotation did: ``plan.actions`` were sent (unless ``dry_run`` or there were none)."""

    plan: Plan
    state: LifecycleState
    dry_run: bool

    @property
    def applied(self) -> bool:
        return not self.dry_run and bool(self.plan.actions)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge did: the rotation first, then the deletions, with a reason for every index."""

    rotation: RotateResult
    deleted: tuple[Decision, ...]  # deleted (or, in a dry run, to delete)
    kept: tuple[Decision, ...]
    dry_run: bool


def lock_index_name(config: Config) -> str:
    return config.elasticsearch.index_prefix + LOCK_SUFFIX


def refresh(connection: EsConnection, config: Config) -> None:
    """Make recent writes visible to the document counts (``POST <index_prefix>*/_refresh``).

    ``expand_wildcards=open,hidden``: samplerr's indices are hidden (see es_template), and a wildcard
    reaches hidden indices by itself only when it starts with a dot, as the default prefix does.
    """
    connection.request(
        "POST",
        f"/{config.elasticsearch.index_prefix}*/_refresh",
        params={"ignore_unavailable": True, "allow_no_indices": True, "expand_wildcards": "open,hidden"},
        allow=(404,),
    )


def read_state(connection: EsConnection, config: Config) -> LifecycleState:
    """Indices under ``index_prefix`` with their counts, sizes and extents; aliases under ``alias_prefix``.

    The extents are read after the list: an index created in between has none (unknown: the
    planner takes its whole period). When they cannot be read at all, every extent is unknown.
    """
    es = config.elasticsearch
    refresh(connection, config)
    found = list_indices(connection, es.index_prefix)
    try:
        extents = data_extents(connection, es.index_prefix, len(found)) if found else {}
    except EsRequestError as exc:
        log.warning("cannot read the indices' data extents (%s): taking each as its whole period", exc)
        extents = {}
    found = tuple(
        dataclasses.replace(info, first_s=extents[info.name][0], last_s=extents[info.name][1])
        if info.name in extents
        else info
        for info in found
    )
    lock = lock_index_name(config)
    return LifecycleState(
        indices=tuple(info for info in found if info.name != lock),
        aliases=list_aliases(connection, es.alias_prefix),
        lock_index=next((info for info in found if info.name == lock), None),
    )


def plan_for(config: Config, state: LifecycleState, now: int) -> Plan:
    """The planner's answer for ``state`` at ``now`` (pure)."""
    es = config.elasticsearch
    return lifecycle.plan_lifecycle(
        config.archives,
        es.index_prefix,
        es.alias_prefix,
        [lifecycle.IndexInfo(info.name, info.docs, info.first_s, info.last_s) for info in state.indices],
        [lifecycle.AliasInfo(alias.alias, alias.index, alias.filter) for alias in state.aliases],
        now=now,
    )


def default_owner() -> str:
    """Who holds the lock, for the messages of the others: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@contextmanager
def lifecycle_lock(
    connection: EsConnection,
    config: Config,
    *,
    wait_s: float = LOCK_WAIT_S,
    ttl_s: float = LOCK_TTL_S,
    owner: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Iterator[LifecycleLock]:
    """Hold the lifecycle lock for the ``with`` block, waiting up to ``wait_s`` for it.

    The lock's expiry is measured on the wall clock (not on any simulated ``now``). Raises
    :class:`LockBusyError` when another run keeps it longer than ``wait_s``.
    """
    lock = LifecycleLock(connection, config.elasticsearch.index_prefix, owner or default_owner(), ttl_s=ttl_s)
    deadline = monotonic() + wait_s
    while not lock.acquire():
        left = deadline - monotonic()
        if left <= 0:
            raise LockBusyError(
                f"another samplerr rotate or purge holds the lifecycle lock ({lock.index}/_doc/{lock.name}) "
                f"and did not finish within {wait_s:g} s; a lock left by a crashed run expires after "
                f"{ttl_s:g} s"
            )
        sleep(min(LOCK_POLL_S, left))
    try:
        yield lock
    finally:
        lock.release()


def _apply_rotation(connection: EsConnection, config: Config, now: int) -> RotateResult:
    state = read_state(connection, config)
    plan = plan_for(config, state, now)
    for problem in plan.problems:
        log.warning("rotate: %s", problem)
    if plan.actions:
        update_aliases(connection, plan.body()["actions"])
        log.info("rotate: applied %d alias actions in one request", len(plan.actions))
    return RotateResult(plan, state, dry_run=False)


def rotate(
    connection: EsConnection,
    config: Config,
    now: int,
    *,
    dry_run: bool = False,
    lock_wait_s: float = LOCK_WAIT_S,
) -> RotateResult:
    """Point the aliases at the best cover at ``now``: one atomic ``POST _aliases``, under the lock.

    A dry run reads and plans only (no lock, no change).
    """
    if dry_run:
        state = read_state(connection, config)
        return RotateResult(plan_for(config, state, now), state, dry_run=True)
    with lifecycle_lock(connection, config, wait_s=lock_wait_s):
        return _apply_rotation(connection, config, now)


def purge(
    connection: EsConnection,
    config: Config,
    now: int,
    *,
    dry_run: bool = False,
    lock_wait_s: float = LOCK_WAIT_S,
) -> PurgeResult:
    """Rotate, then delete the indices the plan deletes, under the lock.

    The deletions come from the plan of the rotation: they depend on the indices and ``now`` only
    (expired, not the only copy of kept data, not a current or future period), not on the aliases.
    After the rotation the aliases are read again: if they are not exactly what the rotation made
    (someone changed them without the lock), nothing is deleted this time; an index some alias
    under ``alias_prefix`` still targets is never deleted.
    """
    if dry_run:
        rotation = rotate(connection, config, now, dry_run=True)
        return PurgeResult(rotation, rotation.plan.deletions, _kept(rotation.plan, rotation.state), True)
    with lifecycle_lock(connection, config, wait_s=lock_wait_s):
        rotation = _apply_rotation(connection, config, now)
        plan = rotation.plan
        aliases = list_aliases(connection, config.elasticsearch.alias_prefix)
        if _managed_map(aliases, plan) != plan.desired_alias_map():
            log.warning("purge: the aliases changed during the rotation; deleting nothing this time")
            return PurgeResult(rotation, (), _kept(plan, rotation.state), False)
        targeted = {alias.index for alias in aliases}
        deletions = tuple(d for d in plan.deletions if d.index not in targeted)
        kept = _kept(plan, rotation.state) + tuple(
            Decision(d.index, "alias", "an alias still targets it")
            for d in plan.deletions
            if d.index in targeted
        )
        if deletions:
            names = delete_indices(
                connection, [d.index for d in deletions], config.elasticsearch.index_prefix
            )
            log.info("purge: deleted %d indices: %s", len(names), ", ".join(names))
        return PurgeResult(rotation, deletions, tuple(sorted(kept, key=lambda d: d.index)), False)


def _managed_map(aliases: tuple[AliasInfo, ...], plan: Plan) -> dict[str, dict[str, Any]]:
    """The aliases samplerr manages (on classified indices), as alias → index → filter."""
    ours = {index.name for index in plan.classified}
    found: dict[str, dict[str, Any]] = {}
    for alias in aliases:
        if alias.index in ours:
            found.setdefault(alias.alias, {})[alias.index] = alias.filter
    return found


def _kept(plan: Plan, state: LifecycleState) -> tuple[Decision, ...]:
    kept = plan.kept
    if state.lock_index is not None:
        lock = Decision(state.lock_index.name, "lock", "holds the lifecycle lock document")
        kept = tuple(sorted((*kept, lock), key=lambda d: d.index))
    return kept


def create_next_indices(
    connection: EsConnection, config: Config, now: int, *, ahead_s: int, state: LifecycleState | None = None
) -> tuple[str, ...]:
    """Create the next period's index of each archive whose boundary is within ``ahead_s`` of ``now``.

    Returns the names created (an index that exists already, or was made meanwhile, is left alone).
    """
    wanted = lifecycle.next_period_indices(config.archives, config.elasticsearch.index_prefix, now, ahead_s)
    existing = {info.name for info in (state or read_state(connection, config)).indices}
    created = tuple(name for name in wanted if name not in existing and create_index(connection, name))
    if created:
        log.info("created the next period's indices ahead of time: %s", ", ".join(created))
    return created
