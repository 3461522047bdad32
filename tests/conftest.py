"""Shared fixtures. Real servers (dev server, mock Kafka) are started once per session here."""

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.devserver.process import DevServerProcess
from tests.service.kafka_mock import MockKafka


@pytest.fixture(scope="session")
def kafka() -> Iterator[MockKafka]:
    """The mock Kafka cluster of the session: ``kafka.bootstrap``, ``kafka.create_topic(name, n)``."""
    cluster = MockKafka()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def devserver() -> Iterator[DevServerProcess]:
    """The session's ``samplerr devserver`` (its own process, 9.x, in memory).

    ``devserver.url``, ``.port``, ``.data_dir``, ``.set_faults(...)``, ``.clear_faults()``, ``.stats()``.
    Searches see writes after a refresh, as in Elasticsearch. A test that injects faults here must
    clear them (use ``devserver_faults``); give each test its own index names (``index_name``).
    """
    server = DevServerProcess().start()
    yield server
    server.close()


@pytest.fixture
def devserver_faults(devserver: DevServerProcess) -> Iterator[DevServerProcess]:
    """The session's development server, with its faults cleared after the test."""
    yield devserver
    devserver.clear_faults()


@pytest.fixture(scope="session")
def es(devserver: DevServerProcess) -> Iterator[Elasticsearch]:
    """An official Elasticsearch client bound to the session's development server."""
    client = Elasticsearch(devserver.url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def start_devserver() -> Iterator[Callable[..., DevServerProcess]]:
    """Start extra development servers: ``start_devserver("--es-version", "8.19.0", data_dir=path)``.

    Each is a separate process (``.kill()`` is SIGKILL, ``.restart()`` starts it again on the same port
    and data dir); all are stopped after the test.
    """
    started: list[DevServerProcess] = []

    def start(*args: str, data_dir: Path | None = None, port: int = 0) -> DevServerProcess:
        server = DevServerProcess(*args, data_dir=data_dir, port=port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


_names = itertools.count()


@pytest.fixture
def index_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Unique, valid index names for this test: ``index_name("logs")`` → ``logs-test-foo-3``."""
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]

    def make(prefix: str = "idx") -> str:
        return f"{prefix}-{test}-{next(_names)}"

    return make
