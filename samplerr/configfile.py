"""Reading ``archives.toml`` from disk (the only I/O of configuration)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from samplerr.core.config import Config, parse_config
from samplerr.core.errors import ConfigError

DEFAULT_LOCATIONS = (Path("archives.toml"), Path("/etc/samplerr/archives.toml"))


def embedded_default_text() -> str:
    """The shipped default: the original samplerr synopsis (same as the top-level ``archives.toml``)."""
    return resources.files("samplerr").joinpath("default_archives.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate a configuration file.

    ``path=None`` looks at ``$SAMPLERR_CONFIG``, then ``./archives.toml``, then
    ``/etc/samplerr/archives.toml``, and falls back to the embedded default.
    Raises :class:`ConfigError` (naming the file and key) on any problem.
    """
    environ = os.environ if env is None else env
    if path is None and environ.get("SAMPLERR_CONFIG"):
        path = environ["SAMPLERR_CONFIG"]
    if path is None:
        path = next((p for p in DEFAULT_LOCATIONS if p.is_file()), None)
    if path is None:
        return parse_text(embedded_default_text(), "<embedded default>", environ)
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(source, "", "no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot be read: {exc}") from exc
    return parse_text(text, source, environ)


def parse_text(text: str, source: str, env: Mapping[str, str]) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"not valid TOML: {exc}") from exc
    return parse_config(data, source, env)
