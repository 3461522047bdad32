"""What the Elasticsearch adapter tests share: settings with a prefix of their own, documents, read-backs."""

from __future__ import annotations

import uuid

import orjson

from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import ElasticsearchSettings


def unique_prefix() -> str:
    return f".t{uuid.uuid4().hex[:10]}-"


def settings_for(url: str, **kw: object) -> ElasticsearchSettings:
    """Settings for the dev server at ``url`` with a prefix of their own (so tests never collide)."""
    prefix = unique_prefix()
    options: dict[str, object] = {
        "hosts": (url,),
        "index_prefix": prefix,
        "alias_prefix": prefix.lstrip("."),
        "request_timeout": 10.0,
    }
    options.update(kw)
    return ElasticsearchSettings(**options)  # type: ignore[arg-type]


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
