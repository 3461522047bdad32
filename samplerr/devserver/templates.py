"""Composable index templates (``_index_template``) and component templates (``_component_template``).

The template that applies to a new index is the matching one with the highest ``priority``; two
templates with the same priority and overlapping patterns are refused at creation, as Elasticsearch
does. Settings, mappings and aliases compose in order: component templates (``composed_of``), the
template's own ``template``, then the create-index request.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from samplerr.devserver import settings as settings_mod
from samplerr.devserver.context import Ctx
from samplerr.devserver.errors import (
    EsError,
    illegal_argument,
    resource_not_found,
    unsupported,
    validation_failed,
)
from samplerr.devserver.http import Request, Response, product_origin
from samplerr.devserver.mapping import Mapping, mapper_parsing
from samplerr.devserver.names import (
    dot_prefix_warnings,
    is_wildcard,
    simple_match,
    split_expressions,
    validate_alias_name,
)
from samplerr.devserver.query import parse_query
from samplerr.devserver.store import Cluster, Template

JsonDict = dict[str, Any]
TEMPLATE_KEYS = frozenset(
    {
        "index_patterns",
        "template",
        "composed_of",
        "priority",
        "version",
        "_meta",
        "data_stream",
        "allow_auto_create",
        "ignore_missing_component_templates",
        "deprecated",
    }
)
GLOBAL_HIDDEN = "global composable templates may not specify the setting index.hidden"
INNER_KEYS = frozenset({"settings", "mappings", "aliases", "lifecycle", "data_stream_options"})


@dataclass
class Composition:
    settings: JsonDict = field(default_factory=dict)  # flat
    mappings: list[JsonDict] = field(default_factory=list)
    aliases: dict[str, JsonDict] = field(default_factory=dict)
    template: Template | None = None


def _inner(name: str, body: Any) -> JsonDict:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise EsError(400, "x_content_parse_exception", "[1:1] [template] failed to parse field [template]")
    unknown = [k for k in body if k not in INNER_KEYS]
    if unknown:
        raise EsError(400, "x_content_parse_exception", f"[1:1] [template] unknown field [{unknown[0]}]")
    out: JsonDict = {}
    if body.get("settings"):
        flat = settings_mod.flatten(body["settings"])
        settings_mod.validate(flat)
        out["settings"] = settings_mod.nest(flat)
    if body.get("mappings"):
        try:
            Mapping(body["mappings"])
        except EsError as exc:
            raise mapper_parsing(f"Failed to parse mapping: {exc.reason}", caused_by=exc) from exc
        out["mappings"] = copy.deepcopy(body["mappings"])
    if body.get("aliases"):
        aliases = body["aliases"]
        if not isinstance(aliases, dict):
            raise illegal_argument(f"[aliases] of template [{name}] must be an object")
        for alias, spec in aliases.items():
            validate_alias_name(alias)
            if isinstance(spec, dict) and spec.get("filter") is not None:
                parse_query(spec["filter"])
        out["aliases"] = copy.deepcopy(aliases)
    if body.get("lifecycle"):
        out["lifecycle"] = copy.deepcopy(body["lifecycle"])
    return out


def _patterns_overlap(a: str, b: str) -> bool:
    if not is_wildcard(a) and not is_wildcard(b):
        return a == b
    if not is_wildcard(a):
        return simple_match(b, a)
    if not is_wildcard(b):
        return simple_match(a, b)
    pa, sa = a.split("*", maxsplit=1)[0], a.rsplit("*", maxsplit=1)[-1]
    pb, sb = b.split("*", maxsplit=1)[0], b.rsplit("*", maxsplit=1)[-1]
    prefix_ok = pa.startswith(pb) or pb.startswith(pa)
    suffix_ok = sa.endswith(sb) or sb.endswith(sa)
    return prefix_ok and suffix_ok


def put_template(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["name"]
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise illegal_argument("index template must be an object")
    unknown = [k for k in body if k not in TEMPLATE_KEYS]
    if unknown:
        raise EsError(
            400, "x_content_parse_exception", f"[1:2] [index_template] unknown field [{unknown[0]}]"
        )
    patterns = body.get("index_patterns")
    if isinstance(patterns, str):
        patterns = [patterns]
    if not patterns:
        raise validation_failed("index patterns are missing")
    for p in patterns:
        if " " in p or "," in p or "#" in p or ":" in p:
            raise EsError(
                400,
                "invalid_index_template_exception",
                f"index_template [{name}] invalid, cause [index_pattern [{p}] must not contain a space, "
                "a comma, a '#' or a ':']",
            )
        if p.startswith("_"):
            raise EsError(
                400,
                "invalid_index_template_exception",
                f"index_template [{name}] invalid, cause [index_pattern [{p}] must not start with '_']",
            )
    if body.get("data_stream") is not None:
        raise unsupported("data streams (index templates with [data_stream])")
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise illegal_argument(f"index template priority must be >= 0, got [{priority}]")
    normalized: JsonDict = {"index_patterns": list(patterns)}
    inner = _inner(name, body.get("template"))
    if "*" in patterns and "index.hidden" in settings_mod.flatten(inner.get("settings")):
        # PutComposableIndexTemplateAction.Request.validate: a match-all template cannot hide indices
        raise validation_failed(GLOBAL_HIDDEN)
    if inner:
        normalized["template"] = inner
    composed = body.get("composed_of", [])
    normalized["composed_of"] = list(composed)
    if "priority" in body:
        normalized["priority"] = priority
    for key in ("version", "_meta", "allow_auto_create", "ignore_missing_component_templates", "deprecated"):
        if key in body:
            normalized[key] = body[key]
    cluster = ctx.cluster
    with cluster.lock:
        if req.flag("create") and name in cluster.templates:
            raise illegal_argument(f"index template [{name}] already exists")
        if "*" in patterns and any(
            "index.hidden" in settings_mod.flatten(cluster.components[c].get("template", {}).get("settings"))
            for c in composed
            if c in cluster.components
        ):  # MetadataIndexTemplateService.validateV2TemplateRequest, component templates merged
            raise EsError(
                400,
                "invalid_index_template_exception",
                f"index_template [{name}] invalid, cause [{GLOBAL_HIDDEN}]",
            )
        missing = [c for c in composed if c not in cluster.components]
        ignored = set(body.get("ignore_missing_component_templates") or [])
        missing = [c for c in missing if c not in ignored]
        if missing:
            raise EsError(
                400,
                "invalid_index_template_exception",
                f"index_template [{name}] invalid, cause [index template [{name}] specifies component "
                f"templates {_java_list(missing)} that do not exist]",
            )
        conflicts: list[Template] = []
        for other in cluster.templates.values():
            if other.name == name or other.priority != priority:
                continue
            if any(_patterns_overlap(a, b) for a in patterns for b in other.patterns):
                conflicts.append(other)
        if conflicts:
            names = ",".join(t.name for t in conflicts)
            detail = ",".join(f"{t.name} => {_java_list(t.patterns)}" for t in conflicts)
            raise illegal_argument(
                f"index template [{name}] has index patterns {_java_list(list(patterns))} matching "
                "patterns from "
                f"existing templates [{names}] with patterns ({detail}) that have the same priority "
                f"[{priority}], "
                "multiple index templates may not match during index creation, please use a different "
                "priority"
            )
        cluster.put_template(Template(name, normalized))
        warnings = dot_prefix_warnings(cluster.version_tuple, patterns, origin=product_origin(req))
    return Response(200, {"acknowledged": True}, warnings=warnings)


def _java_list(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


def get_templates(ctx: Ctx, req: Request) -> Response:
    names = split_expressions(req.path_params.get("name"))
    with ctx.cluster.lock:
        found = [
            t
            for t in sorted(ctx.cluster.templates.values(), key=lambda t: t.name)
            if not names or any(simple_match(n, t.name) for n in names)
        ]
        if names and not found:
            raise resource_not_found(f"index template matching [{','.join(names)}] not found")
        out = [{"name": t.name, "index_template": copy.deepcopy(t.body)} for t in found]
    return Response(200, {"index_templates": out})


def template_exists(ctx: Ctx, req: Request) -> Response:
    names = split_expressions(req.path_params.get("name"))
    with ctx.cluster.lock:
        found = any(simple_match(n, t) for n in names for t in ctx.cluster.templates)
    return Response(200 if found else 404)


def delete_template(ctx: Ctx, req: Request) -> Response:
    names = split_expressions(req.path_params["name"])
    cluster = ctx.cluster
    with cluster.lock:
        targets: list[str] = []
        for n in names:
            matched = [t for t in cluster.templates if simple_match(n, t)]
            if not matched and not is_wildcard(n):
                raise resource_not_found(f"index_template [{n}] missing")
            targets.extend(matched)
        for t in dict.fromkeys(targets):
            cluster.drop_template(t)
    return Response(200, {"acknowledged": True})


def put_component(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["name"]
    body = req.json(required=True)
    if not isinstance(body, dict) or "template" not in body:
        raise validation_failed("template is missing")
    unknown = [k for k in body if k not in ("template", "version", "_meta", "deprecated")]
    if unknown:
        raise EsError(
            400, "x_content_parse_exception", f"[1:2] [component_template] unknown field [{unknown[0]}]"
        )
    normalized: JsonDict = {"template": _inner(name, body["template"])}
    for key in ("version", "_meta", "deprecated"):
        if key in body:
            normalized[key] = body[key]
    with ctx.cluster.lock:
        if req.flag("create") and name in ctx.cluster.components:
            raise illegal_argument(f"component template [{name}] already exists")
        ctx.cluster.put_component(name, normalized)
    return Response(200, {"acknowledged": True})


def get_components(ctx: Ctx, req: Request) -> Response:
    names = split_expressions(req.path_params.get("name"))
    with ctx.cluster.lock:
        found = [
            (n, b)
            for n, b in sorted(ctx.cluster.components.items())
            if not names or any(simple_match(p, n) for p in names)
        ]
        if names and not found:
            raise resource_not_found(f"component template matching [{','.join(names)}] not found")
        out = [{"name": n, "component_template": copy.deepcopy(b)} for n, b in found]
    return Response(200, {"component_templates": out})


def delete_component(ctx: Ctx, req: Request) -> Response:
    names = split_expressions(req.path_params["name"])
    cluster = ctx.cluster
    with cluster.lock:
        for n in names:
            if n not in cluster.components:
                raise resource_not_found(f"component_template [{n}] missing")
            users = [t.name for t in cluster.templates.values() if n in t.body.get("composed_of", [])]
            if users:
                raise illegal_argument(
                    f"component templates [{n}] cannot be removed as they are still in use by "
                    f"index templates [{', '.join(users)}]"
                )
        for n in names:
            cluster.drop_component(n)
    return Response(200, {"acknowledged": True})


def compose(cluster: Cluster, index: str, hidden: bool) -> Composition:
    """What the matching template (if any) gives a new index ``index``."""
    candidates = [
        t
        for t in cluster.templates.values()
        if any(simple_match(p, index) for p in t.patterns) and not (hidden and "*" in t.patterns)
    ]
    result = Composition()
    if not candidates:
        return result
    template = max(candidates, key=lambda t: (t.priority, t.name))
    result.template = template
    parts = [
        cluster.components[c]["template"]
        for c in template.body.get("composed_of", [])
        if c in cluster.components
    ]
    parts.append(template.body.get("template", {}))
    for part in parts:
        result.settings.update(settings_mod.flatten(part.get("settings")))
        if part.get("mappings"):
            result.mappings.append(part["mappings"])
        for alias, spec in (part.get("aliases") or {}).items():
            result.aliases[alias] = spec or {}
    return result


def legacy_template(ctx: Ctx, req: Request) -> Response:
    raise unsupported("legacy index templates (_template; use _index_template)")


def simulate_index(ctx: Ctx, req: Request) -> Response:
    name = req.path_params["index"]
    with ctx.cluster.lock:
        comp = compose(ctx.cluster, name, False)
        mapping = Mapping()
        for m in comp.mappings:
            mapping = mapping.merged(m)
        out: JsonDict = {
            "template": {
                "settings": settings_mod.nest(comp.settings),
                "mappings": mapping.rendered(),
                "aliases": comp.aliases,
            }
        }
        overlapping = [
            {"name": t.name, "index_patterns": t.patterns}
            for t in ctx.cluster.templates.values()
            if comp.template is not None
            and t.name != comp.template.name
            and any(simple_match(p, name) for p in t.patterns)
        ]
        out["overlapping"] = overlapping
    return Response(200, out)
