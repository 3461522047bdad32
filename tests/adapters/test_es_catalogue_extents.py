"""Data extents (min/max ``@timestamp`` per index) read from the dev server in one search."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from samplerr.adapters.es_catalogue import create_index, data_extents, hide_indices, list_indices
from samplerr.adapters.es_connection import EsConnection
from samplerr.configfile import load_config
from samplerr.core.config import Config
from samplerr.lifecycle_ops import plan_for, read_state
from tests.adapters.es_support import settings_for
from tests.devserver.process import DevServerProcess


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.fixture(params=["dot", "plain"])
def config(request: pytest.FixtureRequest, devserver: DevServerProcess) -> Config:
    """The default archives; an index prefix with a leading dot (as the default) or without."""
    base = load_config(None, env={})  # archives YYYY.MM.DD / YYYY.MM / YYYY
    es = settings_for(devserver.url)
    if request.param == "plain":
        es = dataclasses.replace(es, index_prefix=es.index_prefix.lstrip("."))
    return dataclasses.replace(base, elasticsearch=es)


@pytest.fixture
def connection(config: Config) -> Iterator[EsConnection]:
    with EsConnection(config.elasticsearch) as conn:
        yield conn


def write(connection: EsConnection, index: str, stamps: list[str]) -> None:
    lines = []
    for number, stamp in enumerate(stamps):
        lines.append(orjson.dumps({"index": {"_index": index, "_id": f"d{number}"}}))
        lines.append(orjson.dumps({"@timestamp": stamp, "service": "cpu", "metric": 1.0}))
    connection.request("POST", "/_bulk", body=b"\n".join(lines) + b"\n", ndjson=True)
    connection.request("POST", f"/{index}/_refresh")


def test_each_hidden_index_gets_its_first_and_last_timestamp(config, connection):
    prefix = config.elasticsearch.index_prefix
    day, month, year, empty = (prefix + suffix for suffix in ("2026.01.01", "2026.01", "2026", "2026.01.02"))
    for name in (day, month, year, empty):
        create_index(connection, name)
    write(connection, day, ["2026-01-01T10:00:00.999Z", "2026-01-01T00:00:20Z", "2026-01-01T23:59:40Z"])
    write(connection, month, ["2026-01-01T00:00:00Z", "2026-01-31T23:50:00Z"])
    write(connection, year, ["2026-03-09T23:00:00Z"])
    hide_indices(connection, [day, month, year, empty])

    listed = list_indices(connection, prefix)
    found = data_extents(connection, prefix, len(listed))
    assert found == {
        day: (utc("2026-01-01T00:00:20"), utc("2026-01-01T23:59:40")),
        month: (utc("2026-01-01T00:00:00"), utc("2026-01-31T23:50:00")),
        year: (utc("2026-03-09T23:00:00"), utc("2026-03-09T23:00:00")),
    }  # the empty index has no extent

    state = read_state(connection, config)
    assert {info.name: (info.first_s, info.last_s) for info in state.indices} == {
        **found,
        empty: (None, None),
    }
    plan = plan_for(config, state, utc("2026-03-10T00:00:00"))
    assert {index.name: (index.first_s, index.last_s) for index in plan.classified} == {
        **found,
        empty: (None, None),
    }


def test_milliseconds_are_rounded_down_to_the_second(config, connection):
    index = config.elasticsearch.index_prefix + "2026.01.01"
    create_index(connection, index)
    write(connection, index, ["2026-01-01T10:00:00.999Z", "2026-01-01T10:00:07.001Z"])
    assert data_extents(connection, config.elasticsearch.index_prefix, 1) == {
        index: (utc("2026-01-01T10:00:00"), utc("2026-01-01T10:00:07"))
    }


def test_no_index_is_no_extent(config, connection):
    assert data_extents(connection, config.elasticsearch.index_prefix, 0) == {}


def test_an_index_failing_the_aggregation_makes_every_extent_unknown(config, connection, caplog):
    # an index whose @timestamp is a keyword fails the min/max aggregation (Elasticsearch answers
    # with failed shards, the dev server with an error): no extent is trusted then
    prefix = config.elasticsearch.index_prefix
    good, odd = prefix + "2026.01.01", prefix + "2026.01.02"
    create_index(connection, good)
    write(connection, good, ["2026-01-01T10:00:00Z"])
    connection.request(
        "PUT", f"/{odd}", body={"mappings": {"properties": {"@timestamp": {"type": "keyword"}}}}
    )
    write(connection, odd, ["2026-01-02T10:00:00Z"])
    with caplog.at_level(logging.WARNING, logger="samplerr.lifecycle_ops"):
        state = read_state(connection, config)
    assert [(info.name, info.docs, info.first_s, info.last_s) for info in state.indices] == [
        (good, 1, None, None),
        (odd, 1, None, None),
    ]
    assert "cannot read the indices' data extents" in caplog.text


def test_read_state_goes_on_without_extents_when_the_search_is_refused(config, connection, devserver_faults):
    index = config.elasticsearch.index_prefix + "2026.01.01"
    create_index(connection, index)
    write(connection, index, ["2026-01-01T10:00:00Z"])
    devserver_faults.set_faults(reject_503_ratio=1.0, paths=["_search"])
    state = read_state(connection, config)
    assert [(info.name, info.docs, info.first_s, info.last_s) for info in state.indices] == [
        (index, 1, None, None)
    ]
