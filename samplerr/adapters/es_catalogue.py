"""The catalogue of samplerr's indices and aliases, and the few changes the lifecycle makes to them.

Reading: :func:`list_indices` (names, document counts, sizes, creation times of ``index_prefix*``,
dot-prefixed names included), :func:`data_extents` (each index's smallest and largest
``@timestamp``, all in one search), :func:`classify_indices` (which archive and period each name is, by
the archives' ``tf``; anything else under the prefix is *unknown* and never touched),
:func:`list_aliases` (every alias under ``alias_prefix`` with its target and filter).

Changing: :func:`update_aliases` (one atomic ``POST _aliases``), :func:`create_index` (tolerates an
index created meanwhile), :func:`delete_indices` (exact names under the prefix only, chunked,
verified afterwards), :func:`hide_indices` (``index.hidden`` on exact names; :func:`hidden_flags`
reads it), and :class:`LifecycleLock`, a lock document with an expiry that keeps two
lifecycle runs from working at the same time.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.core.config import Archive
from samplerr.core.errors import SinkError
from samplerr.core.periods import Period

log = logging.getLogger(__name__)

LOCK_SUFFIX = "lock"  # the lock index is index_prefix + "lock", e.g. .samplerr-lock
MAX_URL_NAMES_BYTES = 3000  # keep DELETE request lines under http.max_initial_line_length (4 kB)
_INDEX_NAME = re.compile(r"[a-z0-9.][a-z0-9._+-]*")  # lowercase, not starting with _ - +


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """An index as listed; ``first_s``/``last_s`` is its data extent (see :func:`data_extents`), if read."""

    name: str
    docs: int
    size_bytes: int
    creation_ms: int
    first_s: int | None = None
    last_s: int | None = None


@dataclass(frozen=True, slots=True)
class AliasInfo:
    """One (alias, index) pair; ``filter`` is the alias's query filter, ``None`` when unfiltered."""

    alias: str
    index: str
    filter: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ArchiveIndex:
    """An index recognised as ``archives[archive]``'s index for ``period``."""

    info: IndexInfo
    archive: int  # position in Config.archives (0 = finest)
    period: Period


@dataclass(frozen=True, slots=True)
class Classification:
    archived: tuple[ArchiveIndex, ...]  # sorted by archive, then period
    unknown: tuple[IndexInfo, ...]  # under the prefix but not a name any archive gives


def _int(value: object) -> int:
    try:
        return int(str(value)) if value is not None else 0
    except ValueError:
        return 0


def list_indices(connection: EsConnection, index_prefix: str) -> tuple[IndexInfo, ...]:
    """Every index whose name starts with ``index_prefix`` (open, closed and hidden), sorted by name.

    ``_cat/indices`` expands to all by default; ``expand_wildcards=all`` says so for any version.
    """
    response = connection.request(
        "GET",
        f"/_cat/indices/{index_prefix}*",
        params={
            "format": "json",
            "bytes": "b",
            "h": "index,docs.count,store.size,creation.date",
            "expand_wildcards": "all",
        },
        allow=(404,),
    )
    rows = response.body if response.status != 404 and isinstance(response.body, list) else []
    indices = [
        IndexInfo(
            name=str(row["index"]),
            docs=_int(row.get("docs.count")),
            size_bytes=_int(row.get("store.size")),
            creation_ms=_int(row.get("creation.date")),
        )
        for row in rows
        if isinstance(row, Mapping) and str(row.get("index", "")).startswith(index_prefix)
    ]
    return tuple(sorted(indices, key=lambda info: info.name))


def data_extents(connection: EsConnection, index_prefix: str, indices: int) -> dict[str, tuple[int, int]]:
    """Each index's data extent under ``index_prefix``: its (min, max) ``@timestamp`` in epoch seconds.

    ONE search over ``index_prefix*``, ``size: 0`` without counting hits: a ``terms`` aggregation
    on ``_index`` (``indices`` buckets, the number of indices listed) with ``min`` and ``max`` of
    ``@timestamp`` in each. Milliseconds are rounded down to the second. ``expand_wildcards=
    open,hidden``: samplerr's indices are hidden, and a wildcard reaches hidden indices by itself
    only when it starts with a dot; a closed index cannot be searched and is left out. An index
    without documents (or without ``@timestamp``) is left out too: its extent is unknown.

    When a shard fails or the search times out nothing is returned (all unknown): a partial answer
    could make an extent narrower than the data, and the lifecycle takes an unknown extent as the
    whole period, which is safe. An error answer raises :class:`EsRequestError` as usual.
    """
    response = connection.request(
        "POST",
        f"/{index_prefix}*/_search",
        params={"expand_wildcards": "open,hidden", "ignore_unavailable": True, "allow_no_indices": True},
        body={
            "size": 0,
            "track_total_hits": False,
            "aggs": {
                "indices": {
                    "terms": {"field": "_index", "size": max(indices, 1)},
                    "aggs": {
                        "first": {"min": {"field": "@timestamp"}},
                        "last": {"max": {"field": "@timestamp"}},
                    },
                }
            },
        },
        allow=(404,),
    )
    body = response.body if response.status != 404 and isinstance(response.body, Mapping) else {}
    shards = body.get("_shards")
    failed = _int(shards.get("failed")) if isinstance(shards, Mapping) else 0
    if failed or body.get("timed_out") is True:
        log.warning(
            "data extents of %s*: %s; taking every index as holding data over its whole period",
            index_prefix,
            f"{failed} shards failed" if failed else "the search timed out",
        )
        return {}
    aggregations = body.get("aggregations")
    found = aggregations.get("indices") if isinstance(aggregations, Mapping) else None
    buckets = found.get("buckets") if isinstance(found, Mapping) else None
    extents: dict[str, tuple[int, int]] = {}
    for bucket in buckets if isinstance(buckets, list) else []:
        if not isinstance(bucket, Mapping) or not str(bucket.get("key", "")).startswith(index_prefix):
            continue
        first, last = _metric_seconds(bucket.get("first")), _metric_seconds(bucket.get("last"))
        if first is not None and last is not None and first <= last:
            extents[str(bucket["key"])] = (first, last)
    return extents


def _metric_seconds(metric: object) -> int | None:
    """A ``min``/``max`` of a date field (epoch milliseconds) in whole seconds, rounded down."""
    value = metric.get("value") if isinstance(metric, Mapping) else None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return math.floor(value / 1000)


def classify_indices(
    indices: Iterable[IndexInfo], archives: Sequence[Archive], index_prefix: str
) -> Classification:
    """Sort indices into archive indices and unknown ones.

    An index belongs to an archive when its name is exactly ``index_prefix + tf(period)`` for that
    archive (anchored, full string); when several archives' ``tf`` read the same name, the first
    (finest) archive has it. The lock index (``index_prefix + "lock"``) is neither.
    """
    archived: list[ArchiveIndex] = []
    unknown: list[IndexInfo] = []
    lock = index_prefix + LOCK_SUFFIX
    for info in indices:
        if info.name == lock:
            continue
        suffix = info.name[len(index_prefix) :] if info.name.startswith(index_prefix) else None
        found = None
        if suffix is not None:
            for position, archive in enumerate(archives):
                period = archive.tf.parse(suffix)
                if period is not None:
                    found = ArchiveIndex(info, position, period)
                    break
        if found is None:
            unknown.append(info)
        else:
            archived.append(found)
    archived.sort(key=lambda item: (item.archive, item.period))
    return Classification(tuple(archived), tuple(sorted(unknown, key=lambda info: info.name)))


def list_aliases(connection: EsConnection, alias_prefix: str) -> tuple[AliasInfo, ...]:
    """Every alias whose name starts with ``alias_prefix``, one entry per target index."""
    response = connection.request(
        "GET", f"/_alias/{alias_prefix}*", params={"expand_wildcards": "all"}, allow=(404,)
    )
    body = response.body if isinstance(response.body, Mapping) else {}
    found: list[AliasInfo] = []
    for index, entry in body.items():
        aliases = entry.get("aliases") if isinstance(entry, Mapping) else None
        if not isinstance(aliases, Mapping):
            continue  # a 404 body ({"error": …, "status": 404}) has none
        for alias, definition in aliases.items():
            if not str(alias).startswith(alias_prefix):
                continue
            query = definition.get("filter") if isinstance(definition, Mapping) else None
            found.append(AliasInfo(str(alias), str(index), query if isinstance(query, Mapping) else None))
    return tuple(sorted(found, key=lambda a: (a.alias, a.index)))


def update_aliases(connection: EsConnection, actions: Sequence[Mapping[str, Any]]) -> None:
    """Apply alias ``actions`` (``{"add": {...}}``, ``{"remove": {...}}`` …) as ONE atomic request.

    Elasticsearch applies all of them or none. Nothing is sent when ``actions`` is empty.
    """
    if not actions:
        return
    response = connection.request("POST", "/_aliases", body={"actions": list(actions)})
    if isinstance(response.body, Mapping) and response.body.get("acknowledged") is False:
        raise SinkError(f"Elasticsearch did not acknowledge the {len(actions)} alias actions in time")


def _check_name(name: str, index_prefix: str | None = None) -> None:
    if not _INDEX_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"{name!r} is not an exact index name")
    if index_prefix is not None and not name.startswith(index_prefix):
        raise ValueError(f"{name!r} is not a samplerr index (it does not start with {index_prefix!r})")


def create_index(connection: EsConnection, name: str) -> bool:
    """Create index ``name`` (its settings and mappings come from the template).

    Returns ``False`` when it existed already (made by another writer meanwhile, or earlier).
    """
    _check_name(name)
    try:
        connection.request("PUT", f"/{name}")
    except EsRequestError as exc:
        if exc.error_type == "resource_already_exists_exception":
            return False
        raise
    return True


def delete_indices(connection: EsConnection, names: Iterable[str], index_prefix: str) -> tuple[str, ...]:
    """Delete exactly the indices ``names`` (all under ``index_prefix``), then check they are gone.

    Missing names are fine (deleted meanwhile). Names are sent in chunks that keep each request line
    short. Returns the names that existed and were deleted; raises :class:`SinkError` when an index
    is still there afterwards.
    """
    wanted = sorted(set(names))
    for name in wanted:
        _check_name(name, index_prefix)
        if "*" in name or "," in name:
            raise ValueError(f"{name!r} is not an exact index name")
    if not wanted:
        return ()
    before = {info.name for info in list_indices(connection, index_prefix)}
    present = [name for name in wanted if name in before]
    for chunk in _chunks_by_length(present, MAX_URL_NAMES_BYTES):
        connection.request(
            "DELETE",
            f"/{','.join(chunk)}",
            params={"ignore_unavailable": True, "expand_wildcards": "none"},
        )
    after = {info.name for info in list_indices(connection, index_prefix)}
    left = sorted(after.intersection(present))
    if left:
        raise SinkError(f"indices still present after delete: {', '.join(left)}")
    return tuple(present)


def hidden_flags(connection: EsConnection, expression: str) -> dict[str, bool]:
    """Whether each index ``expression`` names is hidden (``index.hidden``); wildcards reach hidden ones.

    A missing exact name is left out (``ignore_unavailable``).
    """
    response = connection.request(
        "GET",
        f"/{expression}/_settings/index.hidden",
        params={"expand_wildcards": "all", "ignore_unavailable": True, "allow_no_indices": True},
        allow=(404,),
    )
    body = response.body if response.status != 404 and isinstance(response.body, Mapping) else {}
    flags: dict[str, bool] = {}
    for name, entry in body.items():
        settings = entry.get("settings") if isinstance(entry, Mapping) else None
        if not isinstance(settings, Mapping):
            continue
        nested = settings.get("index")
        value = nested.get("hidden") if isinstance(nested, Mapping) else settings.get("index.hidden")
        flags[str(name)] = str(value).lower() == "true"
    return flags


def hide_indices(connection: EsConnection, names: Iterable[str]) -> tuple[str, ...]:
    """Set ``index.hidden: true`` on exactly the indices ``names`` (a dynamic setting: no reopening).

    Names are sent in chunks that keep each request line short; missing ones are skipped. Returns the
    names sent, sorted.
    """
    wanted = sorted(set(names))
    for name in wanted:
        _check_name(name)
    for chunk in _chunks_by_length(wanted, MAX_URL_NAMES_BYTES):
        connection.request(
            "PUT",
            f"/{','.join(chunk)}/_settings",
            params={"ignore_unavailable": True, "expand_wildcards": "none"},
            body={"index": {"hidden": True}},
        )
    return tuple(wanted)


def _chunks_by_length(names: Sequence[str], limit: int) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for name in names:
        if current and size + len(name) + 1 > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(name)
        size += len(name) + 1
    if current:
        chunks.append(current)
    return chunks


class LifecycleLock:
    """Mutual exclusion between lifecycle runs (several instances, cron and the scheduler).

    The lock is one document, ``_id = name``, in ``index_prefix + "lock"``, created with
    ``op_type=create`` so that only one taker succeeds. It records the owner and an expiry: a lock
    left by a crashed run is taken over once expired (deleted with ``if_seq_no``/``if_primary_term``,
    so two takers cannot both remove it). :meth:`release` deletes it only if it is still ours.
    """

    def __init__(
        self,
        connection: EsConnection,
        index_prefix: str,
        owner: str,
        *,
        name: str = "lifecycle",
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = connection
        self.index = index_prefix + LOCK_SUFFIX
        _check_name(self.index)
        self.name = name
        self.owner = owner
        self.ttl_s = ttl_s
        self._clock = clock
        self._held: tuple[int, int] | None = None  # (seq_no, primary_term) of our document

    @property
    def held(self) -> bool:
        return self._held is not None

    def acquire(self) -> bool:
        """Take the lock; ``False`` when another owner holds an unexpired one."""
        if self._create():
            return True
        current = self._conn.request("GET", f"/{self.index}/_doc/{self.name}", allow=(404,))
        body = current.body if isinstance(current.body, Mapping) else {}
        if current.status == 404 or not body.get("found", False):
            return self._create()  # released between our create and get
        source = body.get("_source") or {}
        expires_ms = _int(source.get("expires_ms"))
        if expires_ms > self._now_ms():
            log.info("lifecycle lock held by %s until %d", source.get("owner"), expires_ms)
            return False
        log.warning("taking over the expired lifecycle lock of %s", source.get("owner"))
        deleted = self._conn.request(
            "DELETE",
            f"/{self.index}/_doc/{self.name}",
            params={
                "if_seq_no": _int(body.get("_seq_no")),
                "if_primary_term": _int(body.get("_primary_term")),
            },
            allow=(404, 409),
        )
        if deleted.status == 409:
            return False  # someone else took it over first
        return self._create()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _create(self) -> bool:
        now = self._now_ms()
        document = {"owner": self.owner, "acquired_ms": now, "expires_ms": now + int(self.ttl_s * 1000)}
        response = self._conn.request(
            "PUT",
            f"/{self.index}/_create/{self.name}",
            params={"refresh": "true"},
            body=document,
            allow=(409,),
        )
        if response.status == 409:
            return False
        body = response.body if isinstance(response.body, Mapping) else {}
        self._held = (_int(body.get("_seq_no")), _int(body.get("_primary_term")))
        return True

    def release(self) -> None:
        """Delete the lock document if it is still the one we created."""
        if self._held is None:
            return
        seq_no, primary_term = self._held
        self._held = None
        response = self._conn.request(
            "DELETE",
            f"/{self.index}/_doc/{self.name}",
            params={"if_seq_no": seq_no, "if_primary_term": primary_term, "refresh": "true"},
            allow=(404, 409),
        )
        if response.status != 200:
            log.warning("lifecycle lock was no longer ours when released (HTTP %d)", response.status)

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
