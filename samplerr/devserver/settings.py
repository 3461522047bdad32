"""Index settings: flattened to ``index.*`` keys with string values, validated like Elasticsearch.

Requests may nest (``{"index": {"number_of_shards": 1}}``), dot (``{"index.number_of_shards": 1}``) or
omit the ``index.`` prefix (``{"number_of_shards": 1}``); Elasticsearch stores strings and answers
nested objects. Unknown settings are refused with Elasticsearch's message (typos must not pass here
and fail in production).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from samplerr.devserver.errors import illegal_argument

FlatSettings = dict[str, Any]  # "index.x.y" -> str | list[str]

DYNAMIC = frozenset(
    {
        "index.number_of_replicas",
        "index.auto_expand_replicas",
        "index.refresh_interval",
        "index.hidden",
        "index.max_result_window",
        "index.max_inner_result_window",
        "index.max_rescore_window",
        "index.max_docvalue_fields_search",
        "index.max_script_fields",
        "index.max_terms_count",
        "index.max_regex_length",
        "index.priority",
        "index.default_pipeline",
        "index.final_pipeline",
        "index.gc_deletes",
        "index.requests.cache.enable",
        "index.search.idle.after",
        "index.write.wait_for_active_shards",
        "index.query.default_field",
        "index.unassigned.node_left.delayed_timeout",
    }
)
DYNAMIC_PREFIXES = (
    "index.routing.",
    "index.lifecycle.",
    "index.mapping.",
    "index.blocks.",
    "index.translog.",
    "index.merge.",
    "index.search.",
    "index.indexing.",
    "index.query.",
    "index.highlight.",
)
STATIC = frozenset(
    {
        "index.number_of_shards",
        "index.max_ngram_diff",
        "index.max_shingle_diff",
        "index.max_refresh_listeners",
        "index.codec",
        "index.mode",
        "index.format",
        "index.load_fixed_bitset_filters_eagerly",
        "index.shard.check_on_startup",
        "index.number_of_routing_shards",
        "index.routing_partition_size",
        "index.soft_deletes.enabled",
        "index.soft_deletes.retention_lease.period",
        "index.uuid",
        "index.version.created",
        "index.version.upgraded",
        "index.provided_name",
        "index.creation_date",
        "index.creation_date_string",
        "index.look_ahead_time",
        "index.look_back_time",
        "index.default_field",
        "index.frozen",
    }
)
KNOWN = DYNAMIC | STATIC
KNOWN_PREFIXES = (
    *DYNAMIC_PREFIXES,
    "index.analysis.",
    "index.store.",
    "index.sort.",
    "index.similarity.",
    "index.time_series.",
    "index.version.",
    "index.verified_before_close",
    "index.allocation.",
    "index.shard.",
    "index.queries.",
    "index.fielddata.",
)
PRIVATE = frozenset({"index.uuid", "index.version.created", "index.creation_date", "index.provided_name"})


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_text(v) for v in value]
    if value is None:
        return None
    return str(value)


def flatten(settings: Mapping[str, Any] | None) -> FlatSettings:
    """Flatten request settings to ``index.*`` keys with string values (None means reset)."""
    out: FlatSettings = {}

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            if isinstance(value, Mapping):
                walk(path, value)
            else:
                out[path if path.startswith("index.") else f"index.{path}"] = _text(value)

    if settings:
        if not isinstance(settings, Mapping):
            raise illegal_argument("settings must be an object")
        walk("", settings)
    return out


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"index.a.b": "1"}`` to ``{"index": {"a": {"b": "1"}}}`` (Elasticsearch's default rendering)."""
    root: dict[str, Any] = {}
    for key in sorted(flat):
        node = root
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = flat[key]
    return root


_TIME_RE = re.compile(r"-1|0|\d+(?:nanos|micros|ms|s|m|h|d)\Z")


def _int_setting(key: str, value: Any, low: int, high: int | None = None) -> None:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from exc
    if number < low:
        raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}] must be >= {low}")
    if high is not None and number > high:
        raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}] must be <= {high}")


def validate(flat: FlatSettings, *, allow_private: bool = False) -> None:
    for key, value in flat.items():
        if key in PRIVATE and not allow_private:
            raise illegal_argument(f"private index setting [{key}] can not be set explicitly")
        if key not in KNOWN and not key.startswith(KNOWN_PREFIXES):
            raise illegal_argument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check "
                "the breaking changes documentation for removed settings"
            )
        if value is None:
            continue
        if key == "index.number_of_shards":
            _int_setting(key, value, 1, 1024)
        elif key in ("index.number_of_replicas", "index.max_result_window", "index.priority"):
            _int_setting(key, value, 0)
        elif key in ("index.hidden", "index.blocks.read_only", "index.blocks.write", "index.blocks.read"):
            if value not in ("true", "false"):
                raise illegal_argument(
                    f"Failed to parse value [{value}] as only [true] or [false] are allowed."
                )
        elif key == "index.refresh_interval" and not _TIME_RE.match(str(value)):
            raise illegal_argument(
                f"failed to parse setting [{key}] with value [{value}] as a time value: unit is missing or "
                "unrecognized"
            )


def check_updatable(flat: FlatSettings, index: str, uuid: str) -> None:
    static = sorted(k for k in flat if k not in DYNAMIC and not k.startswith(DYNAMIC_PREFIXES))
    if static:
        raise illegal_argument(
            f"Can't update non dynamic settings [[{', '.join(static)}]] for open indices [[{index}/{uuid}]]"
        )


def refresh_interval_ms(flat: Mapping[str, Any]) -> int | None:
    """The periodic refresh interval in ms, or None when disabled (``-1``)."""
    value = str(flat.get("index.refresh_interval", "1s"))
    if value == "-1":
        return None
    match = re.fullmatch(r"(\d+)(nanos|micros|ms|s|m|h|d)", value)
    if match is None:
        return 1000 if value != "0" else 0
    scale = {"nanos": 1e-6, "micros": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return int(int(match.group(1)) * scale[match.group(2)])


def is_true(flat: Mapping[str, Any], key: str) -> bool:
    return flat.get(key) == "true"


def positive_int(flat: Mapping[str, Any], key: str, default: int) -> int:
    try:
        return int(flat.get(key, default))
    except (TypeError, ValueError):
        return default
