"""``_source`` filtering and the ``fields``/``docvalue_fields`` of hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from samplerr.devserver import dates
from samplerr.devserver.errors import parsing
from samplerr.devserver.mapping import extract
from samplerr.devserver.names import simple_match
from samplerr.devserver.store import Doc, Index, values

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class SourceFilter:
    enabled: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @property
    def whole(self) -> bool:
        return self.enabled and not self.includes and not self.excludes

    def apply(self, doc: Doc) -> Any:
        """The hit's ``_source``: the stored bytes untouched when not filtered."""
        if self.whole:
            return orjson.Fragment(doc.raw)
        return filter_source(doc.source, self.includes, self.excludes)


def _as_patterns(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    raise parsing("[_source] includes/excludes must be a string or an array of strings")


def parse_source(spec: Any, params: dict[str, str] | None = None) -> SourceFilter:
    params = params or {}
    result = SourceFilter()
    if spec is not None:
        if isinstance(spec, bool):
            result = SourceFilter(spec)
        elif isinstance(spec, (str, list)):
            result = SourceFilter(True, _as_patterns(spec))
        elif isinstance(spec, dict):
            result = SourceFilter(
                True,
                _as_patterns(spec.get("includes", spec.get("include"))),
                _as_patterns(spec.get("excludes", spec.get("exclude"))),
            )
        else:
            raise parsing("[_source] must be a boolean, a string, an array or an object")
    if "_source" in params:
        value = params["_source"]
        if value in ("true", "false"):
            result = SourceFilter(value == "true")
        else:
            result = SourceFilter(True, _as_patterns(value))
    if "_source_includes" in params or "_source_excludes" in params:
        result = SourceFilter(
            True,
            _as_patterns(params.get("_source_includes")) or result.includes,
            _as_patterns(params.get("_source_excludes")) or result.excludes,
        )
    return result


def _matches(patterns: tuple[str, ...], path: str, *, prefix_ok: bool) -> bool:
    for p in patterns:
        if simple_match(p, path):
            return True
        if prefix_ok and (p.startswith(path + ".") or (simple_match(p, path + ".x") and "*" in p)):
            return True
    return False


def filter_source(node: Any, includes: tuple[str, ...], excludes: tuple[str, ...], prefix: str = "") -> Any:
    if not isinstance(node, dict):
        return node
    out: JsonDict = {}
    for key, value in node.items():
        path = prefix + key
        if excludes and _matches(excludes, path, prefix_ok=False):
            continue
        if not includes or _matches(includes, path, prefix_ok=False):
            out[key] = _filter_children(value, (), excludes, path + ".")
        elif isinstance(value, (dict, list)) and _matches(includes, path, prefix_ok=True):
            kept = _filter_children(value, includes, excludes, path + ".")
            if kept not in ({}, []):
                out[key] = kept
    return out


def _filter_children(value: Any, includes: tuple[str, ...], excludes: tuple[str, ...], prefix: str) -> Any:
    if isinstance(value, dict):
        return filter_source(value, includes, excludes, prefix)
    if isinstance(value, list):
        kept = [_filter_children(v, includes, excludes, prefix) for v in value]
        return [k for k in kept if not (isinstance(k, dict) and not k and includes)]
    return value


def hit_fields(doc: Doc, index: Index, specs: list[Any]) -> JsonDict:
    """``fields`` / ``docvalue_fields``: values per field, dates formatted (by ``format`` if given)."""
    out: JsonDict = {}
    for spec in specs:
        if isinstance(spec, str):
            name, fmt = spec, None
        elif isinstance(spec, dict) and "field" in spec:
            name, fmt = str(spec["field"]), spec.get("format")
        else:
            raise parsing("[fields] entries must be strings or objects with a [field]")
        targets = (
            index.mapping.matching_fields(name)
            if "*" in name
            else ([ft] if (ft := index.mapping.field(name)) is not None else [])
        )
        for ft in targets:
            if ft.kind == "text" and ft.source_path == ft.path:
                vals = _raw_text(doc, ft.path)
            else:
                vals = list(values(doc, ft))
            if not vals:
                continue
            if ft.kind == "date":
                formatter = dates.formatter(str(fmt)) if fmt else ft.fmt
                assert formatter is not None
                vals = [formatter.format(int(v)) for v in vals]
            out[ft.path] = vals
    return out


def _raw_text(doc: Doc, path: str) -> list[Any]:
    return [v if isinstance(v, str) else str(v) for v in extract(doc.source, path.split("."))]
