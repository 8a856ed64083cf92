"""What only the PostgreSQL store promises, against a real server (tests/pg_cluster.py)."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import cast

import attrs
import psycopg
import pytest

import polyout
from polyout._campaign._errors import JournalError, StoreUnavailable
from polyout._campaign._pg_campaign import PostgresCampaign
from polyout._campaign._pg_schema import SCHEMA_VERSION
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignStore,
    FeedPosition,
    StaleTransition,
    StoredCampaign,
)
from tests.pg_cluster import CLUSTER_PASSWORD, PgServer
from tests.store.scenario import (
    DEFINITION,
    NAME,
    OTHER,
    WORKER,
    campaign_of,
    dial,
    entry,
    place,
    results,
)

S = ContactState


def as_store(store: PostgresStore) -> CampaignStore:
    # Until the control, outbox and policy capabilities land for PostgreSQL (see
    # POSTGRES_READY in conftest), it is a CampaignStore for the core contract only.
    return cast(CampaignStore, store)


def as_campaign(campaign: PostgresCampaign) -> StoredCampaign:
    return cast(StoredCampaign, campaign)


def test_each_test_gets_a_fresh_database_of_its_own(
    pg_server: PgServer, pg_url: str, pg_database: str
) -> None:
    assert pg_database != pg_url
    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    with psycopg.connect(pg_url) as conn:
        seen = conn.execute("SELECT to_regclass('mine') IS NOT NULL").fetchone()
    assert seen == (False,)
    with psycopg.connect(pg_url) as other, psycopg.connect(pg_database) as conn:
        assert pg_server.terminate(pg_database) == 1
        other.execute("SELECT 1")  # another database's session is not cut
        assert conn.closed or conn.broken or _cut(conn)


def _cut(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


# -- the PostgreSQL store ------------------------------------------------------------------
async def test_the_schema_is_created_on_first_use_and_a_newer_one_is_refused(
    pg_database: str,
) -> None:
    store = await PostgresStore.connect(pg_database)
    await store.aclose()
    async with await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as conn:
        cursor = await conn.execute("SELECT version FROM polyout_schema")
        assert await cursor.fetchall() == [(SCHEMA_VERSION,)]
        await conn.execute("UPDATE polyout_schema SET version = version + 1")
    with pytest.raises(JournalError, match=r"newer polyout.*upgrade polyout") as refused:
        await PostgresStore.connect(pg_database)
    assert CLUSTER_PASSWORD not in str(refused.value)


async def test_one_database_holds_several_campaigns_of_several_accounts(
    pg_database: str,
) -> None:
    other_account = attrs.evolve(
        DEFINITION, connection={"api": "account", "base_url": "https://eu.example.test"}
    )
    store = await PostgresStore.connect(pg_database)
    try:
        spring = await campaign_of(as_store(store), 2)
        autumn = await store.create("autumn", other_account)
        await autumn.append([entry(0)], FeedPosition(1, "d1", True), now=1.0)  # same number
        await dial(spring, 0)
        await autumn.flush()
    finally:
        await store.aclose()
    store = await PostgresStore.connect(pg_database)  # another process
    try:
        assert await store.names() == ["autumn", NAME]
        assert (await (await store.open("autumn")).definition()) == other_account
        assert (await (await store.open(NAME)).definition()) == DEFINITION
        assert await (await store.open("autumn")).counts() == {S.SCHEDULED: 1}
    finally:
        await store.aclose()


async def test_concurrent_claimers_never_take_one_contact_twice(pg_database: str) -> None:
    contacts = 400
    first = await PostgresStore.connect(pg_database)
    campaign = await first.create(NAME, DEFINITION)
    entries = [entry(seq) for seq in range(contacts)]
    await campaign.append(entries, FeedPosition(contacts, "d", True), now=0.0)
    await campaign.flush()
    # Four processes, each its own store (its own connections), claiming at once.
    stores = [first, *[await PostgresStore.connect(pg_database) for _ in range(3)]]
    try:
        claimed: list[list[int]] = [[] for _ in stores]

        async def claimer(index: int) -> None:
            mine = await stores[index].open(NAME)
            while batch := await mine.claim_due(f"w{index}", 10.0, 7):
                claimed[index].extend(due.seq for due in batch)

        await asyncio.gather(*(claimer(index) for index in range(len(stores))))
        every = [seq for share in claimed for seq in share]
        assert sorted(every) == list(range(contacts))  # each once, none lost
        assert sum(1 for share in claimed if share) >= 2  # they really ran side by side
    finally:
        for store in stores:
            await store.aclose()


async def test_holds_die_with_the_process_that_took_them(pg_database: str) -> None:
    crashed = await PostgresStore.connect(pg_database)
    campaign = await campaign_of(as_store(crashed), 2)
    assert [d.seq for d in await campaign.claim_due(WORKER, 10.0, 10)] == [0, 1]
    survivor = await (await PostgresStore.connect(pg_database)).open(NAME)
    try:
        assert await survivor.claim_due(OTHER, 10.0, 10) == []  # held by a live process
        crashed.abandon()  # SIGKILL: its connections close, its life lock goes
        assert [d.seq for d in await survivor.claim_due(OTHER, 10.0, 10)] == [0, 1]
    finally:
        await crashed.aclose()
        await survivor_store(survivor).aclose()


def survivor_store(campaign: object) -> PostgresStore:
    store = getattr(campaign, "_store", None)
    assert isinstance(store, PostgresStore)
    return store


async def test_a_cut_connection_never_loses_a_durable_write_in_silence(
    pg_server: PgServer, pg_database: str
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await campaign_of(as_store(store), 3)
        intent = await place(campaign, 0, "CA0")  # durable
        await campaign.record_status(0, intent, "ringing", 11.0)  # batched, pending
        assert pg_server.terminate(pg_database) >= 1
        with pytest.raises(StoreUnavailable, match="lost") as lost:
            await dial(campaign, 1)
        assert "\n" not in str(lost.value)
        assert CLUSTER_PASSWORD not in str(lost.value)
        # Reconnected: the next call works, and what was committed is all there.
        assert await dial(campaign, 2) == 1
        assert pg_server.terminate(pg_database) >= 1
        assert await campaign.counts() == {S.IN_FLIGHT: 1, S.SCHEDULED: 1, S.DIALING: 1}
    finally:
        await store.aclose()
    reopened = await (await PostgresStore.connect(pg_database)).open(NAME)
    try:
        states = [r["state"] for r in await results(as_campaign(reopened))]
        assert states == ["in_flight", "scheduled", "dialing"]
        [call] = await reopened.calls_in_flight(OTHER)
        assert call.call_sid == "CA0"
    finally:
        await survivor_store(reopened).aclose()


async def test_the_password_never_shows(pg_database: str) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await store.create(NAME, DEFINITION)
        shown = [repr(store), str(store), store.where, repr(campaign)]
        assert all(CLUSTER_PASSWORD not in text for text in shown)
        assert "127.0.0.1" in store.where
    finally:
        await store.aclose()
    wrong = pg_database.replace(CLUSTER_PASSWORD, "not-the-Password-0")
    with pytest.raises(StoreUnavailable) as refused:
        await PostgresStore.connect(wrong)
    message = str(refused.value)
    assert "password authentication failed" in message
    assert "not-the-Password-0" not in message
    assert CLUSTER_PASSWORD not in message
    assert "\n" not in message


async def test_an_unreachable_database_is_one_clear_line() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://polyout:{CLUSTER_PASSWORD}@127.0.0.1:{port}/campaigns"
    with pytest.raises(StoreUnavailable) as unreachable:
        await PostgresStore.connect(url)
    message = str(unreachable.value)
    assert message.startswith(f"PostgreSQL store at 127.0.0.1:{port}/campaigns: cannot connect")
    assert "refused" in message.lower()
    assert "\n" not in message
    assert CLUSTER_PASSWORD not in message


def test_without_psycopg_the_store_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(polyout.ConfigurationError, match=r"install polyout\[postgres\]"):
        PostgresStore("postgresql://u:secret@127.0.0.1/db")


# -- writes in one round trip (_pg_base) ------------------------------------------------
async def _forbid(pg_database: str, column: str) -> None:
    """A rule of the database's own that refuses one log line (as a unique index would)."""
    async with await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as conn:
        await conn.execute(
            f"ALTER TABLE polyout_log ADD CONSTRAINT forbidden CHECK ({column} <> 'forbidden')"
        )


async def _statuses(pg_database: str, contacts: int) -> list[str | None]:
    """Each contact's latest status word, as another process reads the store."""
    reader = await PostgresStore.connect(pg_database)
    try:
        campaign = await reader.open(NAME)
        words = []
        for seq in range(contacts):
            history = await campaign.history(seq)
            words.append([e.status for e in history if e.event in ("placed", "status")][-1])
        return words
    finally:
        await reader.aclose()


@pytest.mark.parametrize(
    ("refused", "error"),
    [("forbidden", StaleTransition), ("nul\x00", psycopg.DataError)],
    ids=["by-the-database", "before-sending"],
)
async def test_a_refused_write_among_queued_ones_fails_alone(
    pg_database: str, refused: str, error: type[Exception]
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await campaign_of(as_store(store), 8)
        for seq in range(8):
            await place(campaign, seq, f"CA{seq}")
        await _forbid(pg_database, "status")
        await campaign.record_status(7, 1, "ringing", 11.0)  # batched, pending
        # Written at once: the first goes alone, the others queue behind it and go
        # together in the next round trip, where one of them is refused.
        words = ["ringing", "ringing", refused, "ringing", "in_progress", "ringing"]
        done = await asyncio.gather(
            *(campaign.record_status(seq, 1, word, 12.0) for seq, word in enumerate(words)),
            return_exceptions=True,
        )
        assert [type(outcome) for outcome in done if outcome is not None] == [error]
        assert done[2] is not None
        await campaign.flush()
        store.abandon()  # what was flushed is all there is
        assert await _statuses(pg_database, 8) == [
            "ringing",
            "ringing",
            "queued",  # refused: nothing of it was written
            "ringing",
            "in_progress",
            "ringing",
            "queued",
            "ringing",  # pending before them: kept
        ]
    finally:
        await store.aclose()


async def test_a_refused_durable_write_changes_nothing_and_keeps_the_batch(
    pg_database: str,
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await campaign_of(as_store(store), 3)
        await place(campaign, 0, "CA0")
        intent = await dial(campaign, 1)
        await _forbid(pg_database, "detail")
        with pytest.raises(StaleTransition, match="refused"):  # nothing pending
            await campaign.close_intent(1, intent, error="forbidden", now=11.0)
        with pytest.raises(psycopg.DataError):  # refused before it was sent
            await campaign.close_intent(1, intent, error="nul\x00", now=11.0)
        await campaign.record_status(0, 1, "ringing", 11.0)  # batched, pending
        with pytest.raises(StaleTransition, match="refused"):  # in the batch's txn
            await campaign.close_intent(1, intent, error="forbidden", now=11.0)
        await campaign.close_intent(1, intent, error="HTTP 503", now=12.0)  # commits all
        store.abandon()
        assert await _statuses(pg_database, 1) == ["ringing"]
        reader = await PostgresStore.connect(pg_database)
        try:
            events = [e.event for e in await (await reader.open(NAME)).history(1)]
            assert events == ["intent", "not_placed"]
        finally:
            await reader.aclose()
    finally:
        await store.aclose()


async def test_jobs_and_reads_go_between_writes_queued_without_end(pg_database: str) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await campaign_of(as_store(store), 20)
        for seq in range(20):
            await place(campaign, seq, f"CA{seq}")
        words = ["ringing", "in_progress", "ringing", "in_progress"]

        async def follower(seq: int) -> None:
            for word in words:
                await campaign.record_status(seq, 1, word, 12.0)

        async def reader() -> list[dict[S, int]]:
            seen = []
            for _ in range(5):  # each read waits for the connection among the writes
                seen.append(await campaign.counts())
                await asyncio.sleep(0)
            return seen

        *_, seen = await asyncio.wait_for(
            asyncio.gather(*(follower(seq) for seq in range(20)), reader()), timeout=60
        )
        assert seen == [{S.IN_FLIGHT: 20}] * 5
        # A write waiting behind a read, another read behind it: the read goes first,
        # the write right after.
        first, _, second = await asyncio.gather(
            campaign.counts(), campaign.record_status(0, 1, "ringing", 13.0), campaign.counts()
        )
        assert first == second == {S.IN_FLIGHT: 20}
        await campaign.record_status(0, 1, "in_progress", 14.0)
        await campaign.flush()
        store.abandon()
        assert await _statuses(pg_database, 20) == ["in_progress"] * 20
    finally:
        await store.aclose()
