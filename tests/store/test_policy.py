"""The store's policy capability, clause by clause, over every store
(``polyout/_campaign/_store_policy.py``): caps counted across campaigns in the intent's
own transaction, receipts sealed with it in a hash chain, a number's history."""

from __future__ import annotations

import asyncio

import pytest

from polyout._campaign._policy_audit import verify_receipts
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignStore, FeedPosition, StoredCampaign
from polyout._campaign._store_policy import CapReached, FrequencyCap, IntentPolicy
from tests.store.conftest import Stores
from tests.store.scenario import (
    DEFINITION,
    NAME,
    OTHER,
    WORKER,
    campaign_of,
    claim,
    entry,
    place,
    state,
)

S = ContactState
HOUR = 3600.0
SHARED = "+14155550100"


def capped(limit: int, window: float = 24 * HOUR, **notes: object) -> IntentPolicy:
    return IntentPolicy((FrequencyCap(limit, window, f"{limit}/24h"),), notes)


async def sharing(store: CampaignStore, name: str, contacts: int = 2) -> StoredCampaign:
    """A campaign whose contacts all have distinct numbers but the first: ``SHARED``."""
    campaign = await store.create(name, DEFINITION)
    entries = [entry(seq, to_number=SHARED if seq == 0 else None) for seq in range(contacts)]
    await campaign.append(entries, FeedPosition(contacts, None, True), now=1.0)
    await campaign.flush()
    return campaign


async def open_capped(
    campaign: StoredCampaign, seq: int, now: float, policy: IntentPolicy, worker: str = WORKER
) -> int:
    after = await claim(campaign, seq, worker, now)
    return await campaign.open_intent(worker, seq, after=after, now=now, policy=policy)


async def test_p1_a_cap_counts_the_dials_of_every_campaign_and_names_the_next_moment(
    stores: Stores,
) -> None:
    store = stores.open()
    spring, summer, autumn = [await sharing(store, name) for name in ("spring", "summer", "autumn")]
    await open_capped(spring, 0, 1000.0, capped(2))
    await open_capped(summer, 0, 2000.0, capped(2))
    with pytest.raises(CapReached) as refused:
        await open_capped(autumn, 0, 3000.0, capped(2))
    assert refused.value.count == 2
    assert refused.value.next_allowed == 1000.0 + 24 * HOUR  # the oldest leaves the window
    assert "2/24h" in str(refused.value)
    # Refused: nothing changed (still scheduled, no intent, no receipt).
    assert await state(autumn, 0) == "scheduled"
    assert await autumn.receipt_head() is None
    await autumn.release(WORKER, [0])
    # Once the oldest dial leaves the window the number may ring again.
    assert await open_capped(autumn, 0, 1000.0 + 24 * HOUR, capped(2)) == 1


async def test_p1_a_send_that_placed_nothing_is_not_a_dial(stores: Stores) -> None:
    store = stores.open()
    spring, summer = await sharing(store, "spring"), await sharing(store, "summer")
    intent = await open_capped(spring, 0, 1000.0, capped(1))
    await spring.close_intent(0, intent, error="503", now=1001.0)
    assert await open_capped(summer, 0, 1002.0, capped(1)) == 1
    with pytest.raises(CapReached):
        await spring.open_intent(WORKER, 0, after=1, now=1003.0, policy=capped(1))


async def test_p1_two_workers_racing_for_one_number_never_both_pass(stores: Stores) -> None:
    store = stores.open()
    spring, summer = await sharing(store, "spring"), await sharing(store, "summer")
    await claim(spring, 0, WORKER, 10.0)
    await claim(summer, 0, OTHER, 10.0)
    outcomes = await asyncio.gather(
        spring.open_intent(WORKER, 0, after=0, now=10.0, policy=capped(1)),
        summer.open_intent(OTHER, 0, after=0, now=10.0, policy=capped(1)),
        return_exceptions=True,
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["CapReached", "int"]


async def test_p2_the_receipt_is_sealed_with_the_intent_and_survives_a_crash(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await sharing(store, NAME, contacts=3)
    await open_capped(campaign, 0, 100.0, capped(3, zone="America/New_York"))
    await open_capped(campaign, 1, 101.0, capped(3, zone="Europe/London"))
    await campaign.open_intent(
        WORKER, 2, after=await claim(campaign, 2, WORKER, 102.0), now=102.0
    )  # no policy: no receipt
    store = stores.crash(store)
    campaign = await store.open(NAME)
    receipts = [receipt async for receipt in campaign.receipts()]
    assert [(r.n, r.body["seq"], r.body["intent"]) for r in receipts] == [(1, 0, 1), (2, 1, 1)]
    assert receipts[0].body["zone"] == "America/New_York"
    assert receipts[0].body["caps"] == [{"rule": "3/24h", "count": 0, "limit": 3}]
    assert receipts[1].previous == receipts[0].hash
    assert receipts[0].previous == ""
    assert await campaign.receipt_head() == (2, receipts[1].hash)
    assert (await verify_receipts(campaign)).broken is None


async def test_p4_a_numbers_history_across_campaigns(stores: Stores) -> None:
    store = stores.open()
    spring, summer = await sharing(store, "spring"), await sharing(store, "summer")
    intent = await place(spring, 0, "sid-1", now=50.0)
    await spring.record_outcome(
        0, intent, outcome=S.FAILURE, retry_due=None, reason="failed", now=60.0
    )
    intent = await open_capped(summer, 0, 70.0, capped(5))
    await summer.record_not_placed(
        0, intent, state=S.INVALID, due=None, reason="invalid number", error="400", now=71.0
    )
    await spring.flush()  # another campaign's batched writes are seen once committed
    await summer.flush()
    history = await summer.number_history(SHARED, since=0.0)
    # The refused trigger placed nothing: a refusal, not a dial.
    assert history.dials == ((50.0, "spring"),)
    assert (history.failures, history.refusals) == (1, 1)
    assert (await spring.number_history(SHARED, since=50.0)).dials == ()
    await place(summer, 1, "sid-2", now=80.0)
    numbers = [SHARED, "+14155550001", "+14155550999"]
    assert await store.recently_called(numbers, since=0.0) == {"spring": 1, "summer": 1}
    assert await store.recently_called(numbers, since=60.0) == {"summer": 1}


async def test_campaign_of_still_dials_without_a_policy(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1)
    await claim(campaign, 0)
    assert await campaign.open_intent(WORKER, 0, after=0, now=10.0) == 1
    assert await campaign.receipt_head() is None
