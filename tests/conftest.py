"""Shared test settings: retries wait zero seconds unless a test turns real waits back on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import polyout


@pytest.fixture(autouse=True)
def instant_retries() -> Iterator[None]:
    polyout.set_testing(True)
    yield
    polyout.set_testing(False)


# A real PostgreSQL for any test that asks (tests/pg_cluster.py says how it is started).
from tests.pg_cluster import pg_database, pg_server, pg_url  # noqa: E402, F401
