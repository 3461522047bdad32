"""Reading raw configuration values: the keys of each section, typed getters, environment overrides.

:class:`SettingsReader` reads a value of a given type from a parsed TOML table and raises a
:class:`ConfigError` naming the key, or the environment variable when the value came from one
(``SAMPLERR_<SECTION>_<KEY>``, read by :func:`apply_environment` as the TOML value would read).
The rules about what the values mean live in :mod:`samplerr.core.config`.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from samplerr.core.durations import Duration, parse_duration
from samplerr.core.errors import ConfigError

ValueKind = Literal["str", "bool", "int", "float", "list", "duration", "table"]

SECTION_KEYS: dict[str, dict[str, ValueKind]] = {
    "elasticsearch": {
        "hosts": "list",
        "index_prefix": "str",
        "alias_prefix": "str",
        "username": "str",
        "password": "str",
        "api_key": "str",
        "ca_certs": "str",
        "verify_certs": "bool",
        "request_timeout": "float",
        "bulk_max_docs": "int",
        "bulk_max_bytes": "int",
        "max_retries": "int",
    },
    "series": {"key": "list", "include": "table", "exclude": "table"},
    "consolidation": {
        "layout": "str",
        "lateness": "duration",
        "late_hold": "duration",
        "idle_flush": "duration",
    },
    "kafka": {
        "bootstrap_servers": "str",
        "topics": "list",
        "group_id": "str",
        "format": "str",
        "topic_formats": "table",
        "config": "table",
        "dead_letter_topic": "str",
    },
    "service": {
        "listen": "str",
        "shutdown_timeout": "duration",
        "max_series": "int",
        "checkpoint": "str",
        "checkpoint_dir": "str",
        "health_grace": "duration",
    },
    "schedule": {"rotate": "str", "purge": "str", "enabled": "bool"},
}
ARCHIVE_KEYS: tuple[str, ...] = ("tf", "step", "ttl", "cfuncs")
TOP_LEVEL_KEYS: tuple[str, ...] = (*SECTION_KEYS, "archives")
ENV_PREFIX = "SAMPLERR_"
# SAMPLERR_ variables that are not settings of this file.
ENV_OTHER_NAMES: frozenset[str] = frozenset({"SAMPLERR_CONFIG"})
ENV_OTHER_PREFIXES: tuple[str, ...] = ("SAMPLERR_LOG_",)

_INTEGER = re.compile(r"[+-]?[0-9]+")


def toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class SettingsReader:
    """Reads one configuration, knowing where each value came from (file or environment)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.origins: dict[str, str] = {}  # dotted key -> environment variable that set it

    def error(self, key: str, message: str) -> ConfigError:
        for origin, variable in self.origins.items():
            if key == origin or key.startswith((origin + ".", origin + "[")):
                return ConfigError("environment", variable, message)
        return ConfigError(self.source, key, message)

    def from_environment(self, key: str) -> bool:
        return key in self.origins

    def check_keys(self, table: Mapping[str, Any], where: str, valid: Iterable[str]) -> None:
        valid = tuple(valid)
        for key in table:
            if key not in valid:
                name = f"{where}.{key}" if where else str(key)
                section = f"[{where}]" if where else "the top level"
                hint = did_you_mean(str(key), valid)
                raise self.error(name, f"unknown key in {section}; {hint}valid keys: {', '.join(valid)}")

    # Typed getters: ``table[key]`` when present, else ``default``; errors name ``where.key``.

    def string(self, table: Mapping[str, Any], where: str, key: str, default: str) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"{where}.{key}", f"must be a string, not {toml_type(value)}")
        if not value.strip():
            raise self.error(f"{where}.{key}", "must not be empty")
        return value

    def optional_string(self, table: Mapping[str, Any], where: str, key: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{where}.{key}", f"must be a string, not {toml_type(value)}")
        return value or None

    def boolean(self, table: Mapping[str, Any], where: str, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{where}.{key}", f"must be true or false, not {toml_type(value)}")
        return value

    def integer(self, table: Mapping[str, Any], where: str, key: str, default: int, minimum: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{where}.{key}", f"must be a whole number, not {toml_type(value)}")
        if value < minimum:
            raise self.error(f"{where}.{key}", f"must be at least {minimum}, not {value}")
        return value

    def positive_number(self, table: Mapping[str, Any], where: str, key: str, default: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{where}.{key}", f"must be a number, not {toml_type(value)}")
        if not math.isfinite(value) or value <= 0:
            raise self.error(f"{where}.{key}", f"must be a positive number, not {value}")
        return float(value)

    def strings(self, table: Mapping[str, Any], where: str, key: str, example: str) -> tuple[str, ...] | None:
        """A non-empty array of distinct non-empty strings, or None when absent."""
        name = f"{where}.{key}"
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise self.error(name, f"must be an array of strings such as {example}, not {toml_type(value)}")
        if not value:
            raise self.error(name, f"must not be empty; e.g. {example}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{name}[{index}]", f"must be a string, not {toml_type(item)}")
            if not item.strip():
                raise self.error(f"{name}[{index}]", "must not be empty")
            if item in value[:index]:
                raise self.error(f"{name}[{index}]", f"{item!r} is listed twice")
        return tuple(value)

    def duration(
        self, table: Mapping[str, Any], where: str, key: str, default: str, *, fixed: bool, allow_zero: bool
    ) -> Duration:
        value = table.get(key, default)
        if not isinstance(value, str):
            example = "'30s'" if fixed else "'2d' or '2 months'"
            raise self.error(
                f"{where}.{key}", f"must be a duration string such as {example}, not {toml_type(value)}"
            )
        try:
            return parse_duration(value, fixed=fixed, allow_zero=allow_zero)
        except ValueError as exc:
            raise self.error(f"{where}.{key}", str(exc)) from exc

    def table(self, table: Mapping[str, Any], where: str, key: str) -> Mapping[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, Mapping):
            raise self.error(f"{where}.{key}", f"must be a table, not {toml_type(value)}")
        return value

    def choice(
        self, table: Mapping[str, Any], where: str, key: str, default: str, valid: tuple[str, ...]
    ) -> str:
        value = self.string(table, where, key, default)
        if value not in valid:
            raise self.error(
                f"{where}.{key}",
                f"{value!r} is not valid; {did_you_mean(value, valid)}valid: {', '.join(valid)}",
            )
        return value


# --- environment: SAMPLERR_<SECTION>_<KEY> ----------------------------------------------------


def _env_value(variable: str, kind: ValueKind, text: str) -> object:
    """Read an environment value the way the TOML value would read."""
    if kind in {"str", "duration"}:
        return text
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return True
        if lowered in {"false", "0", "no", "off"}:
            return False
        raise ConfigError("environment", variable, "must be true or false")
    if kind == "int":
        if not _INTEGER.fullmatch(text.strip()):
            raise ConfigError("environment", variable, "must be a whole number")
        return int(text)
    if kind == "float":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError("environment", variable, "must be a number")
        return number
    if kind == "list":
        if text.lstrip().startswith("["):
            return _toml_value(variable, text, list, '["a", "b"]')
        return [item.strip() for item in text.split(",") if item.strip()]
    # a table, written as a TOML inline table
    if not text.strip():
        return {}
    return _toml_value(variable, text, dict, '{metrics = "json"}')


def _toml_value(variable: str, text: str, kind: type, example: str) -> object:
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("environment", variable, f"must be a TOML value such as {example}") from exc
    if not isinstance(value, kind):
        raise ConfigError("environment", variable, f"must be a TOML value such as {example}")
    return value


def apply_environment(
    reader: SettingsReader, tables: dict[str, dict[str, Any]], env: Mapping[str, str]
) -> None:
    """Override ``tables`` with ``SAMPLERR_<SECTION>_<KEY>`` variables; remember where each came from."""
    valid_names = [f"{ENV_PREFIX}{s.upper()}_{k.upper()}" for s, keys in SECTION_KEYS.items() for k in keys]
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX) or variable in ENV_OTHER_NAMES:
            continue
        if variable.startswith(ENV_OTHER_PREFIXES):
            continue
        section, _, key = variable[len(ENV_PREFIX) :].lower().partition("_")
        if section == "archives":
            raise ConfigError(
                "environment", variable, "archives cannot be set from the environment; edit [[archives]]"
            )
        kind = SECTION_KEYS.get(section, {}).get(key)
        if kind is None:
            others = ", ".join([*sorted(ENV_OTHER_NAMES), *(p + "*" for p in ENV_OTHER_PREFIXES)])
            raise ConfigError(
                "environment",
                variable,
                f"unknown variable; {did_you_mean(variable, valid_names)}samplerr reads "
                f"{ENV_PREFIX}<SECTION>_<KEY> for the keys of {', '.join(SECTION_KEYS)} (and {others})",
            )
        tables[section][key] = _env_value(variable, kind, env[variable])
        reader.origins[f"{section}.{key}"] = variable
