"""What the SQLite store promises beyond the contract: a 0.1.0 journal migrated, one
thread for all SQL, batched writes committed on their own, one process per file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import SCHEMA_VERSION, Journal
from polyout._campaign._journal_schema import APPLICATION_ID
from polyout._campaign._journal_tables_v3 import ADDED_OBJECTS
from polyout._campaign._lock import JournalLock
from polyout._campaign._sqlite_store import DEFAULT_CAMPAIGN, SQLiteStore
from polyout._campaign._sqlite_writer import BATCH_SECONDS
from polyout._campaign._states import ContactState
from polyout._campaign._store import Recovery
from tests.store.scenario import DEFINITION, WORKER, campaign_of, place, results

S = ContactState
V1_DDL = (Path(__file__).parent / "fixtures" / "journal_v1.sql").read_text()
V2_DUMP = (Path(__file__).parent / "fixtures" / "store_v2.sql").read_text()
CONFIG = {"rate": 2.0, "max_attempts": 3}
CONNECTION = {"api": "agents", "base_url": "https://api.example.test", "agent_id": "ag"}


def _v1_journal(path: Path) -> None:
    """A journal as polyout 0.1.0 left it after a SIGKILL: one success, one call in flight,
    one intent with no answer, one contact still scheduled, one suppressed row."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript("BEGIN;" + V1_DDL + "COMMIT;")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO transitions VALUES (?, ?)",
            [("scheduled", "dialing"), ("dialing", "in_flight"), ("in_flight", "success")],
        )
        meta = {
            "config": json.dumps(CONFIG, sort_keys=True),
            "created_at": "1000.0",
            "polyout_version": "0.1.0",
            "feed_done": "1",
            "source_digest": "digest-5",
            "writer_open": "0",
            "connection": json.dumps(CONNECTION, sort_keys=True),
        }
        db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        db.execute("INSERT INTO suppressed VALUES ('+14155550999')")
        insert = (
            "INSERT INTO contacts (seq, contact_id, row, to_number, dialable, request, zones,"
            " state, tries, attempts, next_due, call_sid, call_status, poll_deadline,"
            " created_at, finished_at) VALUES (?, ?, ?, ?, ?, '{}', '[]', ?, ?, ?, ?, ?, ?, ?,"
            " 1.0, ?)"
        )
        db.executemany(
            insert,
            [
                (0, "c0", 2, "+14155550000", 1, "success", 1, 1, None, "CA0", "completed", None, 9),
                (
                    1,
                    "c1",
                    3,
                    "+14155550001",
                    1,
                    "in_flight",
                    1,
                    1,
                    None,
                    "CA1",
                    "ringing",
                    99,
                    None,
                ),
                (2, "c2", 4, "+14155550002", 1, "dialing", 1, 0, None, None, None, None, None),
                (3, "c3", 5, "+14155550003", 1, "scheduled", 0, 0, 5.0, None, None, None, None),
                (4, "c4", 6, "+14155550999", 0, "suppressed", 0, 0, None, None, None, None, 1.0),
            ],
        )
        db.executemany(
            "INSERT INTO attempts (contact, n, started_at, call_sid, outcome)"
            " VALUES (?, 1, ?, ?, ?)",
            [(0, 2.0, "CA0", "success"), (1, 3.0, "CA1", None), (2, 4.0, None, None)],
        )
        db.executemany(
            "INSERT INTO log (contact, attempt, at, event, call_sid) VALUES (?, 1, ?, ?, ?)",
            [(0, 2.0, "intent", None), (0, 2.0, "placed", "CA0"), (2, 4.0, "intent", None)],
        )
        db.execute("COMMIT")


async def test_a_0_1_journal_is_migrated_on_open_and_resumes_where_it_stopped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _v1_journal(path)
    store, campaign = await SQLiteStore.open_path(path)
    try:
        assert (campaign.name, await store.names()) == (DEFAULT_CAMPAIGN, [DEFAULT_CAMPAIGN])
        definition = await campaign.definition()
        assert (dict(definition.settings), dict(definition.connection)) == (CONFIG, CONNECTION)
        assert (definition.suppressed, definition.created_at) == (
            frozenset({"+14155550999"}),
            1000.0,
        )
        position = await campaign.feed_position()
        assert (position.count, position.digest, position.done) == (5, "digest-5", True)
        # The intent 0.1 left without an answer may have rung: unknown, never dialled.
        assert await campaign.recover(50.0) == Recovery(unknown=1, rescheduled=0)
        assert [r["state"] for r in await results(campaign)] == [
            "success",
            "in_flight",
            "unknown",
            "scheduled",
            "suppressed",
        ]
        [call] = await campaign.calls_in_flight(WORKER)
        assert (call.seq, call.call_sid, call.call_status, call.deadline) == (
            1,
            "CA1",
            "ringing",
            99,
        )
        assert [due.seq for due in await campaign.claim_due(WORKER, 50.0, 10)] == [3]
        assert await campaign.has_number("+14155550999")
        assert [e.event for e in await campaign.history(0)] == ["intent", "placed"]
        # The rules of schema 2 hold over the migrated rows: no second intent for c0.
        assert await campaign.open_intent(WORKER, 3, after=0, now=51.0) == 1
    finally:
        await store.aclose()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {name for (name,) in db.execute("SELECT name FROM sqlite_master")} >= {
            "campaigns",
            "contacts_dialable_number",
            "attempts_exactly_once",
        }


async def test_a_schema_2_store_gains_the_schema_3_tables_in_place_and_keeps_its_calls(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v2.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript("BEGIN;" + V2_DUMP + "COMMIT;")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("PRAGMA user_version = 2")
    store, campaign = await SQLiteStore.open_path(path, name="spring")
    try:
        [call] = await campaign.calls_in_flight(WORKER)
        assert (call.seq, call.call_sid) == (0, "CA0")
        assert [due.seq for due in await campaign.claim_due(WORKER, 50.0, 10)] == [1, 2]
    finally:
        await store.aclose()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        found = set(db.execute("SELECT type, name FROM sqlite_master").fetchall())
        assert found >= ADDED_OBJECTS


async def test_a_0_1_journal_in_use_is_refused_saying_what_to_do_and_left_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _v1_journal(path)
    running = JournalLock(path)  # a 0.1 runner has it open
    try:
        with pytest.raises(JournalError, match=r"0\.1\.0 journal in use.*wait for that run"):
            Journal.open(path, owner=False)
        with pytest.raises(JournalError, match="in use"):
            await SQLiteStore.open_path(path)
    finally:
        running.release()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    journal = Journal.open(path, owner=False)  # the reader migrates it once free
    try:
        assert journal.counts_by_state()["success"] == 1
    finally:
        journal.close()


async def test_every_statement_runs_on_the_store_thread_never_the_event_loop(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    threads: set[int] = set()
    await store._writer.run(
        lambda journal: journal.connection.set_trace_callback(
            lambda _: threads.add(threading.get_ident())
        )
    )
    campaign = await campaign_of(store, 3)
    intent = await place(campaign, 0, "CA0")
    await campaign.record_status(0, intent, "ringing", 11.0)
    await results(campaign)
    await store.aclose()
    assert threads
    assert threading.get_ident() not in threads
    assert len(threads) == 1


async def test_batched_writes_commit_on_their_own_within_a_fraction_of_a_second(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    campaign = await campaign_of(store, 1)
    intent = await place(campaign, 0, "CA0")
    await campaign.record_status(0, intent, "ringing", 11.0)  # batched
    await asyncio.sleep(BATCH_SECONDS * 5)
    store.abandon()  # SIGKILL: the batched status survives only if it was committed
    store = SQLiteStore(path)
    try:
        campaign = await store.open("spring")
        [call] = await campaign.calls_in_flight(WORKER)
        assert call.call_status == "ringing"
    finally:
        await store.aclose()


async def test_durable_writes_that_arrive_together_share_a_commit_and_each_returns_committed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    campaign = await campaign_of(store, 40)
    commits: list[str] = []
    await store._writer.run(
        lambda journal: journal.connection.set_trace_callback(
            lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
        )
    )
    due = await campaign.claim_due(WORKER, 10.0, 40)
    # A read queued last: the group's last job commits nothing itself, the writer does.
    *intents, counts = await asyncio.gather(
        *(campaign.open_intent(WORKER, c.seq, after=c.intents, now=10.0) for c in due),
        campaign.counts(),
    )
    assert intents == [1] * 40
    assert counts == {S.DIALING: 40}
    # 40 durable intents, queued together while the first commit ran: far fewer commits.
    assert 1 <= len(commits) < 20
    store.abandon()  # SIGKILL right after they returned: every intent was committed
    store = SQLiteStore(path)
    try:
        campaign = await store.open("spring")
        assert await campaign.recover(20.0) == Recovery(unknown=40, rescheduled=0)
    finally:
        await store.aclose()


async def test_one_store_process_per_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SQLiteStore(path)
    await first.create("spring", DEFINITION)
    second = SQLiteStore(path)
    with pytest.raises(JournalError, match="in use"):
        await second.ready()
    with pytest.raises(JournalError):
        await second.names()
    await second.aclose()
    await first.aclose()
    store, campaign = await SQLiteStore.open_path(path)
    assert campaign.name == "spring"
    await store.aclose()
