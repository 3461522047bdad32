"""Aliases: ``POST _aliases`` (atomic), ``PUT/DELETE {index}/_alias/{name}``, ``GET``/``HEAD _alias``.

``POST _aliases`` resolves every action first and applies all of them to a copy of the state, which
replaces the real one only if nothing failed: a missing index (404 ``index_not_found_exception``), a
``remove`` with ``must_exist: true`` of a missing alias (404 ``aliases_not_found_exception``), an alias
named like an index (400 ``invalid_alias_name_exception``) or two write indices for one alias change
nothing. As in Elasticsearch 8.14+, a ``remove`` of a missing alias without ``must_exist`` only fails
its own action (``errors: true`` and ``action_results``), unless it was the only effect of the request.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import (
    EsError,
    aliases_not_found,
    illegal_argument,
    invalid_alias_name,
    parsing,
    validation_failed,
)
from samplerr.devserver.http import Request, Response
from samplerr.devserver.indices import alias_meta
from samplerr.devserver.names import (
    ALL_OPTIONS,
    IndicesOptions,
    check_no_wildcards_for_destruction,
    is_all,
    resolve,
    simple_match,
    split_expressions,
)
from samplerr.devserver.store import AliasMeta, Cluster

JsonDict = dict[str, Any]
ACTION_KEYS = frozenset(
    {
        "index",
        "indices",
        "alias",
        "aliases",
        "filter",
        "routing",
        "index_routing",
        "search_routing",
        "is_write_index",
        "is_hidden",
        "must_exist",
    }
)
ALIAS_OPTIONS = IndicesOptions(expand_open=True, expand_closed=True, expand_hidden=True)


def _names(spec: JsonDict, single: str, plural: str) -> list[str]:
    value = spec.get(single, spec.get(plural))
    if value is None:
        return []
    if isinstance(value, str):
        return split_expressions(value) if "," in value else [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise parsing(f"[{single}] must be a string or an array of strings")


@dataclass
class _Action:
    kind: str
    indices: list[str]
    aliases: list[str]
    spec: JsonDict


def _parse_actions(body: Any) -> list[_Action]:
    if not isinstance(body, dict) or "actions" not in body:
        raise validation_failed("no action specified")
    raw = body["actions"]
    if not isinstance(raw, list):
        raw = [raw]
    actions: list[_Action] = []
    problems: list[str] = []
    for entry in raw:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise parsing("[aliases] each action must be an object with one key")
        ((kind, spec),) = entry.items()
        if kind not in ("add", "remove", "remove_index"):
            raise parsing(f"Unsupported action [{kind}]")
        if not isinstance(spec, dict):
            raise parsing(f"[{kind}] action must be an object")
        unknown = [k for k in spec if k not in ACTION_KEYS]
        if unknown:
            raise EsError(400, "x_content_parse_exception", f"[1:2] [{kind}] unknown field [{unknown[0]}]")
        indices = _names(spec, "index", "indices")
        aliases = _names(spec, "alias", "aliases")
        if not indices:
            problems.append("One of [index] or [indices] is required")
        if kind != "remove_index" and not aliases:
            problems.append("One of [alias] or [aliases] is required")
        if kind == "remove_index" and aliases:
            problems.append("aliases are unsupported for [remove_index]")
        if kind != "remove" and "must_exist" in spec:
            raise illegal_argument(f"[must_exist] is unsupported for [{kind.upper()}]")
        actions.append(_Action(kind, indices, aliases, spec))
    if problems:
        raise validation_failed(*problems)
    if not actions:
        raise validation_failed("no action specified")
    return actions


def apply_actions(cluster: Cluster, actions: list[_Action]) -> JsonDict:
    """Resolve and apply ``actions`` atomically (caller holds the lock); returns the response body."""
    state: dict[str, dict[str, AliasMeta]] = {n: copy.copy(idx.aliases) for n, idx in cluster.indices.items()}
    removed_indices: list[str] = []
    results: list[JsonDict] = []
    effects = 0
    for action in actions:
        if action.kind == "remove_index":
            check_no_wildcards_for_destruction(action.indices, cluster.destructive_requires_name)
            for expr in action.indices:
                if expr not in cluster.indices and any(expr in a for a in state.values()):
                    raise illegal_argument(
                        f"The provided expression [{expr}] matches an alias, specify the "
                        "corresponding concrete indices instead."
                    )
        resolution = resolve(action.indices, cluster.indices, ALIAS_OPTIONS)
        concrete = [n for n in resolution.indices if n not in removed_indices]
        if action.kind == "remove_index":
            removed_indices.extend(concrete)
            effects += len(concrete)
            results.append(_result(action, concrete, None))
            continue
        if action.kind == "add":
            for alias in action.aliases:
                meta = alias_meta(alias, _alias_spec(action.spec))
                if alias in cluster.indices and alias not in removed_indices:
                    raise invalid_alias_name(
                        alias, "an index or data stream exists with the same name as the alias"
                    )
                for name in concrete:
                    state[name][alias] = meta
                    effects += 1
            results.append(_result(action, concrete, None))
            continue
        must_exist = action.spec.get("must_exist") in (True, "true")
        removed = 0
        for name in concrete:
            matched = [
                a for a in state[name] if any(simple_match(p, a) or p == "_all" for p in action.aliases)
            ]
            if not matched and must_exist:
                raise aliases_not_found(action.aliases)
            for alias in matched:
                del state[name][alias]
                removed += 1
        effects += removed
        results.append(_result(action, concrete, None if removed else aliases_not_found(action.aliases)))
    if effects == 0:
        raise aliases_not_found(sorted({a for act in actions for a in act.aliases}) or ["_all"])
    _validate_aliases(state, removed_indices)
    changed = [
        n
        for n, aliases in state.items()
        if n not in removed_indices and aliases != cluster.indices[n].aliases
    ]
    for name in changed:
        cluster.indices[name].aliases = state[name]
    if changed:
        cluster.aliases_changed(changed)
    for name in dict.fromkeys(removed_indices):
        cluster.drop_index(name)
    errors = any("error" in r for r in results)
    response: JsonDict = {"acknowledged": True, "errors": errors}
    if errors:
        response["action_results"] = results
    return response


def _alias_spec(spec: JsonDict) -> JsonDict:
    return {
        k: v
        for k, v in spec.items()
        if k in ("filter", "routing", "index_routing", "search_routing", "is_write_index", "is_hidden")
    }


def _result(action: _Action, indices: list[str], error: EsError | None) -> JsonDict:
    entry: JsonDict = {
        "action": {"type": action.kind, "indices": sorted(indices), "aliases": action.aliases},
        "status": 200 if error is None else error.status,
    }
    if error is not None:
        entry["error"] = error.inner()
    return entry


def _validate_aliases(state: dict[str, dict[str, AliasMeta]], removed: list[str]) -> None:
    writers: dict[str, list[str]] = {}
    hidden: dict[str, dict[bool, list[str]]] = {}
    for name in sorted(state):
        if name in removed:
            continue
        for alias, meta in state[name].items():
            if meta.is_write_index:
                writers.setdefault(alias, []).append(name)
            hidden.setdefault(alias, {}).setdefault(bool(meta.is_hidden), []).append(name)
    for alias, names in writers.items():
        if len(names) > 1:
            raise EsError(
                500,
                "illegal_state_exception",
                f"alias [{alias}] has more than one write index [{','.join(names)}]",
            )
    for alias, split in hidden.items():
        if len(split) > 1:
            raise EsError(
                500,
                "illegal_state_exception",
                f"alias [{alias}] has is_hidden set to true on indices [{','.join(split[True])}] but does "
                "not "
                f"have is_hidden set to true on indices [{','.join(split[False])}]; alias must have the same "
                "is_hidden setting on all indices",
            )


def update_aliases_handler(ctx: Ctx, req: Request) -> Response:
    actions = _parse_actions(req.json(required=True))
    with ctx.cluster.lock:
        return Response(200, apply_actions(ctx.cluster, actions))


def put_alias_handler(ctx: Ctx, req: Request) -> Response:
    body = req.json() or {}
    if not isinstance(body, dict):
        raise parsing("alias body must be an object")
    spec = dict(body)
    action = _Action(
        "add", split_expressions(req.path_params["index"]), split_expressions(req.path_params["name"]), spec
    )
    with ctx.cluster.lock:
        return Response(200, apply_actions(ctx.cluster, [action]))


def delete_alias_handler(ctx: Ctx, req: Request) -> Response:
    action = _Action(
        "remove", split_expressions(req.path_params["index"]), split_expressions(req.path_params["name"]), {}
    )
    with ctx.cluster.lock:
        body = apply_actions(ctx.cluster, [action])
    if body.get("errors"):
        raise aliases_not_found(action.aliases)
    return Response(200, body)


def _collect(ctx: Ctx, req: Request) -> tuple[JsonDict, list[str]]:
    cluster = ctx.cluster
    names = split_expressions(req.path_params.get("name"))
    index_expr = split_expressions(req.path_params.get("index"))
    options = ALL_OPTIONS.with_params(req.params) if index_expr else ALL_OPTIONS
    indices = resolve(index_expr, cluster.indices, options).indices if index_expr else sorted(cluster.indices)
    out: JsonDict = {}
    seen: set[str] = set()
    for name in sorted(indices):
        index = cluster.indices[name]
        if names and not is_all(names):
            matched = {
                a: m.to_json()
                for a, m in sorted(index.aliases.items())
                if any(simple_match(p, a) for p in names)
            }
            seen.update(matched)
            if matched:
                out[name] = {"aliases": matched}
        else:
            if not index.aliases and not index_expr and index.hidden:
                continue
            out[name] = {"aliases": {a: m.to_json() for a, m in sorted(index.aliases.items())}}
            seen.update(index.aliases)
    missing = [n for n in names if "*" not in n and n != "_all" and n not in seen]
    return out, missing


def get_alias_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        out, missing = _collect(ctx, req)
    if missing:
        text = (
            f"alias [{missing[0]}] missing" if len(missing) == 1 else f"aliases [{','.join(missing)}] missing"
        )
        body: JsonDict = {"error": text, "status": 404}
        body.update(out)
        return Response(404, body)
    return Response(200, out)


def alias_exists_handler(ctx: Ctx, req: Request) -> Response:
    with ctx.cluster.lock:
        out, missing = _collect(ctx, req)
    return Response(200 if out and not missing else 404)
