"""The webhook outbox, clause by clause, over every store (``_store_outbox.py``)."""

from __future__ import annotations

import json

import pytest

from polyout._campaign._states import ContactState
from polyout._campaign._store import FeedPosition, StoredCampaign
from polyout._campaign._store_control import Command
from polyout._campaign._store_outbox import CONTACT_FIELDS, OutboxEvent, WebhookEndpoint
from tests.store.conftest import Stores
from tests.store.scenario import NAME, campaign_of, dial, entry, place, reopened

S = ContactState
URL = "http://127.0.0.1:9/hooks"


async def hooked(stores: Stores, contacts: int = 3) -> StoredCampaign:
    store = stores.open()
    campaign = await campaign_of(store, 0)
    await campaign.set_webhook(URL, now=1.0)
    entries = [entry(seq) for seq in range(contacts)]
    await campaign.append(entries, FeedPosition(contacts, "d", False), now=1.0)
    await campaign.flush()
    return campaign


async def types_of(campaign: StoredCampaign, seq: int | None = None) -> list[str]:
    """Every pending event's type, of one contact, in order (delivering as it reads)."""
    seen: list[str] = []
    while batch := await campaign.pending(100, now=1e9):
        mine = [event for event in batch if seq is None or event.contact == seq]
        seen += [event.type for event in mine]
        await campaign.delivered([event.id for event in batch], now=2.0)
    return seen


async def end_call(
    campaign: StoredCampaign, seq: int, intent: int, outcome: S, retry: bool
) -> None:
    await campaign.record_outcome(
        seq, intent, outcome=outcome, retry_due=50.0 if retry else None, reason=None, now=20.0
    )


# -- O1 ----------------------------------------------------------------------------------
async def test_o1_without_an_endpoint_no_event_is_written(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    intent = await place(campaign, 0, "CA0")
    await end_call(campaign, 0, intent, S.SUCCESS, retry=False)
    assert await campaign.add_event("campaign.paused", {"reason": "x"}, now=3.0) is None
    assert await campaign.webhook() is None
    assert await campaign.pending(10, now=1e9) == []
    assert await campaign.outbox_counts() == {"pending": 0, "delivered": 0, "dead": 0}


async def test_o1_the_endpoint_is_stored_with_the_campaign(stores: Stores) -> None:
    campaign = await hooked(stores)
    store = stores.crash(stores._live[-1])
    campaign = await reopened(store)
    assert await campaign.webhook() == WebhookEndpoint(URL)
    await campaign.set_webhook(None, now=2.0)
    assert await campaign.webhook() is None


# -- O2 ----------------------------------------------------------------------------------
async def test_o2_events_commit_and_vanish_with_their_transition(stores: Stores) -> None:
    campaign = await hooked(stores)
    intent = await place(campaign, 0, "CA0")  # durable: call.placed kept
    await end_call(campaign, 0, intent, S.SUCCESS, retry=False)  # batched, then a crash
    campaign = await reopened(stores.crash(stores._live[-1]))
    assert await types_of(campaign, 0) == ["call.placed"]
    assert (await campaign.counts())[S.IN_FLIGHT] == 1  # the outcome went with its events

    calls = await campaign.calls_in_flight("w2")
    await end_call(campaign, 0, calls[0].intent, S.SUCCESS, retry=False)
    await campaign.flush()
    campaign = await reopened(stores.crash(stores._live[-1]))
    assert await types_of(campaign, 0) == ["call.ended", "contact.finished"]


# -- O3 ----------------------------------------------------------------------------------
async def test_o3_a_contact_s_life_in_events_with_its_data(stores: Stores) -> None:
    campaign = await hooked(stores)
    first = await place(campaign, 0, "CA-first")
    await end_call(campaign, 0, first, S.NO_ANSWER, retry=True)
    second = await place(campaign, 0, "CA-second", now=60.0)
    await end_call(campaign, 0, second, S.SUCCESS, retry=False)
    events: list[OutboxEvent] = []
    while batch := await campaign.pending(100, now=1e9):
        events += batch
        await campaign.delivered([event.id for event in batch], now=2.0)
    assert [event.type for event in events] == [
        "call.placed",
        "call.ended",
        "contact.retry_scheduled",
        "call.placed",
        "call.ended",
        "contact.finished",
    ]
    for event in events:
        assert set(event.data) == set(CONTACT_FIELDS)
        assert event.contact == 0
        assert event.data["contact_id"] == "c0"
        assert event.data["to_number"] == "+14155550000"
    placed, ended, retry, _, _, finished = events
    assert placed.data["call_sid"] == "CA-first"
    assert placed.data["state"] == "in_flight"
    assert ended.data["outcome"] == "no_answer"
    assert ended.data["state"] == "scheduled"
    assert retry.data["next_attempt_at"] == 50.0
    assert retry.created == 20.0
    assert finished.data["state"] == "success"
    assert finished.data["attempts"] == 2
    assert finished.data["call_sid"] == "CA-second"


async def test_o3_every_other_way_to_be_final_is_one_contact_finished(stores: Stores) -> None:
    campaign = await hooked(stores, 4)
    intent = await dial(campaign, 0)  # sent, and its answer lost
    await campaign.record_unknown(0, intent, reason="lost", error="timeout", now=11.0)
    due = await campaign.claim_due("w", 12.0, 1)
    opened = await campaign.open_intent("w", due[0].seq, after=0, now=12.0)
    await campaign.record_not_placed(
        due[0].seq, opened, state=S.INVALID, due=None, reason="refused", error="400", now=12.0
    )
    excluded = entry(4, state=S.SUPPRESSED, reason="on the do-not-call list")
    await campaign.append([excluded], FeedPosition(5, "d", False), now=13.0)
    events: list[OutboxEvent] = []
    while batch := await campaign.pending(100, now=1e9):
        events += batch
        await campaign.delivered([event.id for event in batch], now=2.0)
    types = {seq: [e.type for e in events if e.contact == seq] for seq in (0, 1, 4)}
    assert types == {
        0: ["contact.finished"],
        1: ["contact.finished"],
        4: ["contact.finished"],
    }


async def test_o3_recovery_s_unknown_is_a_contact_finished(stores: Stores) -> None:
    campaign = await hooked(stores)
    due = await campaign.claim_due("w", 10.0, 1)
    await campaign.open_intent("w", due[0].seq, after=0, now=10.0)
    campaign = await reopened(stores.crash(stores._live[-1]))
    await campaign.recover(30.0)
    (event,) = await campaign.pending(10, now=1e9)
    assert event.type == "contact.finished"
    assert event.data["state"] == "unknown"


# -- O4 ----------------------------------------------------------------------------------
async def test_o4_pending_gives_each_contact_s_events_in_order(stores: Stores) -> None:
    campaign = await hooked(stores)
    for seq in range(3):
        intent = await place(campaign, seq, f"CA{seq}")
        await end_call(campaign, seq, intent, S.BUSY, retry=False)
    await campaign.flush()
    heads = await campaign.pending(100, now=1e9)
    assert [(event.contact, event.type) for event in heads] == [
        (0, "call.placed"),
        (1, "call.placed"),
        (2, "call.placed"),
    ]
    # Contact 0's head fails and waits: its later events wait too; the others go on.
    await campaign.failed(heads[0].id, attempt=1, next_at=500.0, error="HTTP 503")
    await campaign.delivered([heads[1].id, heads[2].id], now=3.0)
    later = await campaign.pending(100, now=100.0)
    assert [(event.contact, event.type) for event in later] == [
        (1, "call.ended"),
        (2, "call.ended"),
    ]
    (retried, *_) = await campaign.pending(100, now=500.0)
    assert retried.id == heads[0].id
    assert retried.attempts == 1
    assert await campaign.pending(1, now=500.0) == [retried]


async def test_o4_ids_are_unique_and_a_campaign_s_events_keep_their_order(stores: Stores) -> None:
    campaign = await hooked(stores)
    paused = await campaign.add_event("campaign.paused", {"reason": "operator"}, now=5.0)
    resumed = await campaign.add_event("campaign.resumed", {}, now=6.0)
    for seq in range(3):
        await place(campaign, seq, f"CA{seq}")
    events = await campaign.pending(100, now=1e9)
    ids = [event.id for event in events]
    assert len(set(ids)) == len(ids)
    assert all(id.startswith("evt_") for id in ids)
    assert ids[0] == paused
    assert resumed not in ids
    other = await campaign_of(stores._live[-1], 1, name="autumn")  # another campaign
    await other.set_webhook(URL, now=1.0)
    await place(other, 0, "CA0")
    assert not {event.id for event in await other.pending(10, now=1e9)} & set(ids)


# -- O5 ----------------------------------------------------------------------------------
async def test_o5_dead_keeps_the_response_and_lets_the_next_event_go(stores: Stores) -> None:
    campaign = await hooked(stores)
    intent = await place(campaign, 0, "CA0")
    await end_call(campaign, 0, intent, S.SUCCESS, retry=False)
    (head,) = await campaign.pending(10, now=1e9)
    await campaign.dead(head.id, response="HTTP 400: bad payload", now=3.0)
    (after,) = await campaign.pending(10, now=1e9)
    assert after.type == "call.ended"
    await campaign.delivered([after.id], now=4.0)
    await campaign.delivered([after.id, head.id], now=4.0)  # idempotent; dead stays dead
    campaign = await reopened(stores.crash(stores._live[-1]))
    assert await campaign.outbox_counts() == {"pending": 1, "delivered": 1, "dead": 1}


# -- O6 ----------------------------------------------------------------------------------
async def test_o6_a_disabled_endpoint_keeps_its_events_until_set_again(stores: Stores) -> None:
    campaign = await hooked(stores)
    await campaign.disable_webhook("410 Gone", now=2.0)
    campaign = await reopened(stores.crash(stores._live[-1]))
    assert await campaign.webhook() == WebhookEndpoint(URL, disabled="410 Gone")
    await place(campaign, 0, "CA0")
    assert (await campaign.outbox_counts())["pending"] == 1
    await campaign.set_webhook(URL, now=3.0)
    assert await campaign.webhook() == WebhookEndpoint(URL)


# -- the body ------------------------------------------------------------------------------
async def test_the_body_is_the_documented_json(stores: Stores) -> None:
    campaign = await hooked(stores)
    await place(campaign, 0, "CA0")
    (event,) = await campaign.pending(10, now=1e9)
    body = json.loads(event.body(NAME))
    assert set(body) == {"id", "type", "created", "campaign", "data"}
    assert body["id"] == event.id
    assert body["campaign"] == NAME
    assert body["created"] == "1970-01-01T00:00:10Z"
    assert event.body(NAME) == event.body(NAME)  # the same bytes on every attempt


# -- commands and O8 -------------------------------------------------------------------------
async def test_o3_an_operator_s_command_writes_its_event_with_it(stores: Stores) -> None:
    campaign = await hooked(stores)
    if not hasattr(campaign, "command"):
        pytest.skip("this store has no live control (its commands) yet")
    await campaign.command(Command.PAUSE, reason="checking the script", by="ops", now=5.0)
    await campaign.command(Command.AUTO_PAUSE, reason="most calls fail", by="auto", now=6.0)
    await campaign.command(Command.RESUME, reason=None, by="ops", now=7.0)
    campaign = await reopened(stores.crash(stores._live[-1]))
    events: list[OutboxEvent] = []
    while batch := await campaign.pending(100, now=1e9):
        events += batch
        await campaign.delivered([event.id for event in batch], now=8.0)
    assert [(event.type, dict(event.data), event.created) for event in events] == [
        ("campaign.paused", {"reason": "checking the script", "by": "ops", "auto": False}, 5.0),
        ("campaign.resumed", {"reason": None, "by": "ops", "auto": False}, 7.0),
    ]


async def test_o8_campaign_finished_is_written_once_per_finish(stores: Stores) -> None:
    campaign = await hooked(stores, 1)
    intent = await place(campaign, 0, "CA0")
    await end_call(campaign, 0, intent, S.SUCCESS, retry=False)
    first = await campaign.add_event("campaign.finished", {"success": 1}, now=30.0)
    assert first is not None
    assert await campaign.add_event("campaign.finished", {"success": 1}, now=31.0) is None
    await campaign.append([entry(1)], FeedPosition(2, "d", True), now=32.0)
    intent = await place(campaign, 1, "CA1", now=40.0)  # a contact event after it
    assert await campaign.add_event("campaign.finished", {}, now=41.0) not in (None, first)
