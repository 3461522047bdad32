"""``_cat`` APIs: indices, aliases, health, count, templates — text tables or ``format=json``.

Values are strings in JSON (as Elasticsearch sends them); ``h`` selects columns (names or aliases,
``*`` wildcards), ``s`` sorts (``col:desc``), ``v`` prints the header line, ``bytes`` fixes the unit of
sizes, ``expand_wildcards`` defaults to ``all`` for ``_cat/indices``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from samplerr.devserver import dates
from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import illegal_argument
from samplerr.devserver.http import Request, Response
from samplerr.devserver.names import ALL_OPTIONS, SEARCH_OPTIONS, resolve, simple_match, split_expressions
from samplerr.devserver.store import Index

CAT_PARAMS = frozenset(
    {
        "format",
        "h",
        "help",
        "s",
        "v",
        "bytes",
        "time",
        "local",
        "master_timeout",
        "expand_wildcards",
        "health",
        "pri",
        "include_unloaded_segments",
    }
)


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...]
    kind: str  # text, number, bytes
    default: bool = True


INDEX_COLUMNS = (
    Column("health", ("h",), "text"),
    Column("status", ("s",), "text"),
    Column("index", ("i", "idx"), "text"),
    Column("uuid", ("id", "uuid"), "text"),
    Column("pri", ("p", "shards.primary", "shardsPrimary"), "number"),
    Column("rep", ("r", "shards.replica", "shardsReplica"), "number"),
    Column("docs.count", ("dc", "docsCount"), "number"),
    Column("docs.deleted", ("dd", "docsDeleted"), "number"),
    Column("store.size", ("ss", "storeSize"), "bytes"),
    Column("pri.store.size", (), "bytes"),
    Column("dataset.size", (), "bytes"),
    Column("creation.date", ("cd",), "number", False),
    Column("creation.date.string", ("cds",), "text", False),
)
ALIAS_COLUMNS = (
    Column("alias", ("a",), "text"),
    Column("index", ("i", "idx"), "text"),
    Column("filter", ("f", "fi"), "text"),
    Column("routing.index", ("ri", "routingIndex"), "text"),
    Column("routing.search", ("rs", "routingSearch"), "text"),
    Column("is_write_index", ("w", "isWriteIndex"), "text"),
)
HEALTH_COLUMNS = tuple(
    Column(n, (), k)
    for n, k in (
        ("epoch", "number"),
        ("timestamp", "text"),
        ("cluster", "text"),
        ("status", "text"),
        ("node.total", "number"),
        ("node.data", "number"),
        ("shards", "number"),
        ("pri", "number"),
        ("relo", "number"),
        ("init", "number"),
        ("unassign", "number"),
        ("unassign.pri", "number"),
        ("pending_tasks", "number"),
        ("max_task_wait_time", "text"),
        ("active_shards_percent", "text"),
    )
)
COUNT_COLUMNS = (
    Column("epoch", (), "number"),
    Column("timestamp", (), "text"),
    Column("count", (), "number"),
)
TEMPLATE_COLUMNS = (
    Column("name", ("n",), "text"),
    Column("index_patterns", ("t",), "text"),
    Column("order", ("o", "p"), "number"),
    Column("version", ("v",), "number"),
    Column("composed_of", ("c",), "text"),
)
UNITS = {
    "b": 1,
    "kb": 1024,
    "k": 1024,
    "mb": 1024**2,
    "m": 1024**2,
    "gb": 1024**3,
    "g": 1024**3,
    "tb": 1024**4,
    "t": 1024**4,
    "pb": 1024**5,
    "p": 1024**5,
}


def human_bytes(n: int) -> str:
    """``ByteSizeValue.toString``: 225b, 88.1kb, 1.2mb …"""
    for suffix, size in (("pb", 1024**5), ("tb", 1024**4), ("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if n >= size:
            value = n / size
            text = f"{value:.1f}"
            return (text[:-2] if text.endswith(".0") else text) + suffix
    return f"{n}b"


def _size(n: int, unit: str | None) -> str:
    if unit is None:
        return human_bytes(n)
    if unit not in UNITS:
        raise illegal_argument(f"failed to parse setting [bytes] with value [{unit}]")
    return str(n // UNITS[unit])


def _select(columns: tuple[Column, ...], h: str | None) -> list[Column]:
    if not h:
        return [c for c in columns if c.default]
    out: list[Column] = []
    for want in (w.strip() for w in h.split(",") if w.strip()):
        for c in columns:
            if (simple_match(want, c.name) or want in c.aliases) and c not in out:
                out.append(c)
    return out


def _sort_key(name: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        value = row[name]
        return (value is None, value if value is not None else 0)

    return key


def _sort(rows: list[dict[str, Any]], columns: tuple[Column, ...], spec: str | None) -> list[dict[str, Any]]:
    if not spec:
        return rows
    for part in reversed([p for p in spec.split(",") if p]):
        name, _, order = part.partition(":")
        column = next((c for c in columns if c.name == name or name in c.aliases), None)
        if column is None:
            raise illegal_argument(f"Unable to sort by unknown sort key `{name}`")
        rows.sort(key=_sort_key(column.name), reverse=order == "desc")
    return rows


def table(req: Request, columns: tuple[Column, ...], rows: list[dict[str, Any]]) -> Response:
    """Render ``rows`` (raw values: numbers for number/bytes columns) as Elasticsearch's cat output."""
    params = req.params
    selected = _select(columns, params.get("h"))
    rows = _sort(rows, columns, params.get("s"))
    unit = params.get("bytes")
    cells: list[list[str]] = []
    for row in rows:
        line: list[str] = []
        for c in selected:
            value = row.get(c.name)
            if value is None:
                line.append("" if c.kind != "text" else "-" if c.name in ("filter",) else "")
            elif c.kind == "bytes":
                line.append(_size(int(value), unit))
            else:
                line.append(str(value))
        cells.append(line)
    fmt = params.get("format", "text")
    if fmt == "json":
        return Response(200, [{c.name: v for c, v in zip(selected, line, strict=True)} for line in cells])
    if fmt not in ("text", "txt"):
        raise illegal_argument(f"Unsupported format [{fmt}]")
    header = params.get("v") in ("", "true")
    all_lines = ([[c.name for c in selected]] if header else []) + cells
    widths = [max((len(line[i]) for line in all_lines), default=0) for i in range(len(selected))]
    out: list[str] = []
    for line_no, line in enumerate(all_lines):
        parts = []
        for i, (c, cell) in enumerate(zip(selected, line, strict=True)):
            right = c.kind in ("number", "bytes") and not (header and line_no == 0)
            parts.append(cell.rjust(widths[i]) if right else cell.ljust(widths[i]))
        out.append(" ".join(parts).rstrip() + "\n")
    return Response(200, raw="".join(out).encode(), content_type="text/plain; charset=UTF-8")


def _index_row(index: Index) -> dict[str, Any]:
    size = index.store_bytes
    return {
        "health": index.health,
        "status": "open",
        "index": index.name,
        "uuid": index.uuid,
        "pri": index.shards,
        "rep": index.replicas,
        "docs.count": len(index.visible),
        "docs.deleted": index.deleted,
        "store.size": size,  # replicas stay unassigned on one node: only the primaries hold data
        "pri.store.size": size,
        "dataset.size": size,
        "creation.date": index.created,
        "creation.date.string": dates.DEFAULT.format(index.created),
    }


def cat_indices(ctx: Ctx, req: Request) -> Response:
    expressions = split_expressions(req.path_params.get("index"))
    options = ALL_OPTIONS.with_params(req.params)
    with ctx.cluster.lock:
        names = resolve(expressions, ctx.cluster.indices, options).indices
        rows = [_index_row(ctx.cluster.indices[n]) for n in sorted(names)]
    if "health" in req.params:
        rows = [r for r in rows if r["health"] == req.params["health"].lower()]
    return table(req, INDEX_COLUMNS, rows)


def cat_aliases(ctx: Ctx, req: Request) -> Response:
    patterns = split_expressions(req.path_params.get("name"))
    rows: list[dict[str, Any]] = []
    with ctx.cluster.lock:
        for name in sorted(ctx.cluster.indices):
            index = ctx.cluster.indices[name]
            for alias, meta in sorted(index.aliases.items()):
                if patterns and not any(simple_match(p, alias) for p in patterns):
                    continue
                rows.append(
                    {
                        "alias": alias,
                        "index": name,
                        "filter": "*" if meta.filter is not None else "-",
                        "routing.index": meta.index_routing or "-",
                        "routing.search": meta.search_routing or "-",
                        "is_write_index": "-"
                        if meta.is_write_index is None
                        else str(meta.is_write_index).lower(),
                    }
                )
    rows.sort(key=lambda r: (r["alias"], r["index"]))
    return table(req, ALIAS_COLUMNS, rows)


def health_values(ctx: Ctx) -> dict[str, Any]:
    with ctx.cluster.lock:
        indices = list(ctx.cluster.indices.values())
    primaries = sum(i.shards for i in indices)
    unassigned = sum(i.shards * i.replicas for i in indices)
    status = "yellow" if unassigned else "green"
    active = primaries
    percent = 100.0 if not (active + unassigned) else 100.0 * active / (active + unassigned)
    return {
        "status": status,
        "primaries": primaries,
        "unassigned": unassigned,
        "active": active,
        "percent": percent,
    }


def cat_health(ctx: Ctx, req: Request) -> Response:
    h = health_values(ctx)
    now = time.time()
    row = {
        "epoch": int(now),
        "timestamp": datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S"),
        "cluster": ctx.cluster.name,
        "status": h["status"],
        "node.total": 1,
        "node.data": 1,
        "shards": h["active"],
        "pri": h["primaries"],
        "relo": 0,
        "init": 0,
        "unassign": h["unassigned"],
        "unassign.pri": 0,
        "pending_tasks": 0,
        "max_task_wait_time": "-",
        "active_shards_percent": f"{h['percent']:.1f}%",
    }
    return table(req, HEALTH_COLUMNS, [row])


def cat_count(ctx: Ctx, req: Request) -> Response:
    expressions = split_expressions(req.path_params.get("index"))
    with ctx.cluster.lock:
        names = resolve(expressions, ctx.cluster.indices, SEARCH_OPTIONS).indices
        count = sum(len(ctx.cluster.indices[n].visible) for n in names)
    now = time.time()
    row = {
        "epoch": int(now),
        "timestamp": datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S"),
        "count": count,
    }
    return table(req, COUNT_COLUMNS, [row])


def cat_templates(ctx: Ctx, req: Request) -> Response:
    patterns = split_expressions(req.path_params.get("name"))
    with ctx.cluster.lock:
        rows = [
            {
                "name": t.name,
                "index_patterns": "[" + ", ".join(t.patterns) + "]",
                "order": t.priority,
                "version": t.body.get("version"),
                "composed_of": "[" + ", ".join(t.body.get("composed_of", [])) + "]",
            }
            for t in sorted(ctx.cluster.templates.values(), key=lambda t: t.name)
            if not patterns or any(simple_match(p, t.name) for p in patterns)
        ]
    return table(req, TEMPLATE_COLUMNS, rows)
