"""Store clause 3b, over every store: a call sid learned late.

A worker sent a trigger and got its sid, but could not record it (its connection to the
store was cut). Meanwhile it was reaped, or recovered itself: the intent became
``unknown``. When the store answers again, the sid upgrades the unknown; a retry of a
sid already recorded is a no-op; and nothing else is ever overwritten.
"""

from __future__ import annotations

import pytest

from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    DuplicateCallSid,
    Recovery,
    StaleTransition,
    StoredCampaign,
)
from tests.store.conftest import Stores
from tests.store.scenario import (
    OTHER,
    WORKER,
    campaign_of,
    dial,
    place,
    reopened,
    result,
)

S = ContactState


async def late(campaign: StoredCampaign, seq: int, intent: int, sid: str, now: float) -> None:
    await campaign.record_placement(
        seq,
        intent,
        call_sid=sid,
        call_status="ringing",
        correlation_id=f"corr-{sid}",
        deadline=now + 3600,
        now=now,
    )


async def test_clause_3b_a_late_sid_upgrades_an_unknown_left_by_a_reap(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    intent = await dial(campaign, 0, WORKER)
    assert await campaign.recover(20.0, worker=WORKER) == Recovery(unknown=1, rescheduled=0)
    assert await campaign.counts() == {S.UNKNOWN: 1, S.SCHEDULED: 1}

    await late(campaign, 0, intent, "CA-LATE", now=30.0)

    store = stores.crash(store)  # durable
    campaign = await reopened(store)
    record = await result(campaign, 0)
    assert (record["state"], record["call_sid"], record["attempts"]) == ("in_flight", "CA-LATE", 1)
    assert (record["reason"], record["error"], record["finished_at"]) == (None, None, None)
    assert [entry.event for entry in await campaign.history(0)][-2:] == ["final", "placed"]
    # Held by no worker: whichever asks first follows it, once.
    [call] = await campaign.calls_in_flight(OTHER)
    assert (call.seq, call.intent, call.call_sid, call.attempts) == (0, intent, "CA-LATE", 1)
    assert await campaign.calls_in_flight(WORKER) == []
    # It ends like any call, and its number is never dialled again meanwhile.
    assert [due.seq for due in await campaign.claim_due(WORKER, 99.0, 10)] == [1]
    await campaign.record_outcome(
        0, intent, outcome=S.SUCCESS, retry_due=None, reason=None, now=40.0
    )
    assert (await result(campaign, 0))["state"] == "success"


async def test_clause_3b_recording_the_same_sid_again_is_a_no_op(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    intent = await place(campaign, 0, "CA1", now=10.0)
    history = await campaign.history(0)

    await late(campaign, 0, intent, "CA1", now=11.0)  # its first answer was lost

    assert await campaign.history(0) == history
    assert (await result(campaign, 0))["attempts"] == 1
    assert [call.call_sid for call in await campaign.calls_in_flight(WORKER)] == ["CA1"]


async def test_clause_3b_a_late_sid_never_overwrites_another_decision(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 4)
    # 0: requeued by an operator after it became unknown; 1: placed with another sid;
    # 2: unknown because its answer was lost, a later intent; 3: ended, sid recorded.
    first = await dial(campaign, 0)
    await campaign.recover(20.0, worker=WORKER)
    await campaign.requeue_unknown(21.0)
    second = await place(campaign, 1, "CA1")
    third = await dial(campaign, 2)
    await campaign.record_unknown(2, third, reason="answer lost", error="timeout", now=12.0)
    fourth = await place(campaign, 3, "CA3")
    await campaign.record_outcome(3, fourth, outcome=S.BUSY, retry_due=None, reason=None, now=13)
    before = [await result(campaign, seq) for seq in range(4)]

    for seq, intent, sid in ((0, first, "CA0"), (1, second, "CA9"), (2, third + 1, "CA2")):
        with pytest.raises(StaleTransition):
            await late(campaign, seq, intent, sid, now=30.0)
    with pytest.raises(StaleTransition):
        await late(campaign, 3, fourth, "CA3", now=30.0)  # no longer in flight

    assert [await result(campaign, seq) for seq in range(4)] == before


async def test_clause_3b_a_late_sid_already_used_leaves_the_unknown(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 2)
    await place(campaign, 0, "CA0")
    intent = await dial(campaign, 1)
    await campaign.recover(20.0, worker=WORKER)
    before = await result(campaign, 1)

    with pytest.raises(DuplicateCallSid):
        await late(campaign, 1, intent, "CA0", now=30.0)

    assert await result(campaign, 1) == before
