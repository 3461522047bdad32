"""In-memory state: documents, indices, aliases, templates, and the journal every change goes through.

Visibility follows Elasticsearch: ``GET _doc`` is real time, while searches see an index as of its last
refresh (explicit ``_refresh``, ``?refresh``, or every ``index.refresh_interval``, 1 s by default; an
index without an explicit interval that was not searched for 30 s is "search idle": it skips periodic
refreshes and the next search refreshes it first). ``realtime=True`` makes every write visible at once.

Every mutation is recorded through a :class:`Journal` while the cluster lock is held, so a durable
journal (see :mod:`samplerr.devserver.wal`) replays to the same state.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import threading
import time
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from samplerr.devserver import settings as settings_mod
from samplerr.devserver.errors import EsError
from samplerr.devserver.mapping import FieldType, Mapping, ValueRejectedError, analyze, extract

JsonDict = dict[str, Any]
SEARCH_IDLE_MS = 30_000


def new_uuid() -> str:
    return base64.urlsafe_b64encode(uuidlib.uuid4().bytes).decode()[:22]


def auto_id() -> str:
    """A 20-character URL-safe id, like Elasticsearch's time-based ids."""
    return base64.urlsafe_b64encode(os.urandom(15)).decode()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Doc:
    __slots__ = ("cache", "id", "primary_term", "raw", "seq_no", "source", "version")

    def __init__(
        self,
        doc_id: str,
        source: JsonDict,
        raw: bytes,
        version: int,
        seq_no: int,
        cache: JsonDict | None = None,
    ) -> None:
        self.id = doc_id
        self.source = source
        self.raw = raw
        self.version = version
        self.seq_no = seq_no
        self.primary_term = 1
        self.cache: JsonDict = cache if cache is not None else {}


def values(doc: Doc, ft: FieldType) -> list[Any]:
    """The indexed values of ``ft`` in ``doc`` (converted, multi-valued, text analyzed), cached."""
    cached = doc.cache.get(ft.path)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    out: list[Any] = []
    if ft.kind != "opaque":
        for raw in extract(doc.source, ft.source_path.split(".")):
            try:
                value = ft.convert(raw)
            except ValueRejectedError:
                continue
            if value is None:
                continue
            if ft.kind == "text":
                out.extend(analyze(value))
            else:
                out.append(value)
        if not out and "null_value" in ft.params and any(True for _ in _nulls(doc.source, ft)):
            with contextlib.suppress(ValueRejectedError):
                out.append(ft.convert(ft.params["null_value"]))
    doc.cache[ft.path] = out
    return out


def _nulls(source: JsonDict, ft: FieldType) -> Iterator[None]:
    node: Any = source
    for part in ft.source_path.split("."):
        if not isinstance(node, dict) or part not in node:
            return
        node = node[part]
    if node is None:
        yield None


@dataclass(slots=True)
class AliasMeta:
    filter: JsonDict | None = None
    index_routing: str | None = None
    search_routing: str | None = None
    is_write_index: bool | None = None
    is_hidden: bool | None = None

    def to_json(self) -> JsonDict:
        out: JsonDict = {}
        if self.filter is not None:
            out["filter"] = self.filter
        if self.index_routing is not None:
            out["index_routing"] = self.index_routing
        if self.search_routing is not None:
            out["search_routing"] = self.search_routing
        if self.is_write_index is not None:
            out["is_write_index"] = self.is_write_index
        if self.is_hidden is not None:
            out["is_hidden"] = self.is_hidden
        return out

    @staticmethod
    def from_json(data: JsonDict) -> AliasMeta:
        return AliasMeta(
            filter=data.get("filter"),
            index_routing=data.get("index_routing"),
            search_routing=data.get("search_routing"),
            is_write_index=data.get("is_write_index"),
            is_hidden=data.get("is_hidden"),
        )


class Index:
    def __init__(self, name: str, uuid: str, created: int, flat_settings: JsonDict, mapping: Mapping) -> None:
        self.name = name
        self.uuid = uuid
        self.created = created
        self.settings = flat_settings  # also derives hidden, shards, replicas … (see the setter)
        self.mapping = mapping
        self.aliases: dict[str, AliasMeta] = {}
        self.docs: dict[str, Doc] = {}
        self.visible: dict[str, Doc] = {}
        self.dirty: dict[str, Doc | None] = {}
        self.tombstones: dict[str, tuple[int, int]] = {}  # id -> (version, deleted at ms)
        self.seq_no = -1
        self.deleted = 0
        self.store_bytes = 0
        self.last_refresh = now_ms()
        self.last_search = -SEARCH_IDLE_MS * 10

    @property
    def settings(self) -> JsonDict:
        """Flat ``index.*`` settings; assign a new dict to change them (derived values follow)."""
        return self._settings

    @settings.setter
    def settings(self, flat: JsonDict) -> None:
        self._settings = flat
        self.hidden = settings_mod.is_true(flat, "index.hidden")
        self.shards = settings_mod.positive_int(flat, "index.number_of_shards", 1)
        self.replicas = settings_mod.positive_int(flat, "index.number_of_replicas", 1)
        self.field_limit = settings_mod.positive_int(flat, "index.mapping.total_fields.limit", 1000)
        gc = settings_mod.refresh_interval_ms({"index.refresh_interval": flat.get("index.gc_deletes", "60s")})
        self.gc_deletes_ms = gc or 0
        self._shard_info = {"total": 1 + self.replicas, "successful": 1, "failed": 0}

    @property
    def health(self) -> str:
        return "yellow" if self.replicas > 0 else "green"

    def shard_info(self) -> JsonDict:
        return self._shard_info

    def conflict(self, doc_id: str, detail: str) -> EsError:
        return EsError(
            409,
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, {detail}",
            meta={"index_uuid": self.uuid, "shard": "0", "index": self.name},
        )

    def next_version(self, doc_id: str) -> int:
        current = self.docs.get(doc_id)
        if current is not None:
            return current.version + 1
        tomb = self.tombstones.get(doc_id)
        if tomb is None or now_ms() - tomb[1] > self.gc_deletes_ms:
            return 1
        return tomb[0] + 1

    # --- writes (journaled by the cluster) -----------------------------------------------------------------

    def store(self, doc: Doc) -> None:
        doc_id = doc.id
        old = self.docs.pop(doc_id, None)
        if old is not None:
            self.store_bytes -= len(old.raw)
            self.deleted += 1
        self.docs[doc_id] = doc
        if self.tombstones:
            self.tombstones.pop(doc_id, None)
        self.store_bytes += len(doc.raw)
        self.seq_no = max(self.seq_no, doc.seq_no)
        self.dirty[doc_id] = doc

    def remove(self, doc_id: str, version: int, seq_no: int) -> None:
        old = self.docs.pop(doc_id, None)
        if old is not None:
            self.store_bytes -= len(old.raw)
            self.deleted += 1
            self.dirty[doc_id] = None
        self.tombstones[doc_id] = (version, now_ms())
        self.seq_no = max(self.seq_no, seq_no)

    def refresh(self) -> None:
        if self.dirty:
            visible = self.visible
            for doc_id, doc in self.dirty.items():
                visible.pop(doc_id, None)
                if doc is not None:
                    visible[doc_id] = doc
            self.dirty = {}
        self.last_refresh = now_ms()

    def before_search(self, now: int) -> None:
        if (
            self.dirty
            and "index.refresh_interval" not in self.settings
            and now - self.last_search >= SEARCH_IDLE_MS
        ):
            self.refresh()
        self.last_search = now

    def periodic_refresh(self, now: int) -> None:
        if not self.dirty:
            return
        interval = settings_mod.refresh_interval_ms(self.settings)
        if interval is None or now - self.last_refresh < interval:
            return
        explicit = "index.refresh_interval" in self.settings
        if explicit or now - self.last_search < SEARCH_IDLE_MS:
            self.refresh()

    def settings_json(self) -> JsonDict:
        flat = dict(self.settings)
        flat["index.uuid"] = self.uuid
        flat["index.creation_date"] = str(self.created)
        flat["index.provided_name"] = self.name
        return settings_mod.nest(flat)


@dataclass(slots=True)
class Template:
    name: str
    body: JsonDict  # normalized (settings nested as strings), as GET returns it

    @property
    def patterns(self) -> list[str]:
        return list(self.body.get("index_patterns", []))

    @property
    def priority(self) -> int:
        return int(self.body.get("priority", 0))


class Journal(Protocol):
    def record(self, entry: JsonDict) -> None: ...

    def record_doc(self, index: str, doc: Doc) -> None: ...

    def commit(self) -> None: ...


class MemoryJournal:
    """No persistence: state lives as long as the process."""

    def record(self, entry: JsonDict) -> None:
        pass

    def record_doc(self, index: str, doc: Doc) -> None:
        pass

    def commit(self) -> None:
        pass


@dataclass
class Cluster:
    """The whole state, guarded by ``lock``; mutations go through the methods below (journaled)."""

    version: str = "9.1.0"
    realtime: bool = False
    journal: Journal = field(default_factory=MemoryJournal)
    indices: dict[str, Index] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    components: dict[str, JsonDict] = field(default_factory=dict)
    cluster_settings: JsonDict = field(default_factory=lambda: {"persistent": {}, "transient": {}})
    lock: threading.RLock = field(default_factory=threading.RLock)
    cluster_uuid: str = field(default_factory=new_uuid)
    node_id: str = field(default_factory=new_uuid)
    name: str = "samplerr-devserver"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def version_tuple(self) -> tuple[int, ...]:
        """``(8, 19, 0)`` for ``8.19.0`` (``-SNAPSHOT`` and other suffixes ignored)."""
        return tuple(
            int("".join(itertools.takewhile(str.isdigit, p)) or 0) for p in self.version.split(".")[:3]
        )

    def setting(self, key: str, default: str) -> str:
        for scope in ("transient", "persistent"):
            value = self.cluster_settings[scope].get(key)
            if value is not None:
                return str(value)
        return default

    @property
    def destructive_requires_name(self) -> bool:
        return self.setting("action.destructive_requires_name", "true") == "true"

    # --- journaled mutations

    def add_index(self, index: Index, *, replay: bool = False) -> None:
        self.indices[index.name] = index
        if not replay:
            self.journal.record(
                {
                    "t": "create",
                    "name": index.name,
                    "uuid": index.uuid,
                    "created": index.created,
                    "settings": index.settings,
                    "mappings": index.mapping.json,
                    "aliases": {a: m.to_json() for a, m in index.aliases.items()},
                }
            )

    def drop_index(self, name: str) -> None:
        del self.indices[name]
        self.journal.record({"t": "delete", "name": name})

    def mapping_changed(self, index: Index) -> None:
        self.journal.record({"t": "mapping", "name": index.name, "mappings": index.mapping.json})

    def settings_changed(self, index: Index) -> None:
        self.journal.record({"t": "settings", "name": index.name, "settings": index.settings})

    def aliases_changed(self, names: list[str]) -> None:
        self.journal.record(
            {
                "t": "aliases",
                "indices": {n: {a: m.to_json() for a, m in self.indices[n].aliases.items()} for n in names},
            }
        )

    def put_doc(self, index: Index, doc: Doc) -> None:
        index.store(doc)
        self.journal.record_doc(index.name, doc)
        if self.realtime:
            index.refresh()

    def delete_doc(self, index: Index, doc_id: str, version: int, seq_no: int) -> None:
        index.remove(doc_id, version, seq_no)
        self.journal.record({"t": "del", "i": index.name, "id": doc_id, "v": version, "s": seq_no})
        if self.realtime:
            index.refresh()

    def put_template(self, template: Template) -> None:
        self.templates[template.name] = template
        self.journal.record({"t": "template", "name": template.name, "body": template.body})

    def drop_template(self, name: str) -> None:
        del self.templates[name]
        self.journal.record({"t": "template_delete", "name": name})

    def put_component(self, name: str, body: JsonDict) -> None:
        self.components[name] = body
        self.journal.record({"t": "component", "name": name, "body": body})

    def drop_component(self, name: str) -> None:
        del self.components[name]
        self.journal.record({"t": "component_delete", "name": name})

    def set_cluster_settings(self, values: JsonDict) -> None:
        self.cluster_settings = values
        self.journal.record({"t": "cluster_settings", "settings": values})

    def refresh_due(self) -> None:
        now = now_ms()
        with self.lock:
            for index in self.indices.values():
                index.periodic_refresh(now)

    # --- replay

    def apply(self, entry: JsonDict, source_line: bytes | None = None) -> None:
        """Apply one journal entry (used when loading a snapshot and the write-ahead log)."""
        kind = entry["t"]
        if kind == "doc":
            index = self.indices.get(entry["i"])
            if index is None or source_line is None:
                return
            doc = Doc(entry["id"], orjson.loads(source_line), source_line, entry["v"], entry["s"])
            index.store(doc)
            index.refresh()
        elif kind == "del":
            index = self.indices.get(entry["i"])
            if index is not None:
                index.remove(entry["id"], entry["v"], entry["s"])
                index.refresh()
        elif kind == "create":
            index = Index(
                entry["name"], entry["uuid"], entry["created"], entry["settings"], Mapping(entry["mappings"])
            )
            index.aliases = {a: AliasMeta.from_json(m) for a, m in entry.get("aliases", {}).items()}
            self.indices[index.name] = index
        elif kind == "delete":
            self.indices.pop(entry["name"], None)
        elif kind == "mapping":
            if entry["name"] in self.indices:
                self.indices[entry["name"]].mapping = Mapping(entry["mappings"])
        elif kind == "settings":
            if entry["name"] in self.indices:
                self.indices[entry["name"]].settings = entry["settings"]
        elif kind == "aliases":
            for name, aliases in entry["indices"].items():
                if name in self.indices:
                    self.indices[name].aliases = {a: AliasMeta.from_json(m) for a, m in aliases.items()}
        elif kind == "template":
            self.templates[entry["name"]] = Template(entry["name"], entry["body"])
        elif kind == "template_delete":
            self.templates.pop(entry["name"], None)
        elif kind == "component":
            self.components[entry["name"]] = entry["body"]
        elif kind == "component_delete":
            self.components.pop(entry["name"], None)
        elif kind == "cluster_settings":
            self.cluster_settings = entry["settings"]
        elif kind == "meta":
            self.cluster_uuid = entry.get("cluster_uuid", self.cluster_uuid)
            self.node_id = entry.get("node_id", self.node_id)

    def snapshot_entries(self) -> Iterator[tuple[JsonDict, bytes | None]]:
        """The whole state as journal entries (documents with their source line)."""
        yield {"t": "meta", "cluster_uuid": self.cluster_uuid, "node_id": self.node_id}, None
        yield {"t": "cluster_settings", "settings": self.cluster_settings}, None
        for name, body in self.components.items():
            yield {"t": "component", "name": name, "body": body}, None
        for template in self.templates.values():
            yield {"t": "template", "name": template.name, "body": template.body}, None
        for index in self.indices.values():
            yield (
                {
                    "t": "create",
                    "name": index.name,
                    "uuid": index.uuid,
                    "created": index.created,
                    "settings": index.settings,
                    "mappings": index.mapping.json,
                    "aliases": {a: m.to_json() for a, m in index.aliases.items()},
                },
                None,
            )
            for doc in index.docs.values():
                yield {"t": "doc", "i": index.name, "id": doc.id, "v": doc.version, "s": doc.seq_no}, doc.raw
            for doc_id, (version, _) in index.tombstones.items():
                yield {"t": "del", "i": index.name, "id": doc_id, "v": version, "s": index.seq_no}, None
