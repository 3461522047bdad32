"""The composable index template that gives samplerr's indices their mappings and settings.

One ``_index_template`` covers ``index_prefix*`` and maps:

- ``@timestamp`` as ``date`` (the window start, UTC);
- the configured series key fields as ``keyword``, and any other string field (tags, key fields
  of formats whose key is "service + all tags") as ``keyword`` through a dynamic template — series
  fields are filtered and aggregated on, never searched as text;
- ``metric`` and the compact layout's cfunc fields (``avg``, ``min`` …) as ``double``, ``count`` as
  ``long``, ``cfunc`` as ``keyword``, ``step`` (seconds, at most a few years) as ``integer``.

Index settings, chosen for long-term metrics written in batches and read over long ranges:

- ``refresh_interval: 30s``: windows are written in batches at most every few seconds and are at
  least ``step`` (20 s or more) wide, so a 30 s delay before they are searchable costs nothing a
  dashboard shows, and spares the cluster many small segments and merges (the default 1 s refresh
  is made for interactive search).
- ``codec: best_compression``: the coarse archives are kept for years and read rarely; DEFLATE
  stores them noticeably smaller for a small cost on reads.
- Shards and replicas are left to the cluster's defaults (1 primary since Elasticsearch 7;
  replicas per the cluster's policy): a single-node cluster and a production one want different
  replicas, and the operator knows which one this is.
- ``hidden: true`` (Elasticsearch 7.7+): the archive indices are storage behind the aliases, as a data
  stream's ``.ds-`` backing indices are, and the aliases (visible) are what Grafana and Kibana search,
  since only they carry the filters that serve each instant once. A dot prefix alone does not keep an
  index out of ``*``, ``_all`` or Kibana's index pattern suggestions: a visible dot index is an
  ordinary index to wildcards. A hidden one is matched only by its exact name, through an alias, with
  ``expand_wildcards`` including ``hidden``, or by a wildcard that starts with a dot as its name does
  (``.samplerr-*``; ``IndexNameExpressionResolver.implicitHiddenMatch``). samplerr's own reads name
  ``expand_wildcards`` explicitly, so they work with any ``index_prefix``.
  Hidden also spares the deprecation warning Elasticsearch sends for every visible dot-prefixed index
  it creates (``MetadataCreateIndexService.validateDotIndex``, which reads ``index.hidden`` after the
  templates are applied): a bulk request of a backfill that auto-creates hundreds of indices no longer
  gets a ``Warning`` header per index from it (Python's ``http.client`` refuses an answer with more
  than 100 headers). Since 8.16 Elasticsearch adds one other warning per dot-prefixed index created,
  hidden or not (modules/dot-prefix-validation), so there a bulk creating more than about 100 new
  indices still draws too many headers (the writer's retry then succeeds: the indices exist).

Indices created before the template said ``hidden`` keep their settings: :func:`hide_existing_indices`
(run by ``samplerr init``) sets ``index.hidden`` on the archive indices, the lock index and the
checkpoint index that are still visible, never on an unknown index under the prefix.

``priority`` is 300, above Elasticsearch's built-in templates (100) so that no built-in pattern
can take precedence. ``_meta`` records the samplerr version and a fingerprint of the content:
:func:`install_template` reads the installed template back and sends a PUT only when the
fingerprint, patterns or priority differ, so installing at every start is free and changes
nothing when nothing changed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from samplerr import __version__
from samplerr.adapters.checkpoint import checkpoint_index
from samplerr.adapters.es_catalogue import (
    LOCK_SUFFIX,
    classify_indices,
    hidden_flags,
    hide_indices,
    list_indices,
)
from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import CFUNCS, Config

TEMPLATE_PRIORITY = 300
REFRESH_INTERVAL = "30s"
# Fields samplerr writes itself; a key field with one of these names is not mapped as keyword.
VALUE_FIELDS: dict[str, str] = {"metric": "double", **dict.fromkeys(CFUNCS, "double"), "count": "long"}
RESERVED_FIELDS = frozenset({"@timestamp", "cfunc", "step", *VALUE_FIELDS})


def template_name(index_prefix: str) -> str:
    """``samplerr`` for the default prefix, else ``samplerr-<prefix>`` (``.m-`` → ``samplerr-m``)."""
    core = re.sub(r"[^a-z0-9_-]+", "-", index_prefix.lower()).strip(".-_")
    return "samplerr" if core in ("", "samplerr") else f"samplerr-{core}"


def template_body(config: Config) -> dict[str, Any]:
    """The ``PUT _index_template/<name>`` body for ``config`` (fingerprint included)."""
    key_fields = config.series.key or ()
    properties: dict[str, Any] = {
        "@timestamp": {"type": "date"},
        **{name: {"type": "keyword"} for name in key_fields if name not in RESERVED_FIELDS},
        "cfunc": {"type": "keyword"},
        "step": {"type": "integer"},
        **{name: {"type": kind} for name, kind in VALUE_FIELDS.items()},
    }
    content: dict[str, Any] = {
        "index_patterns": [f"{config.elasticsearch.index_prefix}*"],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "index": {"refresh_interval": REFRESH_INTERVAL, "codec": "best_compression", "hidden": True}
            },
            "mappings": {
                "dynamic_templates": [
                    {
                        "strings_as_keywords": {
                            "match_mapping_type": "string",
                            "mapping": {"type": "keyword", "ignore_above": 1024},
                        }
                    }
                ],
                "properties": properties,
            },
        },
    }
    fingerprint = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    content["_meta"] = {"managed_by": "samplerr", "samplerr_version": __version__, "fingerprint": fingerprint}
    return content


@dataclass(frozen=True, slots=True)
class TemplateResult:
    """What :func:`install_template` did: ``created``, ``updated`` or ``unchanged``."""

    name: str
    action: Literal["created", "updated", "unchanged"]
    index_patterns: tuple[str, ...]


def installed_template(connection: EsConnection, name: str) -> Mapping[str, Any] | None:
    """The installed ``index_template`` object named ``name``, or ``None``."""
    response = connection.request("GET", f"/_index_template/{name}", allow=(404,))
    if response.status == 404 or not isinstance(response.body, Mapping):
        return None
    for entry in response.body.get("index_templates", ()):
        if isinstance(entry, Mapping) and entry.get("name") == name:
            template = entry.get("index_template")
            return template if isinstance(template, Mapping) else None
    return None


def _same(installed: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return bool(
        installed.get("_meta") == desired["_meta"]
        and list(installed.get("index_patterns", ())) == desired["index_patterns"]
        and installed.get("priority") == desired["priority"]
    )


def install_template(connection: EsConnection, config: Config) -> TemplateResult:
    """Install samplerr's index template unless the same one is installed already.

    Raises :class:`~samplerr.adapters.es_connection.EsRequestError` when Elasticsearch refuses.
    """
    name = template_name(config.elasticsearch.index_prefix)
    desired = template_body(config)
    patterns = tuple(desired["index_patterns"])
    installed = installed_template(connection, name)
    if installed is not None and _same(installed, desired):
        return TemplateResult(name, "unchanged", patterns)
    connection.request("PUT", f"/_index_template/{name}", body=desired)
    return TemplateResult(name, "created" if installed is None else "updated", patterns)


def hide_existing_indices(connection: EsConnection, config: Config) -> tuple[str, ...]:
    """Hide samplerr's indices made before the template hid them; returns the names it changed.

    Only names samplerr owns: the archive indices (classified by the archives' ``tf``), the lock index
    and the checkpoint index. An unknown index under the prefix is left as it is. Searching through
    the aliases is unchanged; ``*``, ``_all`` and wildcards not starting with a dot stop matching them.
    """
    prefix = config.elasticsearch.index_prefix
    flags = hidden_flags(connection, f"{prefix}*,{checkpoint_index(prefix)}")
    known = {
        item.info.name
        for item in classify_indices(list_indices(connection, prefix), config.archives, prefix).archived
    }
    known.update((prefix + LOCK_SUFFIX, checkpoint_index(prefix)))
    return hide_indices(connection, [name for name, hidden in flags.items() if not hidden and name in known])
