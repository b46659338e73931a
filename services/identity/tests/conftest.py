"""Fixtures of the identity tests: the real face engine (one per test session) and the service harness."""

from __future__ import annotations

import pytest

from services.identity.tests.harness import harness, harness_factory  # noqa: F401 - fixtures
from services.identity.tests.support import real_engine


@pytest.fixture(scope="session")
def engine():
    """The real FaceEngine, loaded once for every test in this process (about 10-15 s)."""
    return real_engine()
