"""Cluster-level endpoints (``/``, ``_cluster/health``, ``_nodes``, ``_cluster/settings``) and the
development server's own admin endpoints under ``/_devserver/`` (faults, stats)."""

from __future__ import annotations

import time
from typing import Any

from samplerr import __version__
from samplerr.devserver.cat import health_values
from samplerr.devserver.context import BUILD_DATE, BUILD_HASH, VERSIONS, Ctx
from samplerr.devserver.errors import illegal_argument, parsing
from samplerr.devserver.faults import parse_config
from samplerr.devserver.http import Request, Response

JsonDict = dict[str, Any]
TAGLINE = "You Know, for Search"
NOTICE = (
    "samplerr development server: an Elasticsearch-compatible stand-in for tests and demos, not Elasticsearch"
)
STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}


def root_handler(ctx: Ctx, req: Request) -> Response:
    info = VERSIONS.get(ctx.major, VERSIONS[9])
    return Response(
        200,
        {
            "name": ctx.cluster.name,
            "cluster_name": ctx.cluster.name,
            "cluster_uuid": ctx.cluster.cluster_uuid,
            "version": {
                "number": ctx.version,
                "build_flavor": "default",
                "build_type": "tar",
                "build_hash": BUILD_HASH,
                "build_date": BUILD_DATE,
                "build_snapshot": False,
                "lucene_version": info["lucene"],
                "minimum_wire_compatibility_version": info["wire"],
                "minimum_index_compatibility_version": info["index"],
            },
            "tagline": TAGLINE,
            "devserver": {"notice": NOTICE, "samplerr_version": __version__},
        },
    )


def health_handler(ctx: Ctx, req: Request) -> Response:
    wanted = req.params.get("wait_for_status")
    if wanted is not None and wanted not in STATUS_RANK:
        raise illegal_argument(f"unknown cluster health status [{wanted}]")
    timeout_s = _seconds(req.params.get("timeout", "30s"))
    deadline = time.monotonic() + timeout_s
    while True:
        h = health_values(ctx)
        satisfied = wanted is None or STATUS_RANK[h["status"]] <= STATUS_RANK[wanted]
        if satisfied or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    body = {
        "cluster_name": ctx.cluster.name,
        "status": h["status"],
        "timed_out": not satisfied,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": h["primaries"],
        "active_shards": h["active"],
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": h["unassigned"],
        "unassigned_primary_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": h["percent"],
    }
    return Response(200 if satisfied else 408, body)


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * units[suffix]
    if text == "-1":
        return 3600.0
    raise illegal_argument(
        f"failed to parse setting [timeout] with value [{text}] as a time value: unit is missing "
        "or unrecognized"
    )


def nodes_handler(ctx: Ctx, req: Request) -> Response:
    address = f"{ctx.host}:{ctx.port}"
    node = {
        "name": ctx.cluster.name,
        "transport_address": f"{ctx.host}:9300",
        "host": ctx.host,
        "ip": ctx.host,
        "version": ctx.version,
        "build_flavor": "default",
        "build_type": "tar",
        "build_hash": BUILD_HASH,
        "roles": ["data", "data_content", "data_hot", "ingest", "master"],
        "attributes": {},
        "http": {
            "bound_address": [address],
            "publish_address": address,
            "max_content_length_in_bytes": 104857600,
        },
        "settings": {"cluster": {"name": ctx.cluster.name}, "node": {"name": ctx.cluster.name}},
        "os": {"name": "Linux", "available_processors": 2},
        "process": {"id": 0, "mlockall": False},
        "jvm": {"version": "21", "vm_name": "samplerr devserver (Python)"},
        "plugins": [],
        "modules": [],
    }
    return Response(
        200,
        {
            "_nodes": {"total": 1, "successful": 1, "failed": 0},
            "cluster_name": ctx.cluster.name,
            "nodes": {ctx.cluster.node_id: node},
        },
    )


def get_cluster_settings(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        body: JsonDict = {
            "persistent": dict(ctx.cluster.cluster_settings["persistent"]),
            "transient": dict(ctx.cluster.cluster_settings["transient"]),
        }
    if req.flag("include_defaults"):
        body["defaults"] = {
            "action.destructive_requires_name": "true",
            "action.auto_create_index": "true",
            "search.max_buckets": "65536",
        }
    if not req.flag("flat_settings"):
        body = {k: _nest(v) if isinstance(v, dict) else v for k, v in body.items()}
    return Response(200, body)


def _nest(flat: JsonDict) -> JsonDict:
    out: JsonDict = {}
    for key in sorted(flat):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = flat[key]
    return out


def put_cluster_settings(ctx: Ctx, req: Request) -> Response:
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    with ctx.cluster.lock:
        current = {scope: dict(values) for scope, values in ctx.cluster.cluster_settings.items()}
        acknowledged: JsonDict = {"acknowledged": True, "persistent": {}, "transient": {}}
        for scope in ("persistent", "transient"):
            for key, value in _flat(body.get(scope) or {}).items():
                if value is None:
                    current[scope].pop(key, None)
                else:
                    current[scope][key] = value
                acknowledged[scope][key] = value
        ctx.cluster.set_cluster_settings(current)
    acknowledged["persistent"] = _nest(acknowledged["persistent"])
    acknowledged["transient"] = _nest(acknowledged["transient"])
    return Response(200, acknowledged)


def _flat(values: JsonDict, prefix: str = "") -> JsonDict:
    """Cluster settings as dotted keys with string values (None resets a setting)."""
    out: JsonDict = {}
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flat(value, path))
        elif isinstance(value, bool):
            out[path] = "true" if value else "false"
        else:
            out[path] = None if value is None else str(value)
    return out


# --- /_devserver/ -------------------------------------------------------------------------------------------


def get_faults(ctx: Ctx, req: Request) -> Response:
    return Response(200, ctx.faults.as_json())


def set_faults(ctx: Ctx, req: Request) -> Response:
    ctx.faults.configure(parse_config(req.json(required=True)))
    return Response(200, {"acknowledged": True, "faults": ctx.faults.as_json()})


def clear_faults(ctx: Ctx, req: Request) -> Response:
    ctx.faults.clear()
    return Response(200, {"acknowledged": True})


def stats_handler(ctx: Ctx, req: Request) -> Response:
    body = ctx.stats.as_json()
    body["faults_injected"] = dict(ctx.faults.counts)
    with ctx.cluster.lock:
        body["indices"] = len(ctx.cluster.indices)
        body["docs"] = sum(len(i.docs) for i in ctx.cluster.indices.values())
    body["uptime_s"] = round(time.time() - ctx.started, 3)
    body["version"] = ctx.version
    return Response(200, body)
