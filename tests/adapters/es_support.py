"""Dev servers for the Elasticsearch adapter tests: real HTTP, each in its own process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest

from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import ElasticsearchSettings


@dataclass(frozen=True)
class Server:
    url: str
    version: str


@contextlib.contextmanager
def dev_server(version: str = "9.1.0", *extra: str) -> Iterator[Server]:
    """``samplerr devserver --port 0 --es-version VERSION`` in a subprocess, stopped afterwards."""
    command = [
        sys.executable,
        "-m",
        "samplerr",
        "devserver",
        "--port",
        "0",
        "--es-version",
        version,
        *extra,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        yield Server(line.split()[-1], version)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def session_server(request: pytest.FixtureRequest) -> Server | None:
    """The session's dev server from tests/conftest.py (``devserver`` fixture), when there is one."""
    try:
        server = request.getfixturevalue("devserver")
    except pytest.FixtureLookupError:
        return None
    return Server(str(getattr(server, "url", server)), "9")


def unique_prefix() -> str:
    return f".t{uuid.uuid4().hex[:10]}-"


def settings_for(server: Server, **kw: object) -> ElasticsearchSettings:
    prefix = unique_prefix()
    options: dict[str, object] = {
        "hosts": (server.url,),
        "index_prefix": prefix,
        "alias_prefix": prefix.lstrip("."),
        "request_timeout": 10.0,
    }
    options.update(kw)
    return ElasticsearchSettings(**options)  # type: ignore[arg-type]


def set_faults(connection: EsConnection, **faults: object) -> None:
    connection.request("POST", "/_devserver/faults", body=faults)


def clear_faults(connection: EsConnection) -> None:
    connection.request("DELETE", "/_devserver/faults")


def ndjson(index: str, count: int, start: int = 0, *, bad: set[int] | None = None) -> bytes:
    """``count`` samplerr documents with ids ``d<start>`` …; those in ``bad`` have a text metric."""
    lines = []
    for i in range(start, start + count):
        metric: object = "not a number" if bad and i in bad else i * 0.5
        lines.append(orjson.dumps({"index": {"_index": index, "_id": f"d{i}"}}))
        lines.append(
            orjson.dumps(
                {
                    "@timestamp": "2026-11-22T10:31:40Z",
                    "host": f"h{i % 7}",
                    "service": "cpu",
                    "metric": metric,
                    "cfunc": "avg",
                    "step": 20,
                }
            )
        )
    return b"\n".join(lines) + b"\n"


def count(connection: EsConnection, index: str) -> int:
    connection.request("POST", f"/{index}/_refresh")
    body = connection.request("GET", f"/{index}/_count").body
    assert isinstance(body, dict)
    return int(body["count"])


def ids_present(connection: EsConnection, index: str, ids: list[str]) -> set[str]:
    connection.request("POST", f"/{index}/_refresh")
    found: set[str] = set()
    for first in range(0, len(ids), 1000):
        chunk = ids[first : first + 1000]
        body = connection.request(
            "POST",
            f"/{index}/_search",
            body={"size": len(chunk), "query": {"ids": {"values": chunk}}, "_source": False},
        ).body
        assert isinstance(body, dict)
        found.update(hit["_id"] for hit in body["hits"]["hits"])
    return found
