"""``samplerr devserver``: run the Elasticsearch-compatible development server."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from samplerr.commands.common import EXIT_FAILURE, EXIT_USAGE, fail
from samplerr.devserver import DevServer, DevServerOptions
from samplerr.devserver.errors import EsError
from samplerr.devserver.faults import parse_config
from samplerr.devserver.server import VersionError

HELP = """Run a DEVELOPMENT server that answers like Elasticsearch (it is not Elasticsearch).

For tests, demos and trying samplerr without a cluster: indices, index templates, aliases (with
filters), _bulk, documents, _search/_count/_msearch with the common queries and aggregations
(date_histogram, terms, avg/min/max/sum …), _cat/indices and _cat/aliases — with Elasticsearch's
status codes and error bodies. Anything it does not implement answers 400 rather than a wrong result.

The first line printed is `listening on http://HOST:PORT` (use --port 0 for a free port).
Without --data-dir the state lives in memory; with it, every acknowledged write is in an append-only
log before the answer leaves, so the state survives kill -9 and restarts.
Faults for tests: the --fault-* options, or POST/GET/DELETE /_devserver/faults at run time;
counters at GET /_devserver/stats.
"""


def register(app: typer.Typer) -> None:
    @app.command(help=HELP)
    def devserver(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(help="Port to listen on; 0 picks a free one.", min=0, max=65535)
        ] = 9200,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                help="Keep state here (snapshot + write-ahead log) across restarts.",
                file_okay=False,
            ),
        ] = None,
        es_version: Annotated[
            str,
            typer.Option(
                "--es-version",
                help="Elasticsearch version to play: 9.x (default) or 8.x, e.g. 8.19.0. "
                "An 8.x server refuses clients sending compatible-with=9, as a real one does.",
            ),
        ] = "9.1.0",
        realtime: Annotated[
            bool,
            typer.Option(
                "--realtime",
                help="Make writes visible to search at once (Elasticsearch needs a refresh, "
                "or waits up to index.refresh_interval).",
            ),
        ] = False,
        fsync: Annotated[
            bool,
            typer.Option(
                "--fsync", help="fsync the log on every write (survive power loss, not only kill -9)."
            ),
        ] = False,
        fault_bulk_item_429_ratio: Annotated[
            float, typer.Option(help="Share of bulk items rejected with 429 (not applied).", min=0.0, max=1.0)
        ] = 0.0,
        fault_reject_503_ratio: Annotated[
            float, typer.Option(help="Share of requests answered 503 before any effect.", min=0.0, max=1.0)
        ] = 0.0,
        fault_latency_ms: Annotated[
            float, typer.Option(help="Latency added to every request.", min=0.0)
        ] = 0.0,
        fault_drop_connection_ratio: Annotated[
            float,
            typer.Option(help="Share of requests whose connection is closed unanswered.", min=0.0, max=1.0),
        ] = 0.0,
        fault_seed: Annotated[int | None, typer.Option(help="Seed for the fault choices.")] = None,
        verbose: Annotated[
            bool, typer.Option("--verbose", "-v", help="Log every request on stderr.")
        ] = False,
    ) -> None:
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        try:
            faults = parse_config(
                {
                    "bulk_item_429_ratio": fault_bulk_item_429_ratio,
                    "reject_503_ratio": fault_reject_503_ratio,
                    "latency_ms": fault_latency_ms,
                    "drop_connection_ratio": fault_drop_connection_ratio,
                    "seed": fault_seed,
                }
            )
            options = DevServerOptions(
                host=host,
                port=port,
                data_dir=data_dir,
                es_version=es_version,
                realtime=realtime,
                fsync=fsync,
                faults=faults,
            )
            server = DevServer(options)
        except (VersionError, EsError) as exc:
            fail(str(exc.reason if isinstance(exc, EsError) else exc), EXIT_USAGE)
        except OSError as exc:
            fail(f"cannot start the development server: {exc}", EXIT_FAILURE)

        def stop(signum: int, frame: FrameType | None) -> None:
            # serve_forever runs in this thread: ask for its end from another one
            threading.Thread(target=server.http.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)

        sys.stdout.write(f"listening on {server.url}\n")
        sys.stdout.flush()
        typer.echo(
            f"samplerr development server playing Elasticsearch {es_version} (not Elasticsearch); "
            f"state: {data_dir or 'in memory'}",
            err=True,
        )

        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
