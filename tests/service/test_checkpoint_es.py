"""The Elasticsearch checkpoint store against the development server (the real protocol)."""

from __future__ import annotations

import uuid

import pytest

from samplerr.adapters.checkpoint import (
    Checkpoint,
    CheckpointConflictError,
    CheckpointError,
    EsCheckpointStore,
)
from samplerr.adapters.es_connection import EsConnection
from samplerr.core.config import ElasticsearchSettings
from tests.devserver.process import DevServerProcess


@pytest.fixture
def store(devserver: DevServerProcess):
    connection = EsConnection(ElasticsearchSettings(hosts=(devserver.url,)))
    yield EsCheckpointStore(connection, f".ckpt-{uuid.uuid4().hex[:8]}")
    connection.close()


def checkpoint(offset: int, state: bytes = b"\x00\x01state\xff" * 100, partition: int = 2) -> Checkpoint:
    return Checkpoint("samplerr", "metrics", partition, offset, offset // 10, "f00d", state, 1_795_000_000.25)


def test_a_saved_checkpoint_loads_back_equal(store: EsCheckpointStore):
    assert store.load("samplerr", "metrics", 2) is None  # before the index exists
    store.save(checkpoint(10))
    assert store.load("samplerr", "metrics", 2) == checkpoint(10)
    store.save(checkpoint(20, b"newer"))
    store.save(checkpoint(5, partition=3))
    assert store.load("samplerr", "metrics", 2) == checkpoint(20, b"newer")
    assert store.load("samplerr", "metrics", 3) == checkpoint(5, partition=3)
    assert store.load("other-group", "metrics", 2) is None


def test_an_older_checkpoint_never_replaces_a_newer_one(store: EsCheckpointStore):
    store.save(checkpoint(100))
    store.save(checkpoint(100, b"same offset, later state"))  # allowed: no progress, newer snapshot
    with pytest.raises(CheckpointConflictError, match="newer checkpoint"):
        store.save(checkpoint(99, b"a zombie's"))
    loaded = store.load("samplerr", "metrics", 2)
    assert loaded is not None
    assert loaded.state == b"same offset, later state"


def test_an_unreachable_store_is_a_checkpoint_error():
    settings = ElasticsearchSettings(hosts=("http://127.0.0.1:9",), request_timeout=2)
    with EsConnection(settings) as connection, pytest.raises(CheckpointError, match="cannot connect"):
        EsCheckpointStore(connection, ".ckpt").save(checkpoint(1))
