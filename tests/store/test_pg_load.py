"""Loading contacts into the PostgreSQL store: ``append`` as one binary COPY per batch.

The store contract's clauses 7 and 12 are proved for every store in test_conformance;
these prove what the fast path adds: a number dialable in a contact stored many batches
earlier is refused by the unique index (the whole batch, nothing stored, the number not
shown), a load of many batches reads back exactly, feed position and all, and the
feeder hands the store batches of the size it asks for (``feed_batch``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import psycopg
import pytest

from polyout._campaign._clock import SystemClock
from polyout._campaign._contacts import Contact
from polyout._campaign._events import EventBus
from polyout._campaign._feeder import BATCH as FEEDER_BATCH
from polyout._campaign._feeder import Feeder
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._recorder import Progress, Recorder
from polyout._campaign._states import ContactState
from polyout._campaign._store import ContactEntry, FeedPosition, StaleTransition
from tests.store.scenario import DEFINITION, NAME

S = ContactState
BATCH = 256


def contact(
    seq: int, *, to_number: str | None = None, state: ContactState = S.SCHEDULED
) -> ContactEntry:
    return ContactEntry(
        seq=seq,
        contact_id=f"c{seq}",
        row=seq + 2,
        to_number=to_number or f"+4474{seq:08d}",
        state=state,
        due=float(seq) if state is S.SCHEDULED else None,
        request={"metadata": {"n": seq, "name": "Zoë"}, "encryption": None, "variant_id": None},
        zones=("Europe/London",),
        reason=None if state is S.SCHEDULED else "do not call",
    )


async def test_a_load_of_many_batches_reads_back_exactly(pg_database: str) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await store.create(NAME, DEFINITION)
        count = 20 * BATCH + 7
        for first in range(0, count, BATCH):
            stop = min(count, first + BATCH)
            batch = [contact(seq) for seq in range(first, stop)]
            await campaign.append(batch, FeedPosition(stop, f"d{stop}", stop == count), now=1.0)
        suppressed = contact(count, to_number="+447400000001", state=S.SUPPRESSED)
        await campaign.append([suppressed], FeedPosition(count + 1, "end", True), now=2.0)
        await campaign.flush()
        assert await campaign.feed_position() == FeedPosition(count + 1, "end", True)
        assert await campaign.counts() == {S.SCHEDULED: count, S.SUPPRESSED: 1}
        last = [row async for row in campaign.results()][count - 1]
        assert (last["contact_id"], last["row"], last["to_number"]) == (
            f"c{count - 1}",
            count + 1,
            f"+4474{count - 1:08d}",
        )
        # A replay of the last full batch (a feeder's restart) is a no-op, as stored.
        again = [contact(seq) for seq in range(count - 7 - BATCH, count - 7)]
        await campaign.append(again, FeedPosition(count + 1, "end", True), now=3.0)
        assert await campaign.has_number(f"+4474{count - 1:08d}")  # dialable
        assert await campaign.has_number("+447400000001")  # suppressed: taken too
        assert not await campaign.has_number(f"+4474{count + 5:08d}")
    finally:
        await store.aclose()
    async with await psycopg.AsyncConnection.connect(pg_database) as conn:
        cursor = await conn.execute(
            "SELECT request, zones, first_due FROM polyout_contacts WHERE seq = 3"
        )
        assert await cursor.fetchall() == [
            (
                {"metadata": {"n": 3, "name": "Zoë"}, "encryption": None, "variant_id": None},
                ["Europe/London"],
                3.0,
            )
        ]


async def test_a_number_dialable_batches_earlier_refuses_the_whole_batch_unshown(
    pg_database: str,
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await store.create(NAME, DEFINITION)
        for first in range(0, 8 * BATCH, BATCH):
            batch = [contact(seq) for seq in range(first, first + BATCH)]
            await campaign.append(batch, FeedPosition(first + BATCH, None, False), now=1.0)
        taken = "+447400000005"  # contact #5's, stored seven batches ago
        clash = [contact(seq) for seq in range(8 * BATCH, 9 * BATCH)]
        clash[200] = contact(8 * BATCH + 200, to_number=taken)
        with pytest.raises(StaleTransition) as refused:
            await campaign.append(clash, FeedPosition(9 * BATCH, None, False), now=1.0)
        assert "dialable in another contact" in str(refused.value)
        assert "7400000005" not in str(refused.value)  # no number in an error
        await campaign.flush()
        assert await campaign.feed_position() == FeedPosition(8 * BATCH, None, False)
        assert await campaign.counts() == {S.SCHEDULED: 8 * BATCH}  # nothing of it
        assert not await campaign.has_number(f"+4474{8 * BATCH:08d}")
        # The same contact excluded as a duplicate (what the planner makes of it) goes in.
        clash[200] = contact(8 * BATCH + 200, to_number=taken, state=S.DUPLICATE)
        await campaign.append(clash, FeedPosition(9 * BATCH, None, True), now=1.0)
        await campaign.flush()
        assert await campaign.counts() == {S.SCHEDULED: 9 * BATCH - 1, S.DUPLICATE: 1}
    finally:
        await store.aclose()


async def test_the_feeder_hands_the_store_batches_of_the_size_it_asks_for(
    pg_database: str,
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        campaign = await store.create(NAME, DEFINITION)
        assert campaign.feed_batch > FEEDER_BATCH
        sizes: list[int] = []
        append = campaign.append

        async def slowed(
            entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
        ) -> None:
            sizes.append(len(entries))
            await asyncio.sleep(0.05)  # a loaded server: the next batch fills meanwhile
            await append(entries, position, now=now)

        campaign.append = slowed  # type: ignore[method-assign]

        def contacts() -> Iterator[Contact]:
            for n in range(3000):
                yield Contact(id=f"c{n}", phone=f"+4474{n:08d}")

        recorder = Recorder(campaign, SystemClock(), EventBus(), Progress({}, 0))
        feeder = Feeder(
            recorder,
            contacts(),
            label="contacts.csv",
            window=None,
            default_timezone=None,
            default_country=None,
            suppressed=frozenset(),
            stopping=lambda: False,
        )
        await feeder.run()
        await campaign.flush()
        assert sum(sizes) == 3000
        assert FEEDER_BATCH < max(sizes) <= campaign.feed_batch
        assert (await campaign.feed_position()).count == 3000
        assert await campaign.counts() == {S.SCHEDULED: 3000}
    finally:
        await store.aclose()
