"""Index APIs: create (templates applied), delete, exists, get, mappings, settings, refresh."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from samplerr.devserver import settings as settings_mod
from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import (
    EsError,
    already_exists,
    illegal_argument,
    index_not_found,
    invalid_alias_name,
    invalid_index_name,
    parsing,
)
from samplerr.devserver.http import Request, Response, product_origin
from samplerr.devserver.mapping import Mapping, mapper_parsing
from samplerr.devserver.names import (
    ALL_OPTIONS,
    IndicesOptions,
    alias_index_map,
    check_no_wildcards_for_destruction,
    dot_prefix_warnings,
    resolve,
    select_names,
    simple_match,
    split_expressions,
    validate_alias_name,
    validate_index_name,
)
from samplerr.devserver.query import parse_query
from samplerr.devserver.store import AliasMeta, Cluster, Index, new_uuid
from samplerr.devserver.templates import compose

JsonDict = dict[str, Any]
# MetadataCreateIndexService.validateDotIndex (7.7+): a dot-prefixed index that is neither hidden nor a
# system index gets this warning. "Hidden" is read from the settings after templates are applied
# (buildAndValidateTemporaryIndexMetadata: isHiddenAfterTemplates), so a template's index.hidden counts.
DOT_WARNING = (
    "index name [{name}] starts with a dot '.', in the next major version, index names starting with a "
    "dot are reserved for hidden indices and system indices"
)
CREATE_KEYS = frozenset({"settings", "mappings", "aliases"})
VERSION_IDS = {8: "8527000", 9: "9009000"}


def alias_meta(alias: str, spec: Any) -> AliasMeta:
    validate_alias_name(alias)
    spec = spec or {}
    if not isinstance(spec, dict):
        raise illegal_argument(f"alias [{alias}] definition must be an object")
    meta = AliasMeta(
        filter=spec.get("filter"),
        index_routing=_str_or_none(spec.get("index_routing", spec.get("routing"))),
        search_routing=_str_or_none(spec.get("search_routing", spec.get("routing"))),
        is_write_index=spec.get("is_write_index"),
        is_hidden=spec.get("is_hidden"),
    )
    if meta.filter is not None:
        try:
            parse_query(meta.filter)
        except EsError as exc:
            raise illegal_argument(f"failed to parse filter for alias [{alias}]", caused_by=exc) from exc
    return meta


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def create_index(
    cluster: Cluster, name: str, body: Any, *, auto: bool = False, origin: bool = False
) -> tuple[Index, list[str]]:
    """Create ``name`` (caller holds the lock); returns the index and the deprecation warnings to send.

    ``origin``: the request said it comes from an Elastic product (X-elastic-product-origin).
    """
    validate_index_name(name)
    if name in cluster.indices:
        raise already_exists(name, cluster.indices[name].uuid)
    if any(name in idx.aliases for idx in cluster.indices.values()):
        raise invalid_index_name(name, "already exists as alias")
    body = body or {}
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    unknown = [k for k in body if k not in CREATE_KEYS]
    if unknown:
        raise parsing(f"unknown key [{unknown[0]}] for create index")
    request_settings = settings_mod.flatten(body.get("settings"))
    hidden = request_settings.get("index.hidden") == "true"
    comp = compose(cluster, name, hidden)
    if auto and comp.template is not None and comp.template.body.get("allow_auto_create") is False:
        raise index_not_found(name)
    flat: JsonDict = {
        "index.number_of_shards": "1",
        "index.number_of_replicas": "1",
        "index.routing.allocation.include._tier_preference": "data_content",
    }
    flat.update(comp.settings)
    flat.update(request_settings)
    flat = {k: v for k, v in flat.items() if v is not None}
    settings_mod.validate(flat)
    flat["index.version.created"] = VERSION_IDS.get(cluster.major, "9009000")
    mapping = Mapping()
    try:
        for part in comp.mappings:
            mapping = mapping.merged(part)
        if body.get("mappings"):
            mapping = mapping.merged(body["mappings"])
    except EsError as exc:
        if exc.type == "mapper_parsing_exception":
            raise mapper_parsing(f"Failed to parse mapping: {exc.reason}", caused_by=exc) from exc
        raise
    aliases: dict[str, AliasMeta] = {}
    for alias, spec in {**comp.aliases, **(body.get("aliases") or {})}.items():
        meta = alias_meta(alias, spec)
        if alias in cluster.indices:
            raise invalid_alias_name(alias, "an index or data stream exists with the same name as the alias")
        if alias == name:
            raise invalid_alias_name(alias, "an index or data stream exists with the same name as the alias")
        aliases[alias] = meta
    index = Index(name, new_uuid(), int(time.time() * 1000), flat, mapping)
    index.aliases = aliases
    cluster.add_index(index)
    warnings = dot_prefix_warnings(cluster.version_tuple, [name], origin=origin)
    if name.startswith(".") and not index.hidden:
        warnings.append(DOT_WARNING.format(name=name))
    return index, warnings


def create_handler(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["index"]
    body = req.json()
    with ctx.cluster.lock:
        _, warnings = create_index(ctx.cluster, name, body, origin=product_origin(req))
    return Response(
        200, {"acknowledged": True, "shards_acknowledged": True, "index": name}, warnings=warnings
    )


def delete_handler(ctx: Ctx, req: Request) -> Response:
    expressions = split_expressions(req.path_params["index"])
    cluster = ctx.cluster
    options = IndicesOptions(expand_open=True, expand_closed=True).with_params(req.params)
    with cluster.lock:
        check_no_wildcards_for_destruction(expressions, cluster.destructive_requires_name)
        for expr in expressions:
            if (
                not expr.startswith("-")
                and "*" not in expr
                and expr not in cluster.indices
                and any(expr in idx.aliases for idx in cluster.indices.values())
            ):
                raise illegal_argument(
                    f"The provided expression [{expr}] matches an alias, specify the corresponding "
                    "concrete indices instead."
                )
        resolution = resolve(expressions, cluster.indices, options, allow_aliases=False)
        for name in resolution.indices:
            cluster.drop_index(name)
    return Response(200, {"acknowledged": True})


def exists_handler(ctx: Ctx, req: Request) -> Response:
    expressions = split_expressions(req.path_params["index"])
    options = IndicesOptions(allow_no_indices=False).with_params(req.params)
    with ctx.cluster.lock:
        try:
            resolve(expressions, ctx.cluster.indices, options)
        except EsError:
            return Response(404)
    return Response(200)


def _targets(ctx: Ctx, req: Request, default: IndicesOptions | None = None) -> list[Index]:
    expressions = split_expressions(req.path_params.get("index"))
    options = (default or IndicesOptions(expand_hidden=False)).with_params(req.params)
    resolution = resolve(expressions, ctx.cluster.indices, options)
    return [ctx.cluster.indices[n] for n in sorted(resolution.indices)]


def get_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        out = {
            index.name: {
                "aliases": {a: m.to_json() for a, m in sorted(index.aliases.items())},
                "mappings": index.mapping.rendered(),
                "settings": index.settings_json(),
            }
            for index in _targets(ctx, req)
        }
    return Response(200, out)


def get_mapping_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        out = {index.name: {"mappings": index.mapping.rendered()} for index in _targets(ctx, req)}
    return Response(200, out)


def put_mapping_handler(ctx: Ctx, req: Request) -> Response:
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    cluster = ctx.cluster
    with cluster.lock:
        targets = _targets(ctx, req)
        merged = [(index, index.mapping.merged(body)) for index in targets]
        for index, mapping in merged:
            index.mapping = mapping
            cluster.mapping_changed(index)
    return Response(200, {"acknowledged": True})


def get_settings_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        out = {index.name: {"settings": index.settings_json()} for index in _targets(ctx, req)}
    name = req.path_params.get("name")
    if name:
        wanted = split_expressions(name)
        out = {k: {"settings": _select(v["settings"], wanted)} for k, v in out.items()}
    return Response(200, out)


def _select(nested: JsonDict, wanted: list[str]) -> JsonDict:
    flat: JsonDict = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = node

    walk("", nested)
    return settings_mod.nest({k: v for k, v in flat.items() if any(simple_match(w, k) for w in wanted)})


def put_settings_handler(ctx: Ctx, req: Request) -> Response:
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise parsing("request body must be an object")
    if "settings" in body and isinstance(body["settings"], dict):
        body = body["settings"]
    flat = settings_mod.flatten(body)
    settings_mod.validate(flat)
    cluster = ctx.cluster
    with cluster.lock:
        targets = _targets(ctx, req)
        for index in targets:
            settings_mod.check_updatable(flat, index.name, index.uuid)
        for index in targets:
            updated = dict(index.settings)
            for key, value in flat.items():
                if value is None:
                    updated.pop(key, None)
                else:
                    updated[key] = value
            index.settings = updated
            cluster.settings_changed(index)
    return Response(200, {"acknowledged": True})


def _shards(indices: list[Index]) -> JsonDict:
    total = sum(i.shards * (1 + i.replicas) for i in indices)
    ok = sum(i.shards for i in indices)
    return {"total": total, "successful": ok, "failed": 0}


def refresh_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        targets = _targets(ctx, req)
        for index in targets:
            index.refresh()
    return Response(200, {"_shards": _shards(targets)})


def flush_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        targets = _targets(ctx, req)
    return Response(200, {"_shards": _shards(targets)})


def stats_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        targets = _targets(ctx, req, ALL_OPTIONS)
        indices: JsonDict = {}
        total_docs = total_store = total_deleted = 0
        for index in targets:
            docs = len(index.visible)
            entry = {
                "docs": {"count": docs, "deleted": index.deleted},
                "store": {
                    "size_in_bytes": index.store_bytes,
                    "total_data_set_size_in_bytes": index.store_bytes,
                },
            }
            indices[index.name] = {
                "uuid": index.uuid,
                "health": index.health,
                "status": "open",
                "primaries": entry,
                "total": entry,
            }
            total_docs += docs
            total_store += index.store_bytes
            total_deleted += index.deleted
        summary = {
            "docs": {"count": total_docs, "deleted": total_deleted},
            "store": {"size_in_bytes": total_store, "total_data_set_size_in_bytes": total_store},
        }
    return Response(
        200,
        {"_shards": _shards(targets), "_all": {"primaries": summary, "total": summary}, "indices": indices},
    )


def resolve_index_handler(ctx: Ctx, req: Request) -> Response:
    """``GET _resolve/index/{name}``: the indices and aliases the expressions name, as Kibana's data view
    editor asks (``expand_wildcards`` defaults to ``open``: hidden indices only through ``hidden``, a
    wildcard starting with a dot, or their exact names).

    As ``ResolveIndexAction`` in 8.x: an alias matched is listed with all its indices (hidden ones
    included) and not expanded into ``indices``; attributes are sorted (``hidden``, ``open``); a missing
    exact name is left out.
    """
    expressions = split_expressions(req.path_params["name"])
    options = dataclasses.replace(IndicesOptions().with_params(req.params), ignore_unavailable=True)
    modes = split_expressions(req.params["mode"]) if "mode" in req.params else None
    cluster = ctx.cluster
    with cluster.lock:
        members = alias_index_map(cluster.indices)
        names = select_names(
            ["*" if e == "_all" else e for e in expressions], cluster.indices, members, options
        )
        indices: list[JsonDict] = []
        aliases: list[JsonDict] = []
        for name in sorted(names):
            index = cluster.indices.get(name)
            if index is None:
                aliases.append({"name": name, "indices": members[name]})
                continue
            entry: JsonDict = {"name": name}
            if index.aliases:
                entry["aliases"] = sorted(index.aliases)
            entry["attributes"] = ["hidden", "open"] if index.hidden else ["open"]
            if modes is None or "standard" in modes:  # every index here is of the standard mode
                indices.append(entry)
    return Response(200, {"indices": indices, "aliases": aliases, "data_streams": []})
