"""The store's answers capability, clause by clause, over every store
(``polyout/_campaign/_store_answers.py``): how placed calls ended, across campaigns."""

from __future__ import annotations

import pytest

from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignStore, FeedPosition, StoredCampaign
from polyout._campaign._store_answers import AnswersCampaign, CallOutcome
from tests.store.conftest import Stores
from tests.store.scenario import DEFINITION, dial, entry, number, place

S = ContactState


async def four_contacts(store: CampaignStore, name: str) -> StoredCampaign:
    campaign = await store.create(name, DEFINITION)
    await campaign.append([entry(seq) for seq in range(4)], FeedPosition(4, None, True), now=1.0)
    return campaign


def answers(campaign: StoredCampaign) -> AnswersCampaign:
    if not isinstance(campaign, AnswersCampaign):
        pytest.skip(f"{type(campaign).__name__} has no answers capability yet")
    return campaign


async def test_n1_placed_calls_that_ended_across_campaigns_since_a_moment(
    stores: Stores,
) -> None:
    store = stores.open()
    spring = await four_contacts(store, "spring")
    autumn = await four_contacts(store, "autumn")
    # spring: 0 answered at 100, 1 no answer at 200 (retried), 2 placed and still ringing,
    # 3 a send that placed nothing.
    intent = await place(spring, 0, "S-0", now=100.0)
    await spring.record_outcome(0, intent, outcome=S.SUCCESS, retry_due=None, reason=None, now=160)
    intent = await place(spring, 1, "S-1", now=200.0)
    await spring.record_outcome(
        1, intent, outcome=S.NO_ANSWER, retry_due=900, reason="no_answer", now=230
    )
    await place(spring, 2, "S-2", now=300.0)
    intent = await dial(spring, 3, now=400.0)
    await spring.close_intent(3, intent, error="503", now=401.0)
    # autumn: 0 busy at 50 (before ``since``), 1 failed at 500.
    intent = await place(autumn, 0, "A-0", now=50.0)
    await autumn.record_outcome(0, intent, outcome=S.BUSY, retry_due=None, reason="busy", now=60)
    intent = await place(autumn, 1, "A-1", now=500.0)
    await autumn.record_outcome(1, intent, outcome=S.FAILURE, retry_due=None, reason="x", now=560)
    await autumn.flush()  # another campaign's batch is seen once committed (N1)

    found = await answers(spring).call_outcomes(since=100.0)
    zones = ("America/Los_Angeles",)
    assert sorted(found, key=lambda call: call.placed_at) == [
        CallOutcome(number(0), zones, 100.0, S.SUCCESS),
        CallOutcome(number(1), zones, 200.0, S.NO_ANSWER),
        CallOutcome(number(1), zones, 500.0, S.FAILURE),
    ]
    assert len(await answers(autumn).call_outcomes(since=0.0)) == 4  # the same, from autumn
    await store.aclose()


async def test_n2_intents_since_a_moment_counts_this_campaigns_sends(stores: Stores) -> None:
    store = stores.open()
    spring = await four_contacts(store, "spring")
    autumn = await four_contacts(store, "autumn")
    await place(spring, 0, "S-0", now=100.0)
    intent = await dial(spring, 1, now=200.0)
    await spring.close_intent(1, intent, error="503", now=201.0)
    await spring.open_intent("worker-1", 1, after=intent, now=210.0)  # its second send
    await place(autumn, 0, "A-0", now=300.0)  # another campaign's

    assert await answers(spring).intents_since(150.0) == 2
    assert await answers(spring).intents_since(0.0) == 3
    assert await answers(spring).intents_since(211.0) == 0
    assert await answers(autumn).intents_since(0.0) == 1
    await store.aclose()
