"""What every command shares: options, configuration loading and exit statuses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from samplerr.configfile import load_config
from samplerr.core.config import Config
from samplerr.core.errors import ConfigError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="archives.toml to use. Default: $SAMPLERR_CONFIG, ./archives.toml, "
        "/etc/samplerr/archives.toml, else the embedded default (the original samplerr synopsis).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def fail(message: str, status: int = EXIT_FAILURE) -> NoReturn:
    """Print ``samplerr: error: message`` on stderr and exit with ``status`` (no traceback)."""
    print(f"samplerr: error: {message}", file=sys.stderr)  # noqa: T201
    raise typer.Exit(status)


def config_or_exit(path: Path | None) -> Config:
    """Load the configuration, or exit with status 2 and the error naming file and key."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
