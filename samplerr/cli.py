"""The ``samplerr`` command line: a thin layer that parses, sets up logging and hands off."""

from __future__ import annotations

import importlib

import typer

from samplerr import __version__

# Each module registers its command(s) with ``register(app)``.
COMMAND_MODULES: tuple[str, ...] = (
    "samplerr.commands.downsample",
    "samplerr.commands.check",
    "samplerr.commands.init",
    "samplerr.commands.lifecycle",
    "samplerr.commands.run",
    "samplerr.commands.devserver",
    "samplerr.commands.demo",
)

HELP = """\
samplerr keeps long-term metrics in Elasticsearch the way rrdtool keeps them in files:
every metric is consolidated into archives of decreasing resolution, written to
time-named indices, and aliases always point Grafana and Kibana at the finest data kept.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samplerr {__version__}")
        raise typer.Exit


def build_app() -> typer.Typer:
    app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """samplerr: round-robin metric archives in Elasticsearch."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    build_app()()
