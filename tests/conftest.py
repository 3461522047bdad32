"""Shared fixtures. Real servers (dev server, mock Kafka) are started once per session here."""

from collections.abc import Iterator

import pytest

from tests.service.kafka_mock import MockKafka


@pytest.fixture(scope="session")
def kafka() -> Iterator[MockKafka]:
    """The mock Kafka cluster of the session: ``kafka.bootstrap``, ``kafka.create_topic(name, n)``."""
    cluster = MockKafka()
    yield cluster
    cluster.close()
