"""What only the in-memory store promises besides the contract: a dead instance stays
dead, a contact's undo copy is whole, and dispatch stays O(log n) at rehearsal sizes."""

from __future__ import annotations

import random
import time

import attrs
import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._memory_backing import ContactRecord, IntentRecord
from polyout._campaign._memory_store import MemoryBacking, MemoryStore
from polyout._campaign._store import FeedPosition, LogEntry
from tests.store.scenario import DEFINITION, NAME, WORKER, S, campaign_of, entry, results


async def test_a_store_reopened_after_a_crash_leaves_the_old_one_dead() -> None:
    backing = MemoryBacking()
    old = MemoryStore(backing)
    campaign = await campaign_of(old, 1)
    MemoryStore(backing)  # the restart after SIGKILL
    with pytest.raises(JournalError, match="reopened"):
        await campaign.claim_due(WORKER, 10.0, 1)
    with pytest.raises(JournalError, match="reopened"):
        await old.names()
    await old.aclose()  # closing a dead store neither fails nor commits anything


def test_a_contacts_undo_copy_has_every_field() -> None:
    values = {
        field.name: f"value of {field.name}"
        for field in attrs.fields(ContactRecord)
        if field.name not in ("intents", "log")
    }
    record = ContactRecord(
        **values,  # type: ignore[arg-type]
        intents=[IntentRecord(1, 2.0)],
        log=[LogEntry(2.0, "intent", 1)],
    )
    clone = record.copy()
    assert clone == record
    clone.intents.append(IntentRecord(2, 3.0))
    clone.log.clear()
    assert len(record.intents) == 1
    assert len(record.log) == 1


async def test_twenty_thousand_contacts_are_claimed_once_each_in_due_order() -> None:
    count = 20_000
    draw = random.Random(7)
    store = MemoryStore()
    campaign = await store.create(NAME, DEFINITION)
    entries = [entry(seq, due=float(draw.randrange(5000))) for seq in range(count)]
    started = time.perf_counter()
    await campaign.append(entries, FeedPosition(count, "d", True), now=0.0)
    claimed: list[tuple[float, int]] = []
    now = 250.0
    while due_now := await campaign.claim_due(WORKER, now, 1000):
        for due in due_now:
            claimed.append((entries[due.seq].due or 0.0, due.seq))
            intent = await campaign.open_intent(WORKER, due.seq, after=0, now=now)
            await campaign.record_not_placed(
                due.seq, intent, state=S.FAILURE, due=None, reason=None, error="e", now=now
            )
        now = min(now + 250.0, 5000.0)
    elapsed = time.perf_counter() - started
    assert len(claimed) == len({seq for _, seq in claimed}) == count
    assert claimed == sorted(claimed)  # earliest due first, then input order
    assert [r["state"] for r in await results(campaign)] == ["failure"] * count
    # Quadratic dispatch would take minutes here; O(log n) takes about half a second.
    assert elapsed < 15, f"{count} contacts took {elapsed:.1f} s"
