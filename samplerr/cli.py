"""The ``samplerr`` command line: a thin layer that parses, sets up logging and hands off."""

from __future__ import annotations

import importlib
import sys

import typer

from samplerr import __version__

# Each module registers its command(s) with ``register(app)``; a run imports only the module of
# the command it runs (the Elasticsearch client, NumPy and the dev server take a while to import).
COMMANDS: dict[str, str] = {
    "check": "samplerr.commands.check",
    "downsample": "samplerr.commands.downsample",
    "init": "samplerr.commands.init",
    "rotate": "samplerr.commands.lifecycle",
    "purge": "samplerr.commands.lifecycle",
    "status": "samplerr.commands.lifecycle",
    "run": "samplerr.commands.run",
    "devserver": "samplerr.commands.devserver",
    "demo": "samplerr.commands.demo",
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))

HELP = """\
samplerr keeps long-term metrics in Elasticsearch the way rrdtool keeps them in files:
every metric is consolidated into archives of decreasing resolution, written to
time-named indices, and aliases always point Grafana and Kibana at the finest data kept.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samplerr {__version__}")
        raise typer.Exit


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ) -> None:
        """samplerr: round-robin metric archives in Elasticsearch."""

    for name in modules:
        importlib.import_module(name).register(app)
    return app


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules a command line needs: its command's, or all of them for help."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    if command in COMMANDS:
        return (COMMANDS[command],)
    return COMMAND_MODULES


def main() -> None:
    build_app(modules_for(sys.argv[1:]))()
