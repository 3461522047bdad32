"""``samplerr init``: check that Elasticsearch is reachable and install samplerr's index template."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import orjson
import typer

from samplerr.adapters.es_connection import EsConnection, ServerInfo
from samplerr.adapters.es_template import TemplateResult, hide_existing_indices, install_template
from samplerr.commands.common import (
    EXIT_FAILURE,
    ConfigOption,
    EsOption,
    JsonOption,
    config_with_es_or_exit,
    fail,
)
from samplerr.core.config import Config
from samplerr.core.errors import SinkError

INIT_HELP = (
    "Install samplerr's index template in Elasticsearch, or check that it is installed.\n\n"
    "Connects to the configured hosts, reports the server's version, and installs the composable index "
    "template covering the configured index_prefix (mappings for @timestamp, the series key fields, the "
    "values, cfunc and step). Running it again changes nothing unless the configuration or samplerr's "
    "version changed; `samplerr run` does the same at start.\n\n"
    "The template makes samplerr's indices hidden (searches go through the aliases). Archive, lock and "
    "checkpoint indices created before that are made hidden too, unless --keep-visible; an unknown index "
    "under the prefix is never changed.\n\n"
    "Exit status: 0 done, 1 Elasticsearch unreachable or refusing (the message says why), "
    "2 invalid configuration or options."
)


@dataclass(frozen=True, slots=True)
class InitResult:
    server: ServerInfo
    template: TemplateResult
    hidden: tuple[str, ...] = ()  # existing indices made hidden by this run

    def as_dict(self) -> dict[str, object]:
        return {
            "elasticsearch": {
                "version": self.server.version,
                "host": self.server.host,
                "cluster_name": self.server.cluster_name,
            },
            "template": {
                "name": self.template.name,
                "action": self.template.action,
                "index_patterns": list(self.template.index_patterns),
            },
            "hidden": list(self.hidden),
        }


def run_init(config: Config, *, hide_existing: bool = True) -> InitResult:
    """Probe the server, install the index template (a PUT only when it differs) and, unless
    ``hide_existing`` is false, hide samplerr's indices that are still visible.

    Raises :class:`~samplerr.core.errors.SinkError` when Elasticsearch cannot be reached or refuses.
    """
    with EsConnection(config.elasticsearch) as connection:
        server = connection.server_info()
        template = install_template(connection, config)
        hidden = hide_existing_indices(connection, config) if hide_existing else ()
    return InitResult(server, template, hidden)


def register(app: typer.Typer) -> None:
    @app.command("init", help=INIT_HELP)
    def init(
        config: ConfigOption = None,
        es: EsOption = None,
        json_output: JsonOption = False,
        keep_visible: Annotated[
            bool,
            typer.Option(
                "--keep-visible",
                help="Leave samplerr's existing visible indices as they are (new ones are hidden anyway).",
            ),
        ] = False,
    ) -> None:
        """Install samplerr's index template in Elasticsearch, or check that it is installed."""
        cfg = config_with_es_or_exit(config, es)
        try:
            result = run_init(cfg, hide_existing=not keep_visible)
        except SinkError as exc:
            fail(str(exc), EXIT_FAILURE)
        if json_output:
            typer.echo(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
            return
        server, template = result.server, result.template
        typer.echo(f"Elasticsearch {server.version} at {server.host} (cluster {server.cluster_name!r})")
        patterns = ", ".join(template.index_patterns)
        typer.echo(f"index template {template.name!r} for {patterns}: {template.action}")
        if result.hidden:
            shown = ", ".join(result.hidden[:5]) + (", …" if len(result.hidden) > 5 else "")
            typer.echo(f"existing indices made hidden: {len(result.hidden)} ({shown})")
