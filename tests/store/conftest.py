"""The stores the conformance suite runs over, as factories.

Every test in ``tests/store`` takes the ``stores`` fixture: a :class:`Stores` for one
implementation, with ``open()`` (a store on this test's data, as a process would open
it) and ``crash(store)`` (the store dropped without closing, as SIGKILL would, and
opened again: what it had not committed is lost, what it had is there).

**Adding a store is one line**: write a factory class taking the test's ``tmp_path``,
with ``open(self) -> CampaignStore`` and ``crash(self, store) -> CampaignStore``, and
add ``pytest.param(YourFactory, id="yours")`` to :data:`STORES` below. Every
conformance test, and the stateful test, then runs over it too. A slow store may set a
class attribute ``stateful_examples`` (how many runs of the stateful test fit in a few
seconds; ``POLYOUT_STORE_EXAMPLES`` overrides it for a longer search).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol, cast

import pytest

from polyout._campaign._memory_store import MemoryBacking, MemoryStore
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import CampaignStore
from tests.pg_cluster import PgServer


class StoreFactory(Protocol):
    def open(self) -> CampaignStore: ...

    def crash(self, store: CampaignStore) -> CampaignStore: ...


class MemoryFactory:
    """The in-memory store: its data outlives an instance in a :class:`MemoryBacking`."""

    def __init__(self, tmp_path: Path) -> None:
        self._backing = MemoryBacking()

    def open(self) -> CampaignStore:
        return MemoryStore(self._backing)

    def crash(self, store: CampaignStore) -> CampaignStore:
        # A new instance on the same backing drops the old one's batched writes, and
        # fences the old one off (a dead process writes nothing more).
        return MemoryStore(self._backing)


class SQLiteFactory:
    """The SQLite store on one file of the test's folder; a crash abandons the store (its
    batched writes are lost, no clean close is recorded, the WAL stays) and reopens it."""

    def __init__(self, tmp_path: Path) -> None:
        self._path = tmp_path / "store.db"

    def open(self) -> CampaignStore:
        return SQLiteStore(self._path)

    def crash(self, store: CampaignStore) -> CampaignStore:
        assert isinstance(store, SQLiteStore)
        store.abandon()
        return SQLiteStore(self._path)


class PostgresFactory:
    """The PostgreSQL store on a fresh database of the test's server (``tests/pg_cluster``);
    a crash cuts every connection of the store (the server rolls back what was not
    committed, and drops the holds of that instance, as when a process is killed)."""

    #: Runs of the stateful test that fit in a few seconds (a database each).
    stateful_examples = 12

    def __init__(self, tmp_path: Path, server: PgServer | None = None) -> None:
        assert server is not None, "the postgres factory needs the pg_server fixture"
        self._url = server.create_database()
        self._dead: list[PostgresStore] = []

    def open(self) -> CampaignStore:
        return _as_store(PostgresStore(self._url, max_size=4))

    def crash(self, store: CampaignStore) -> CampaignStore:
        assert isinstance(store, PostgresStore)
        store.abandon()
        self._dead.append(store)
        return self.open()

    async def dispose(self) -> None:
        """Let go of the crashed stores' pools (their connections are already cut)."""
        for store in self._dead:
            await store.aclose()
        self._dead.clear()


def _as_store(store: PostgresStore) -> CampaignStore:
    # The PostgreSQL store lacks the capabilities not in POSTGRES_READY (their tests skip
    # it); until each lands, it is a CampaignStore only for the modules that test it.
    return cast(CampaignStore, store)


class PostgresKind:
    """Makes :class:`PostgresFactory` s on the session's server (a ``StoreKind``)."""

    stateful_examples = PostgresFactory.stateful_examples

    def __init__(self, server: PgServer) -> None:
        self._server = server

    def __call__(self, tmp_path: Path) -> PostgresFactory:
        return PostgresFactory(tmp_path, self._server)


#: The test modules whose capability the PostgreSQL store implements (a capability's
#: ``_pg_<capability>`` module adds its ``test_<capability>`` here when it lands).
POSTGRES_READY = frozenset(
    {
        "test_conformance",
        "test_stateful",
        "test_workers",
        "test_outbox",
        "test_control",
        "test_policy",
        "test_answers",
        "test_late_sid",
    }
)

#: Every store implementation; one line each.
STORES = [
    pytest.param(MemoryFactory, id="memory"),
    pytest.param(SQLiteFactory, id="sqlite"),
    pytest.param(PostgresFactory, id="postgres"),
]


class Stores:
    """One test's stores of one implementation; closes those still open at the end."""

    def __init__(self, factory: StoreFactory) -> None:
        self._factory = factory
        self._live: list[CampaignStore] = []

    def open(self) -> CampaignStore:
        store = self._factory.open()
        self._live.append(store)
        return store

    def crash(self, store: CampaignStore) -> CampaignStore:
        if store in self._live:
            self._live.remove(store)
        reopened = self._factory.crash(store)
        self._live.append(reopened)
        return reopened

    async def aclose(self) -> None:
        for store in self._live:
            await store.aclose()
        self._live.clear()
        dispose = getattr(self._factory, "dispose", None)
        if dispose is not None:
            await dispose()


#: How a factory is made: from the test's own folder.
StoreKind = Callable[[Path], StoreFactory]


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> StoreKind:
    """The factory class of one store implementation."""
    kind: StoreKind = request.param
    if request.param is PostgresFactory:
        module = request.module.__name__.rpartition(".")[2]
        if module not in POSTGRES_READY:
            pytest.skip(f"the PostgreSQL store does not implement {module} yet")
        return PostgresKind(request.getfixturevalue("pg_server"))  # skips without PostgreSQL
    return kind


@pytest.fixture
async def stores(store_kind: StoreKind, tmp_path: Path) -> AsyncIterator[Stores]:
    opened = Stores(store_kind(tmp_path))
    yield opened
    await opened.aclose()
