"""The service tests start `samplerr run` processes: none outlives its test, whatever happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.harness import kill_leftovers


@pytest.fixture(autouse=True)
def _no_service_left_running() -> Iterator[None]:
    yield
    kill_leftovers()
