"""What every command shares: options, configuration loading and exit statuses."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from samplerr.adapters.es_hosts import split_hosts
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
EsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--es",
        metavar="URL",
        help="Elasticsearch URL, e.g. https://es1:9200; repeat it (or separate with commas) for several "
        "nodes. Overrides the hosts of the configuration's elasticsearch section.",
        show_default=False,
    ),
]


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


def with_hosts(config: Config, urls: list[str]) -> Config:
    """``config`` with its Elasticsearch hosts replaced by ``urls`` (comma-separated items allowed).

    Raises ``ValueError`` for an empty or unreadable URL.
    """
    hosts = tuple(part.strip() for url in urls for part in url.split(",") if part.strip())
    split_hosts(hosts)
    return dataclasses.replace(config, elasticsearch=dataclasses.replace(config.elasticsearch, hosts=hosts))


def config_with_es_or_exit(path: Path | None, es: list[str] | None) -> Config:
    """The configuration, with ``--es`` URLs (if any) instead of its hosts; exit 2 on a bad one."""
    config = config_or_exit(path)
    if not es:
        return config
    try:
        return with_hosts(config, es)
    except ValueError as exc:
        fail(f"--es: {exc}", EXIT_USAGE)
