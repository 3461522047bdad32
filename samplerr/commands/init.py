"""``samplerr init``: check that Elasticsearch is reachable and install samplerr's index template."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import typer

from samplerr.adapters.es_connection import EsConnection, ServerInfo
from samplerr.adapters.es_template import TemplateResult, install_template
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
    "Exit status: 0 done, 1 Elasticsearch unreachable or refusing (the message says why), "
    "2 invalid configuration or options."
)


@dataclass(frozen=True, slots=True)
class InitResult:
    server: ServerInfo
    template: TemplateResult

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
        }


def run_init(config: Config) -> InitResult:
    """Probe the server and install the index template (a PUT only when it differs).

    Raises :class:`~samplerr.core.errors.SinkError` when Elasticsearch cannot be reached or refuses.
    """
    with EsConnection(config.elasticsearch) as connection:
        server = connection.server_info()
        template = install_template(connection, config)
    return InitResult(server, template)


def register(app: typer.Typer) -> None:
    @app.command("init", help=INIT_HELP)
    def init(config: ConfigOption = None, es: EsOption = None, json_output: JsonOption = False) -> None:
        """Install samplerr's index template in Elasticsearch, or check that it is installed."""
        cfg = config_with_es_or_exit(config, es)
        try:
            result = run_init(cfg)
        except SinkError as exc:
            fail(str(exc), EXIT_FAILURE)
        if json_output:
            typer.echo(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
            return
        server, template = result.server, result.template
        typer.echo(f"Elasticsearch {server.version} at {server.host} (cluster {server.cluster_name!r})")
        patterns = ", ".join(template.index_patterns)
        typer.echo(f"index template {template.name!r} for {patterns}: {template.action}")
