"""A frequency cap across two workers on PostgreSQL: two stores (two processes' pools)
open intents for the same numbers in two campaigns at once; under the cap each number is
dialled once, however the transactions interleave."""

from __future__ import annotations

import asyncio

from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._store import FeedPosition, StoredCampaign
from polyout._campaign._store_policy import CapReached, FrequencyCap, IntentPolicy
from tests.store.scenario import DEFINITION, entry

NUMBERS = 30
CAP = IntentPolicy((FrequencyCap(1, 86400.0, "1/24h"),))


async def _campaign(store: PostgresStore, name: str) -> StoredCampaign:
    campaign = await store.create(name, DEFINITION)
    entries = [entry(seq) for seq in range(NUMBERS)]  # the same numbers in both campaigns
    await campaign.append(entries, FeedPosition(NUMBERS, None, True), now=1.0)
    await campaign.flush()
    return campaign


async def _dial_all(campaign: StoredCampaign, worker: str) -> list[bool]:
    due = await campaign.claim_due(worker, 10.0, NUMBERS)
    assert len(due) == NUMBERS

    async def one(seq: int) -> bool:
        try:
            await campaign.open_intent(worker, seq, after=0, now=10.0, policy=CAP)
        except CapReached:
            return False
        return True

    return list(await asyncio.gather(*(one(contact.seq) for contact in due)))


async def test_two_workers_never_both_pass_a_cap(pg_database: str) -> None:
    first, second = PostgresStore(pg_database, max_size=8), PostgresStore(pg_database, max_size=8)
    try:
        spring = await _campaign(first, "spring")
        summer = await _campaign(second, "summer")
        # Each campaign's intents go through its own connection: race them seq by seq.
        results = await asyncio.gather(_dial_all(spring, "a"), _dial_all(summer, "b"))
        passed = [a + b for a, b in zip(*results, strict=True)]
        assert passed == [1] * NUMBERS  # each number once, in one campaign or the other
        history = await spring.number_history(entry(0).to_number or "", since=0.0)
        assert len(history.dials) == 1
    finally:
        await first.aclose()
        await second.aclose()
