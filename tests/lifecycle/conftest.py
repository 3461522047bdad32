"""The dev server for the lifecycle tests: the session's, from tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def es_url(devserver) -> str:
    """The base URL of the session's dev server (each test uses its own index and alias prefix)."""
    return str(devserver.url)
