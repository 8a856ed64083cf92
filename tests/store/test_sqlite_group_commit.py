"""The SQLite store's group commit on a disk that refuses it: durable writes queued together
share one commit, so when that commit fails, none of them may return as if it were durable.

The disk is real (a small tmpfs: see tests/reliability/small_disk.py).
"""

from __future__ import annotations

import asyncio

import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import Recovery
from tests.reliability.small_disk import SmallDisk, small_disk_fixture  # noqa: F401 (a fixture)

from .scenario import NAME, WORKER, campaign_of

CONTACTS = 40


async def test_a_group_commit_the_disk_refuses_fails_every_write_of_the_group(
    small_disk: SmallDisk,
) -> None:
    small_disk.resize("1m")
    path = small_disk.path / "store.db"
    store = SQLiteStore(path)
    campaign = await campaign_of(store, CONTACTS)
    due = await campaign.claim_due(WORKER, 10.0, CONTACTS)
    small_disk.fill()
    answers = await asyncio.gather(
        *(campaign.open_intent(WORKER, c.seq, after=c.intents, now=10.0) for c in due),
        return_exceptions=True,
    )
    opened = [answer for answer in answers if not isinstance(answer, BaseException)]
    refused = [answer for answer in answers if isinstance(answer, BaseException)]
    assert refused, "the full disk refused nothing: the test proves nothing"
    assert all(isinstance(error, JournalError) for error in refused), refused
    with pytest.raises(JournalError, match="cannot write"):  # and every later call says so
        await store.aclose()

    small_disk.free()
    store = SQLiteStore(path, create=False)
    try:
        reopened = await store.open(NAME)
        # Every intent that returned is in the file; none that was refused is.
        assert await reopened.recover(20.0) == Recovery(unknown=len(opened), rescheduled=0)
    finally:
        await store.aclose()
