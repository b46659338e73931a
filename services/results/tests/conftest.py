"""Fixtures of the results service's tests: the service in-process on a real database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.results.tests.support import Harness, start


@pytest.fixture
def harness(service_settings, sqlite_url: str, bearer) -> Iterator[Harness]:
    h = start(service_settings, sqlite_url, bearer)
    yield h
    h.runtime.stop(grace=0)


@pytest.fixture
def any_db_harness(service_settings, database_url: str, bearer) -> Iterator[Harness]:
    """The same on SQLite and on MariaDB."""
    h = start(service_settings, database_url, bearer)
    yield h
    h.runtime.stop(grace=0)
