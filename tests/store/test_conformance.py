"""The store contract, clause by clause, over every store (``polyout/_campaign/_store.py``).

Each test is named after the clause it keeps. ``stores.crash(store)`` drops a store as
SIGKILL would and opens it again: every durable clause is checked across one.
"""

from __future__ import annotations

import math

import pytest

import polyout
from polyout._campaign._states import RETRYABLE, ContactState
from polyout._campaign._store import (
    LATEST_TIME,
    CampaignExists,
    CampaignNotFound,
    DuplicateCallSid,
    FeedPosition,
    Recovery,
    StaleTransition,
    StoredCampaign,
)
from tests.store.conftest import Stores
from tests.store.scenario import (
    DEFINITION,
    NAME,
    OTHER,
    WORKER,
    campaign_of,
    claim,
    dial,
    entry,
    number,
    place,
    reopened,
    result,
    results,
    state,
)

S = ContactState
LATEST_ISO = "9999-12-31T00:00:00Z"


# -- 1. create ---------------------------------------------------------------------------
async def test_clause_1_a_campaign_is_created_whole_and_survives_a_crash(stores: Stores) -> None:
    store = stores.open()
    await store.create(NAME, DEFINITION)
    with pytest.raises(CampaignExists):
        await store.create(NAME, DEFINITION)
    with pytest.raises(CampaignNotFound):
        await store.open("autumn")
    store = stores.crash(store)
    assert await store.names() == [NAME]
    campaign = await reopened(store)
    assert await campaign.definition() == DEFINITION
    assert await campaign.feed_position() == FeedPosition(0, None, False)


async def test_clause_1_a_store_holds_several_campaigns_apart(stores: Stores) -> None:
    store = stores.open()
    spring = await campaign_of(store, 2)
    autumn = await campaign_of(store, 1, name="autumn")  # the same number: another campaign
    await dial(spring, 0)
    assert await store.names() == ["autumn", NAME]
    assert await autumn.counts() == {S.SCHEDULED: 1}
    assert await spring.counts() == {S.SCHEDULED: 1, S.DIALING: 1}


# -- 2. open_intent ----------------------------------------------------------------------
async def test_clause_2_an_intent_survives_a_crash_and_is_never_sent_again(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    intent = await dial(campaign, 0)
    assert intent == 1
    store = stores.crash(store)
    campaign = await reopened(store)
    assert await campaign.counts() == {S.SCHEDULED: 1, S.DIALING: 1}
    assert [e.event for e in await campaign.history(0)] == ["intent"]
    assert await campaign.recover(20.0) == Recovery(unknown=1, rescheduled=0)
    assert await state(campaign, 0) == "unknown"
    assert [due.seq for due in await campaign.claim_due(WORKER, 99.0, 10)] == [1]


async def test_clause_2_only_open_intent_makes_a_contact_dialing(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    await claim(campaign, 0)
    assert await campaign.counts() == {S.SCHEDULED: 1}  # a claim is not an intent
    with pytest.raises(StaleTransition):
        await campaign.record_placement(
            0, 1, call_sid="CA1", call_status="queued", correlation_id=None, deadline=9, now=1
        )
    assert await campaign.open_intent(WORKER, 0, after=0, now=5.0) == 1
    assert await campaign.counts() == {S.DIALING: 1}


# -- 3. record_placement -----------------------------------------------------------------
async def test_clause_3_a_recorded_sid_survives_a_crash(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1)
    await place(campaign, 0, "CA0001", now=10.0)
    store = stores.crash(store)
    campaign = await reopened(store)
    assert await campaign.recover(20.0) == Recovery(unknown=0, rescheduled=0)
    [call] = await campaign.calls_in_flight(OTHER)
    assert (call.seq, call.intent, call.call_sid, call.attempts) == (0, 1, "CA0001", 1)
    assert (call.placed_at, call.deadline, call.zones) == (10.0, 3610.0, ("America/Los_Angeles",))
    record = await result(campaign, 0)
    assert (record["state"], record["call_sid"], record["correlation_id"]) == (
        "in_flight",
        "CA0001",
        "corr-CA0001",
    )


async def test_clause_3_a_sid_given_twice_makes_the_second_contact_unknown_durably(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    await place(campaign, 0, "CA0001")
    intent = await dial(campaign, 1)
    with pytest.raises(DuplicateCallSid, match="CA0001"):
        await campaign.record_placement(
            1,
            intent,
            call_sid="CA0001",
            call_status="queued",
            correlation_id=None,
            deadline=9e3,
            now=11.0,
        )
    store = stores.crash(store)
    campaign = await reopened(store)
    first, second = await results(campaign)
    assert (first["state"], first["call_sid"]) == ("in_flight", "CA0001")
    assert (second["state"], second["attempts"], second["call_sid"]) == ("unknown", 1, None)
    assert "CA0001" in str(second["reason"])


# -- 4. close_intent, record_unknown ---------------------------------------------------------
async def test_clause_4_a_closed_intent_survives_a_crash_and_is_not_unknown(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1)
    intent = await dial(campaign, 0)
    await campaign.close_intent(0, intent, error="HTTP 429", now=11.0)
    store = stores.crash(store)
    campaign = await reopened(store)
    assert await campaign.recover(30.0) == Recovery(unknown=0, rescheduled=1)
    record = await result(campaign, 0)
    assert (record["state"], record["attempts"]) == ("scheduled", 0)
    assert record["next_attempt_at"] == "1970-01-01T00:00:30Z"
    [due] = await campaign.claim_due(WORKER, 30.0, 10)
    assert (due.seq, due.intents, due.attempts) == (0, 1, 0)


async def test_clause_4_the_next_send_after_a_closed_intent_is_a_new_intent(
    stores: Stores,
) -> None:
    campaign = await campaign_of(stores.open(), 1)
    first = await dial(campaign, 0)
    await campaign.close_intent(0, first, error="HTTP 503", now=11.0)
    second = await campaign.open_intent(WORKER, 0, after=first, now=12.0)
    assert second == 2
    assert await campaign.counts() == {S.DIALING: 1}
    events = [(e.event, e.intent) for e in await campaign.history(0)]
    assert events == [("intent", 1), ("not_placed", 1), ("intent", 2)]


async def test_clause_4_record_unknown_survives_a_crash(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1)
    intent = await dial(campaign, 0)
    await campaign.record_unknown(0, intent, reason="connection reset", error="reset", now=12.0)
    store = stores.crash(store)
    record = await result(await reopened(store), 0)
    assert (record["state"], record["attempts"], record["reason"]) == (
        "unknown",
        1,
        "connection reset",
    )
    assert record["finished_at"] == "1970-01-01T00:00:12Z"


# -- 5. compare-and-set ------------------------------------------------------------------------
async def _a_dialing_contact(campaign: StoredCampaign) -> int:
    return await dial(campaign, 0)


STALE_MOVES = {
    "placement of another intent": lambda c, i: c.record_placement(
        0, i + 1, call_sid="CA9", call_status=None, correlation_id=None, deadline=9, now=1
    ),
    "an outcome while dialing": lambda c, i: c.record_outcome(
        0, i, outcome=S.SUCCESS, retry_due=None, reason=None, now=1
    ),
    "a status while dialing": lambda c, i: c.record_status(0, i, "ringing", 1),
    "an intent after a stale count": lambda c, i: c.open_intent(WORKER, 0, after=0, now=1),
    "an intent while one is open": lambda c, i: c.open_intent(WORKER, 0, after=i, now=1),
    "not placed ending unknown": lambda c, i: c.record_not_placed(
        0, i, state=S.UNKNOWN, due=None, reason=None, error=None, now=1
    ),
    "not placed ending success": lambda c, i: c.record_not_placed(
        0, i, state=S.SUCCESS, due=None, reason=None, error=None, now=1
    ),
    "a reschedule while dialing": lambda c, i: c.reschedule(WORKER, 0, 99.0, why="w", now=1),
    "closing another intent": lambda c, i: c.close_intent(0, i + 1, error="e", now=1),
    "a contact that does not exist": lambda c, i: c.record_unknown(
        7, 1, reason="r", error=None, now=1
    ),
}


@pytest.mark.parametrize("move", sorted(STALE_MOVES))
async def test_clause_5_a_transition_from_the_wrong_state_changes_nothing(
    stores: Stores, move: str
) -> None:
    campaign = await campaign_of(stores.open(), 1)
    intent = await _a_dialing_contact(campaign)
    before = (await results(campaign), await campaign.history(0), await campaign.counts())
    with pytest.raises(StaleTransition):
        await STALE_MOVES[move](campaign, intent)
    after = (await results(campaign), await campaign.history(0), await campaign.counts())
    assert after == before


async def test_clause_5_an_intent_names_the_intents_it_saw(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    first = await dial(campaign, 0)
    await campaign.record_not_placed(
        0, first, state=S.SCHEDULED, due=20.0, reason=None, error="HTTP 503", now=11
    )
    [due] = await campaign.claim_due(WORKER, 20.0, 10)
    assert due.intents == 1
    with pytest.raises(StaleTransition):  # what a worker saw before the first intent
        await campaign.open_intent(WORKER, 0, after=0, now=20.0)
    assert await campaign.open_intent(WORKER, 0, after=due.intents, now=20.0) == 2


async def test_clause_5_a_final_contact_takes_no_more_transitions(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    intent = await place(campaign, 0, "CA1")
    await campaign.record_outcome(0, intent, outcome=S.SUCCESS, retry_due=None, reason=None, now=20)
    with pytest.raises(StaleTransition):
        await campaign.record_outcome(
            0, intent, outcome=S.BUSY, retry_due=None, reason=None, now=21
        )
    with pytest.raises(StaleTransition):
        await campaign.record_status(0, intent, "completed", 21)
    with pytest.raises(StaleTransition):  # an outcome a call cannot have
        await campaign.record_outcome(
            0, intent, outcome=S.DUPLICATE, retry_due=None, reason=None, now=21
        )
    assert await state(campaign, 0) == "success"


# -- 6. exactly once ---------------------------------------------------------------------------
@pytest.mark.parametrize("outcome", [S.SUCCESS, S.CANCELLED, S.EXPIRED])
async def test_clause_6_a_call_that_may_have_rung_is_never_dialled_again(
    stores: Stores, outcome: ContactState
) -> None:
    campaign = await campaign_of(stores.open(), 1)
    intent = await place(campaign, 0, "CA1")
    with pytest.raises(StaleTransition):  # a retry of an outcome that is not retryable
        await campaign.record_outcome(0, intent, outcome=outcome, retry_due=50, reason=None, now=20)
    await campaign.record_outcome(0, intent, outcome=outcome, retry_due=None, reason=None, now=20)
    assert await campaign.claim_due(WORKER, 1e9, 10) == []
    with pytest.raises(StaleTransition):
        await campaign.open_intent(WORKER, 0, after=intent, now=30)
    assert [e.event for e in await campaign.history(0)].count("intent") == 1


@pytest.mark.parametrize("outcome", sorted(RETRYABLE))
async def test_clause_6_a_retryable_outcome_lets_one_new_intent_open(
    stores: Stores, outcome: ContactState
) -> None:
    campaign = await campaign_of(stores.open(), 1)
    first = await place(campaign, 0, "CA1")
    await campaign.record_outcome(0, first, outcome=outcome, retry_due=50, reason="r", now=20)
    assert await campaign.next_due() == 50.0
    assert await dial(campaign, 0, now=50.0) == 2
    with pytest.raises(StaleTransition):  # the second is open: no third
        await campaign.open_intent(WORKER, 0, after=2, now=51.0)


async def test_clause_6_two_workers_racing_for_one_contact_open_one_intent(
    stores: Stores,
) -> None:
    campaign = await campaign_of(stores.open(), 1)
    after = await claim(campaign, 0, WORKER)
    # WORKER looks dead (its lease ran out): its share is recovered, OTHER claims it.
    await campaign.recover(11.0, worker=WORKER)
    other_after = await claim(campaign, 0, OTHER, now=11.0)
    assert await campaign.open_intent(OTHER, 0, after=other_after, now=12.0) == 1
    with pytest.raises(StaleTransition):  # WORKER was alive after all
        await campaign.open_intent(WORKER, 0, after=after, now=12.0)
    assert [e.event for e in await campaign.history(0)] == ["intent"]


# -- 7. one dialable number ------------------------------------------------------------------
async def test_clause_7_a_number_is_dialable_in_one_contact_only(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 2)
    clash = [entry(2), entry(3, to_number=number(0))]
    with pytest.raises(StaleTransition):
        await campaign.append(clash, FeedPosition(4, "d4", False), now=2.0)
    with pytest.raises(StaleTransition):  # twice within one batch
        await campaign.append(
            [entry(2), entry(3, to_number=number(2))], FeedPosition(4, "d4", False), now=2.0
        )
    assert len(await results(campaign)) == 2  # nothing of either batch
    assert (await campaign.feed_position()).count == 2
    excluded = [
        entry(2, to_number=number(0), state=S.DUPLICATE, reason="the same number"),
        entry(3, to_number="+14155550999", state=S.SUPPRESSED, reason="do not call"),
        entry(4, to_number="not a number", state=S.INVALID, reason="bad"),
    ]
    await campaign.append(excluded, FeedPosition(5, "d5", True), now=2.0)
    assert await campaign.counts() == {
        S.SCHEDULED: 2,
        S.DUPLICATE: 1,
        S.SUPPRESSED: 1,
        S.INVALID: 1,
    }
    assert await campaign.has_number(number(0))
    assert await campaign.has_number("+14155550999")  # a suppressed contact takes its number
    assert not await campaign.has_number("not a number")
    assert await campaign.has_contact_id("c3")
    assert not await campaign.has_contact_id("c4")
    invalid = await result(campaign, 4)
    assert (invalid["state"], invalid["reason"], invalid["to_number"]) == (
        "invalid",
        "bad",
        "not a number",
    )
    assert invalid["finished_at"] == "1970-01-01T00:00:02Z"


# -- 8. claims -----------------------------------------------------------------------------
async def test_clause_8_each_due_contact_goes_to_one_worker_earliest_first(
    stores: Stores,
) -> None:
    campaign = await stores.open().create(NAME, DEFINITION)
    dues = [30.0, 10.0, 20.0, 10.0, 500.0]
    entries = [entry(seq, due=due) for seq, due in enumerate(dues)]
    await campaign.append(entries, FeedPosition(5, "d", True), now=0.0)
    assert await campaign.next_due() == 10.0
    first = await campaign.claim_due(WORKER, 100.0, 2)
    second = await campaign.claim_due(OTHER, 100.0, 10)
    assert [due.seq for due in first] == [1, 3]
    assert [due.seq for due in second] == [2, 0]
    assert await campaign.next_due() == 500.0  # held contacts are nobody else's business
    await campaign.release(OTHER, [1])  # not OTHER's to release
    await campaign.release(WORKER, [3])
    assert [due.seq for due in await campaign.claim_due(OTHER, 100.0, 10)] == [3]
    with pytest.raises(StaleTransition):
        await campaign.open_intent(OTHER, 1, after=0, now=100.0)
    with pytest.raises(StaleTransition):
        await campaign.reschedule(OTHER, 1, 200.0, why="window", now=100.0)
    await campaign.reschedule(WORKER, 1, 200.0, why="window closed", now=100.0)
    assert await campaign.next_due() == 200.0
    assert [due.seq for due in await campaign.claim_due(OTHER, 300.0, 10)] == [1]
    assert [e.event for e in await campaign.history(1)] == ["rescheduled"]


async def test_clause_8_a_crash_drops_every_claim(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    await campaign.claim_due(WORKER, 10.0, 10)
    assert await campaign.claim_due(OTHER, 10.0, 10) == []
    campaign = await reopened(stores.crash(store))
    assert [due.seq for due in await campaign.claim_due(OTHER, 10.0, 10)] == [0, 1]


# -- 9. recover ------------------------------------------------------------------------------
async def test_clause_9_recover_settles_a_crash_once_and_durably(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 4)
    await dial(campaign, 0)  # open: may have rung
    closed = await dial(campaign, 1)
    await campaign.close_intent(1, closed, error="HTTP 429", now=11.0)
    await place(campaign, 2, "CA2")
    await claim(campaign, 3)
    store = stores.crash(store)
    campaign = await reopened(store)
    assert await campaign.recover(40.0) == Recovery(unknown=1, rescheduled=1)
    assert await campaign.recover(41.0) == Recovery(unknown=0, rescheduled=0)
    store = stores.crash(store)
    campaign = await reopened(store)
    assert [r["state"] for r in await results(campaign)] == [
        "unknown",
        "scheduled",
        "in_flight",
        "scheduled",
    ]
    assert [r["attempts"] for r in await results(campaign)] == [1, 0, 1, 0]
    assert [due.seq for due in await campaign.claim_due(WORKER, 40.0, 10)] == [3, 1]
    assert [call.seq for call in await campaign.calls_in_flight(WORKER)] == [2]


async def test_clause_9_recovering_a_dead_workers_share_leaves_the_others(
    stores: Stores,
) -> None:
    campaign = await campaign_of(stores.open(), 4)
    await dial(campaign, 0, WORKER)
    await place(campaign, 1, "CA1", WORKER)
    await dial(campaign, 2, OTHER)
    await place(campaign, 3, "CA3", OTHER)
    assert [c.seq for c in await campaign.calls_in_flight(OTHER)] == [3]
    assert await campaign.recover(20.0, worker=WORKER) == Recovery(unknown=1, rescheduled=0)
    assert [r["state"] for r in await results(campaign)] == [
        "unknown",
        "in_flight",
        "dialing",
        "in_flight",
    ]
    # The dead worker's call in flight is followed by whoever asks next.
    assert [c.seq for c in await campaign.calls_in_flight(OTHER)] == [1, 3]
    assert await campaign.calls_in_flight(WORKER) == []


# -- 10. requeue_unknown -----------------------------------------------------------------------
async def test_clause_10_only_requeue_unknown_moves_a_contact_out_of_a_final_state(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    lost = await dial(campaign, 0)
    await campaign.record_unknown(0, lost, reason="reset", error="reset", now=11.0)
    done = await place(campaign, 1, "CA1")
    await campaign.record_outcome(1, done, outcome=S.SUCCESS, retry_due=None, reason=None, now=12)
    assert await campaign.claim_due(WORKER, 1e9, 10) == []
    assert await campaign.requeue_unknown(50.0) == 1
    campaign = await reopened(stores.crash(store))
    record = await result(campaign, 0)
    assert (record["state"], record["finished_at"], record["next_attempt_at"]) == (
        "scheduled",
        None,
        "1970-01-01T00:00:50Z",
    )
    assert await state(campaign, 1) == "success"
    assert await dial(campaign, 0, now=50.0) == 2
    assert [e.event for e in await campaign.history(0)][-2:] == ["requeued", "intent"]


# -- 11. reads never fail ----------------------------------------------------------------------
async def test_clause_11_times_out_of_range_read_clamped(stores: Stores) -> None:
    campaign = await stores.open().create(NAME, DEFINITION)
    entries = [entry(0, due=1e300), entry(1, due=math.inf), entry(2, due=-5.0)]
    await campaign.append(entries, FeedPosition(3, "d", True), now=0.0)
    assert await campaign.next_due() == 0.0
    [early] = await campaign.claim_due(WORKER, 0.0, 10)
    intent = await campaign.open_intent(WORKER, early.seq, after=0, now=1.0)
    await campaign.record_placement(
        2, intent, call_sid="CA2", call_status="queued", correlation_id=None, deadline=1e300, now=1
    )
    [call] = await campaign.calls_in_flight(WORKER)
    assert call.deadline == LATEST_TIME
    assert [r["next_attempt_at"] for r in await results(campaign)] == [LATEST_ISO, LATEST_ISO, None]
    assert await campaign.next_due() == LATEST_TIME


async def test_clause_11_a_time_that_is_not_a_number_is_refused_unwritten(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 2)
    with pytest.raises(ValueError, match="due"):
        await campaign.append([entry(2, due=math.nan)], FeedPosition(3, "d", False), now=2.0)
    await claim(campaign, 0)
    with pytest.raises(ValueError, match="due"):
        await campaign.reschedule(WORKER, 0, math.nan, why="w", now=2.0)
    intent = await campaign.open_intent(WORKER, 0, after=0, now=3.0)
    with pytest.raises(ValueError, match="deadline"):
        await campaign.record_placement(
            0,
            intent,
            call_sid="CA0",
            call_status=None,
            correlation_id=None,
            deadline=math.nan,
            now=3.0,
        )
    assert await campaign.counts() == {S.SCHEDULED: 1, S.DIALING: 1}
    assert (await campaign.feed_position()).count == 2


# -- 12. idempotent writes -----------------------------------------------------------------------
async def test_clause_12_a_replayed_batch_is_a_no_op_and_other_content_is_refused(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    batch = [entry(2), entry(3)]
    await campaign.append(batch, FeedPosition(4, "d4", False), now=2.0)
    await campaign.append(batch, FeedPosition(4, "d4", False), now=3.0)  # after a crash: again
    assert len(await results(campaign)) == 4
    with pytest.raises(StaleTransition):
        await campaign.append([entry(3, due=99.0)], FeedPosition(4, "d4", False), now=3.0)
    with pytest.raises(StaleTransition):  # a gap: seq 5 is not the next
        await campaign.append([entry(5)], FeedPosition(6, "d6", False), now=3.0)
    await campaign.append([], FeedPosition(4, "d4", True), now=3.0)
    assert await campaign.feed_position() == FeedPosition(4, "d4", True)


async def test_clause_12_the_same_status_twice_is_logged_once(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    intent = await place(campaign, 0, "CA1")
    for status in ("ringing", "ringing", "in-progress", "in-progress"):
        await campaign.record_status(0, intent, status, 20.0)
    await campaign.record_poll_error(0, intent, error="HTTP 502", now=21.0)
    events = [(e.event, e.status) for e in await campaign.history(0)]
    assert events == [
        ("intent", None),
        ("placed", "queued"),
        ("status", "ringing"),
        ("status", "in-progress"),
        ("poll_error", None),
    ]
    [call] = await campaign.calls_in_flight(WORKER)
    assert call.call_status == "in-progress"


# -- durability of batched writes ------------------------------------------------------------------
async def test_batched_writes_are_lost_whole_by_a_crash(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    intent = await place(campaign, 0, "CA1")
    await campaign.record_status(0, intent, "ringing", 20.0)
    await campaign.record_outcome(0, intent, outcome=S.BUSY, retry_due=90, reason="busy", now=21)
    await campaign.append([entry(2)], FeedPosition(3, "d3", False), now=21.0)
    campaign = await reopened(stores.crash(store))
    # Back to the last commit, the placement: the call is followed again, and the feed
    # position agrees with the contacts stored.
    assert [r["state"] for r in await results(campaign)] == ["in_flight", "scheduled"]
    assert (await campaign.feed_position()).count == 2
    [call] = await campaign.calls_in_flight(WORKER)
    assert call.call_status == "queued"


async def test_a_durable_write_commits_the_batched_writes_before_it(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2, flush=False)
    first = await place(campaign, 0, "CA1")
    await campaign.record_outcome(
        0, first, outcome=S.NO_ANSWER, retry_due=None, reason=None, now=20
    )
    await claim(campaign, 1)
    await campaign.reschedule(WORKER, 1, 500.0, why="window closed", now=20.0)
    await campaign.append([entry(2)], FeedPosition(3, "d3", True), now=20.0)
    await dial(campaign, 2, now=21.0)  # durable
    campaign = await reopened(stores.crash(store))
    assert [r["state"] for r in await results(campaign)] == ["no_answer", "scheduled", "dialing"]
    assert await campaign.feed_position() == FeedPosition(3, "d3", True)
    assert await campaign.next_due() == 500.0


async def test_flush_and_aclose_commit_what_was_batched(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1, flush=False)
    await campaign.flush()
    store = stores.crash(store)
    campaign = await reopened(store)
    assert len(await results(campaign)) == 1
    await campaign.append([entry(1)], FeedPosition(2, "d2", True), now=3.0)
    await store.aclose()
    await store.aclose()  # twice is fine
    campaign = await reopened(stores.open())
    assert len(await results(campaign)) == 2
    assert await campaign.feed_position() == FeedPosition(2, "d2", True)


# -- reads -------------------------------------------------------------------------------------
async def test_results_hold_the_result_fields_in_input_order(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 3)
    first = await place(campaign, 0, "CA1", now=100.0)
    await campaign.record_outcome(
        0, first, outcome=S.NO_ANSWER, retry_due=200.0, reason="no answer", now=150
    )
    second = await place(campaign, 0, "CA2", now=200.0)
    await campaign.record_outcome(
        0, second, outcome=S.SUCCESS, retry_due=None, reason=None, now=260, call_status="completed"
    )
    not_placed = await dial(campaign, 1, now=300.0)
    await campaign.record_not_placed(
        1, not_placed, state=S.FAILURE, due=None, reason=None, error="HTTP 503", now=301
    )
    records = await results(campaign)
    assert all(tuple(record) == polyout.RESULT_FIELDS for record in records)
    assert [r["contact_id"] for r in records] == ["c0", "c1", "c2"]
    assert dict(records[0]) == {
        "contact_id": "c0",
        "row": 2,
        "to_number": number(0),
        "state": "success",
        "call_sid": "CA2",
        "attempts": 2,
        "reason": None,
        "error": None,
        "correlation_id": "corr-CA2",
        "first_attempt_at": "1970-01-01T00:01:40Z",
        "last_attempt_at": "1970-01-01T00:03:20Z",
        "finished_at": "1970-01-01T00:04:20Z",
        "next_attempt_at": None,
    }
    assert (records[1]["state"], records[1]["attempts"], records[1]["error"]) == (
        "failure",
        0,
        "HTTP 503",
    )
    assert records[2]["next_attempt_at"] == "1970-01-01T00:00:00Z"
    assert await campaign.counts() == {S.SUCCESS: 1, S.FAILURE: 1, S.SCHEDULED: 1}


async def test_every_transition_leaves_one_history_line(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    await claim(campaign, 0)
    await campaign.reschedule(WORKER, 0, 20.0, why="window closed", now=10.0)
    first = await dial(campaign, 0, now=20.0)
    await campaign.close_intent(0, first, error="HTTP 429", now=21.0)
    second = await campaign.open_intent(WORKER, 0, after=first, now=22.0)
    await campaign.record_placement(
        0, second, call_sid="CA1", call_status="queued", correlation_id=None, deadline=99, now=22
    )
    await campaign.record_status(0, second, "ringing", 23.0)
    await campaign.record_poll_error(0, second, error="HTTP 502", now=24.0)
    await campaign.record_outcome(0, second, outcome=S.BUSY, retry_due=30, reason="busy", now=25)
    third = await dial(campaign, 0, now=30.0)
    await campaign.record_unknown(0, third, reason="reset", error="reset", now=31.0)
    await campaign.requeue_unknown(40.0)
    lines = [(e.at, e.event, e.intent, e.status) for e in await campaign.history(0)]
    assert lines == [
        (10.0, "rescheduled", None, None),
        (20.0, "intent", 1, None),
        (21.0, "not_placed", 1, None),
        (22.0, "intent", 2, None),
        (22.0, "placed", 2, "queued"),
        (23.0, "status", 2, "ringing"),
        (24.0, "poll_error", 2, None),
        (25.0, "retry", 2, "busy"),
        (30.0, "intent", 3, None),
        (31.0, "final", 3, "unknown"),
        (40.0, "requeued", 3, None),
    ]
    assert await campaign.history(99) == []


# -- 14. withdraw ------------------------------------------------------------------------
@pytest.mark.parametrize("final", [S.SUPPRESSED, S.CANCELLED])
async def test_clause_14_a_withdrawn_contact_is_final_with_its_reason_and_never_claimed(
    stores: Stores, final: ContactState
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    await claim(campaign, 0)
    await campaign.withdraw(WORKER, 0, state=final, reason="the rule says no", now=20.0)
    await campaign.withdraw(None, 1, state=final, reason="by the operator", now=21.0)
    await campaign.flush()
    campaign = await reopened(stores.crash(store))
    assert [(r["state"], r["reason"]) for r in await results(campaign)] == [
        (final.value, "the rule says no"),
        (final.value, "by the operator"),
    ]
    assert await campaign.claim_due(WORKER, 1e9, 10) == []
    assert await campaign.next_due() is None
    assert [e.event for e in await campaign.history(0)] == ["final"]
    with pytest.raises(StaleTransition):  # final: no intent ever
        await campaign.open_intent(WORKER, 0, after=0, now=30.0)


async def test_clause_14_withdraw_is_compare_and_set(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 3)
    await claim(campaign, 0, OTHER)
    with pytest.raises(StaleTransition):  # held by another worker
        await campaign.withdraw(WORKER, 0, state=S.CANCELLED, reason="x", now=20.0)
    with pytest.raises(StaleTransition):  # a command from outside a run: only unheld ones
        await campaign.withdraw(None, 0, state=S.CANCELLED, reason="x", now=20.0)
    intent = await dial(campaign, 1)
    with pytest.raises(StaleTransition):  # dialing: too late to withdraw
        await campaign.withdraw(WORKER, 1, state=S.CANCELLED, reason="x", now=20.0)
    await claim(campaign, 2)
    with pytest.raises(StaleTransition):  # not a withdrawal state
        await campaign.withdraw(WORKER, 2, state=S.SUCCESS, reason="x", now=20.0)
    assert [await state(campaign, seq) for seq in range(3)] == ["scheduled", "dialing", "scheduled"]
    assert intent == 1
