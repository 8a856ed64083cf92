"""The SQLite store on a disk that fills (issue 17 item 10): a write it lost is never lost
in silence, and a 0.1.0 journal it cannot migrate is left as it was.

Batched writes are committed by the store's own thread. When the disk refuses that
commit, the writes are gone; the store must then say so on every later call (reads
included) and on ``aclose``. If it does not, a feeder's contacts vanish while
``claim_due`` answers "nothing due", and a run ends as if it were complete. The disk is
real (a small tmpfs: see tests/reliability/small_disk.py).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._sqlite_writer import BATCH_WRITES
from polyout._campaign._store import FeedPosition
from polyout._cli._errors import storage_failure
from tests.reliability.small_disk import SmallDisk, small_disk_fixture  # noqa: F401 (a fixture)

from .scenario import DEFINITION, NAME, WORKER, entry
from .test_sqlite_store import _v1_journal


async def test_a_batch_the_disk_refused_is_said_by_every_later_call_and_by_aclose(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    small_disk.resize("1m")
    path = small_disk.path / "store.db"
    store = SQLiteStore(path)
    campaign = await store.create(NAME, DEFINITION)
    small_disk.fill()
    entries = [entry(seq) for seq in range(BATCH_WRITES)]  # a full batch: committed at once
    position = FeedPosition(len(entries), None, False)
    appended = True
    try:
        await campaign.append(entries, position, now=1000.0)
    except JournalError:
        appended = False  # said at once: as good
    later: list[Callable[[], Awaitable[object]]] = [
        campaign.feed_position,
        lambda: campaign.claim_due(WORKER, 1000.0, 5),
        store.aclose,
    ]
    if appended:
        for call in later:
            with pytest.raises(JournalError, match="cannot write"):
                await call()
    else:
        await store.aclose()

    small_disk.free()
    store = SQLiteStore(path, create=False)
    reopened = await store.open(NAME)
    assert (await reopened.feed_position()).count in (0, len(entries))  # whole or nothing
    await store.aclose()


async def test_a_step_whose_transaction_the_disk_rolled_back_says_the_disk_error(
    small_disk: SmallDisk,
) -> None:
    # One append larger than SQLite's page cache spills to the WAL mid-statement; on a
    # full disk SQLite then rolls back the WHOLE transaction, savepoint included. The
    # error must be the disk's (exit 5 in the CLI), not "no such savepoint: step".
    small_disk.resize("1m")
    path = small_disk.path / "store.db"
    store = SQLiteStore(path)
    campaign = await store.create(NAME, DEFINITION)
    small_disk.fill()
    entries = [entry(seq) for seq in range(30_000)]
    with pytest.raises(JournalError, match=r"cannot write the journal .*disk is full") as raised:
        await campaign.append(entries, FeedPosition(len(entries), None, False), now=1000.0)
    assert "savepoint" not in str(raised.value)
    assert storage_failure(raised.value) == str(raised.value)  # told as storage: exit 5
    with pytest.raises(JournalError, match="disk is full"):  # and so is every later call
        await campaign.feed_position()
    with pytest.raises(JournalError, match="disk is full"):
        await store.aclose()

    small_disk.free()
    store, reopened = await SQLiteStore.open_path(path)
    assert (await reopened.feed_position()).count == 0  # nothing half-written
    await reopened.append(entries[:3], FeedPosition(3, None, False), now=1000.0)
    assert len(await reopened.claim_due(WORKER, 1000.0, 5)) == 3  # and it works again
    await store.aclose()


async def test_a_0_1_journal_the_disk_cannot_migrate_is_refused_and_left_as_it_was(
    small_disk: SmallDisk,
) -> None:
    small_disk.resize("2m")
    path = small_disk.path / "old.db"
    _v1_journal(path)
    before = _rows(path)
    small_disk.fill()
    with pytest.raises(JournalError, match="cannot write"):
        await SQLiteStore.open_path(path)
    assert _rows(path) == before  # still the 0.1.0 journal, whole: nothing half-migrated

    small_disk.free()
    store, campaign = await SQLiteStore.open_path(path)
    assert (await campaign.feed_position()).count == len(before)
    await store.aclose()


def _rows(path: Path) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        if db.execute("PRAGMA user_version").fetchone()[0] != 1:
            return []
        return db.execute(
            "SELECT seq, state, tries, call_sid FROM contacts ORDER BY seq"
        ).fetchall()
