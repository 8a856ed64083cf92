"""A whole campaign with a webhook and a pre-dial hook, on the doubles (in-memory store,
fake placer, virtual clock) and a real receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json

from polyout import Allow, CallState, Campaign, Contact, Deny, PendingDial, RowError, Webhook
from polyout._campaign._memory_store import MemoryStore
from polyout.testing import FakePlacer, VirtualClock
from tests.webhooks.receiver import OK, Answer, Request, receiving

SECRET = "whsec-campaign-test"


def people(count: int) -> list[Contact | RowError]:
    return [Contact(f"p{n}", f"+1415555{n:04d}") for n in range(count)]


def finished_by_contact(requests: list[Request]) -> dict[str, dict[str, object]]:
    return {
        request.json["data"]["contact_id"]: request.json["data"]
        for request in requests
        if request.json["type"] == "contact.finished"
    }


async def test_every_contact_s_final_state_is_delivered_signed() -> None:
    fails: set[str] = set()

    def flaky(request: Request, n: int) -> Answer:
        if request.json["id"] not in fails and n % 3 == 0:  # every third: once a 503
            fails.add(request.json["id"])
            return Answer(status=503)
        return OK

    contacts = [*people(6), Contact("bad", "not a number")]
    async with receiving(flaky) as receiver, VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        store = MemoryStore()
        campaign = Campaign(
            placer,
            contacts,
            store=store,
            name="spring",
            clock=clock,
            rate=10.0,
            suppress=["+14155550005"],
            webhook=Webhook(receiver.url, secret=SECRET, retry_base=0.01, drain=10),
        )
        stats = await campaign.run()
        stored = await store.open("spring")
        results = {record["contact_id"]: record async for record in stored.results()}
        counts = await stored.outbox_counts()
    assert stats.complete
    assert counts["pending"] == 0
    assert counts["dead"] == 0
    delivered = receiver.delivered()
    assert all(request.verified(SECRET) for request in delivered)
    finished = finished_by_contact(delivered)
    assert set(finished) == set(results)  # every contact, exclusions included
    for contact_id, record in results.items():
        assert finished[contact_id]["state"] == record["state"]
        assert finished[contact_id]["to_number"] == record["to_number"]
    assert finished["p5"]["state"] == "suppressed"
    assert finished["bad"]["state"] == "invalid"
    types = [request.json["type"] for request in delivered]
    assert types.count("campaign.finished") == 1
    assert types.count("call.placed") == 5


async def test_a_campaign_without_a_webhook_writes_no_event() -> None:
    async with VirtualClock() as clock:
        store = MemoryStore()
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        await Campaign(placer, people(3), store=store, name="quiet", clock=clock).run()
        stored = await store.open("quiet")
        assert await stored.outbox_counts() == {"pending": 0, "delivered": 0, "dead": 0}


async def test_the_secret_is_never_in_a_repr() -> None:
    webhook = Webhook("http://user:pw@127.0.0.1:9/h", secret=SECRET)
    assert SECRET not in repr(webhook)
    assert "pw" not in repr(webhook)


# -- the pre-dial hook ------------------------------------------------------------------------
async def test_the_pre_dial_hook_allows_denies_and_fails_closed() -> None:
    asked: list[str | None] = []

    async def before_dial(contact: PendingDial) -> Allow | Deny:
        asked.append(contact.contact_id)
        if contact.contact_id == "p1":
            return Deny("opted out in the CRM")
        if contact.contact_id == "p2":
            raise RuntimeError("CRM down")
        if contact.contact_id == "p3":
            await asyncio.sleep(3600)  # never answers: the timeout
        return Allow(note=f"checked {contact.to_number}")

    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        store = MemoryStore()
        campaign = Campaign(
            placer, people(4), store=store, name="hooked", clock=clock, before_dial=before_dial
        )
        stats = await campaign.run()
        stored = await store.open("hooked")
        results = {record["contact_id"]: record async for record in stored.results()}
        histories = {seq: await stored.history(seq) for seq in range(4)}
    assert stats.complete
    dialled = set(placer.ledger.placements_per_number())
    assert dialled == {"+14155550000"}  # only the allowed one was ever rung
    assert results["p0"]["state"] == "success"
    assert results["p1"]["state"] == "suppressed"
    assert results["p1"]["reason"] == "pre-dial hook: opted out in the CRM"
    assert results["p2"]["state"] == "suppressed"
    assert "RuntimeError: CRM down" in results["p2"]["reason"]
    assert "5 times in a row" in results["p2"]["reason"]
    assert results["p3"]["state"] == "suppressed"
    assert "no answer within 5 s" in results["p3"]["reason"]
    assert asked.count("p2") == 5  # tried again later, up to the limit
    deferred = [entry for entry in histories[2] if entry.event == "rescheduled"]
    assert len(deferred) == 4
    assert all("not dialled" in (entry.detail or "") for entry in deferred)


async def test_the_pre_dial_hook_s_allow_is_in_the_audit_receipt() -> None:
    async def before_dial(contact: PendingDial) -> Allow:
        return Allow(note="consent on file")

    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        store = MemoryStore()
        campaign = Campaign(
            placer, people(1), store=store, name="audit", clock=clock, before_dial=before_dial
        )
        await campaign.run()
        stored = await store.open("audit")
        receipts = [receipt async for receipt in stored.receipts()]
    assert receipts
    text = json.dumps([dict(receipt.body) for receipt in receipts], default=str)
    assert "before_dial" in text
    assert "consent on file" in text
