"""Delivering the outbox to a real receiver on 127.0.0.1 that fails, hangs, answers slowly
and drops connections: every event arrives at least once, signed, in order per contact."""

from __future__ import annotations

import collections
import sqlite3
import time
from pathlib import Path

from polyout import Webhook
from polyout._campaign._clock import SystemClock
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignStore, StoredCampaign
from polyout._webhooks import Delivery
from tests.store.scenario import NAME, campaign_of, place
from tests.webhooks.receiver import OK, Answer, Request, receiving

SECRET = "whsec-delivery-test"
S = ContactState


def hook(url: str, **settings: float) -> Webhook:
    options = {"timeout": 0.3, "retry_base": 0.01, "retry_cap": 0.05, "rate": 1000.0}
    options.update(settings)
    return Webhook(url, secret=SECRET, **options)  # type: ignore[arg-type]


async def calls(store: CampaignStore, url: str, contacts: int = 3) -> StoredCampaign:
    """A campaign whose contacts each had a call placed and ended: 3 events each."""
    campaign = await campaign_of(store, contacts)
    await campaign.set_webhook(url, now=1.0)
    for seq in range(contacts):
        intent = await place(campaign, seq, f"CA{seq}")
        await campaign.record_outcome(
            seq, intent, outcome=S.SUCCESS, retry_due=None, reason=None, now=20.0
        )
    await campaign.flush()
    return campaign


def delivery(campaign: StoredCampaign, webhook: Webhook) -> Delivery:
    return Delivery(campaign, webhook, campaign=NAME, clock=SystemClock(), seed=1)


def first_deliveries(requests: list[Request]) -> list[Request]:
    """Each event's first 2xx delivery, in the order they arrived."""
    seen: set[str] = set()
    first = []
    for request in requests:
        if request.json["id"] not in seen:
            seen.add(request.json["id"])
            first.append(request)
    return first


def assert_in_order_per_contact(requests: list[Request]) -> None:
    order = collections.defaultdict(list)
    for request in first_deliveries(requests):
        order[request.json["data"].get("position")].append(request.json["type"])
    for types in order.values():
        assert types == ["call.placed", "call.ended", "contact.finished"], order


async def test_every_event_is_delivered_once_signed_and_marked() -> None:
    async with receiving() as receiver:
        campaign = await calls(MemoryStore(), receiver.url)
        assert await delivery(campaign, hook(receiver.url)).drain(5) == 0
    assert await campaign.outbox_counts() == {"pending": 0, "delivered": 9, "dead": 0}
    assert len(receiver.requests) == 9
    assert all(request.verified(SECRET) for request in receiver.requests)
    assert not any(request.verified("another-secret") for request in receiver.requests)
    assert {request.headers["content-type"] for request in receiver.requests} == {
        "application/json"
    }
    body = receiver.requests[-1].json
    assert set(body) == {"id", "type", "created", "campaign", "data"}
    assert body["campaign"] == NAME
    assert_in_order_per_contact(receiver.delivered())


async def test_failures_hangs_slow_answers_and_drops_are_retried_until_delivered() -> None:
    tries: collections.Counter[str] = collections.Counter()

    def script(request: Request, n: int) -> Answer:
        event = request.json["id"]
        tries[event] += 1
        return [
            Answer(status=500),
            Answer(delay=1.0),  # longer than the timeout: a hang
            Answer(drop=True),
            Answer(status=503),
            Answer(delay=0.1),  # slow, within the timeout
        ][min(tries[event], 5) - 1]

    async with receiving(script) as receiver:
        campaign = await calls(MemoryStore(), receiver.url)
        started = time.monotonic()
        assert await delivery(campaign, hook(receiver.url)).drain(20) == 0
    assert time.monotonic() - started < 15
    assert await campaign.outbox_counts() == {"pending": 0, "delivered": 9, "dead": 0}
    assert set(tries.values()) == {5}  # four failures each, then the delivery
    assert_in_order_per_contact(receiver.delivered())
    assert all(request.verified(SECRET) for request in receiver.delivered())


async def test_a_429_s_retry_after_is_honoured_and_bounded() -> None:
    def script(request: Request, n: int) -> Answer:
        return Answer(status=429, headers=(("Retry-After", "1"),)) if n == 0 else OK

    async with receiving(script) as receiver:
        campaign = await calls(MemoryStore(), receiver.url, contacts=1)
        sent = delivery(campaign, hook(receiver.url, retry_cap=5.0, concurrency=1))
        started = time.monotonic()
        assert await sent.drain(10) == 0
        assert time.monotonic() - started >= 0.9  # it waited the second it was asked to
    assert len(receiver.requests) == 4  # the 429, then its retry and the two others

    def forever(request: Request, n: int) -> Answer:
        return Answer(status=429, headers=(("Retry-After", "3600"),))

    async with receiving(forever) as receiver:
        campaign = await calls(MemoryStore(), receiver.url, contacts=1)
        sent = delivery(campaign, hook(receiver.url, retry_cap=0.2))
        assert await sent.drain(1.5) == 3  # never accepted: still pending, none lost
    assert len(receiver.requests) >= 3  # an hour's Retry-After was capped at 0.2 s


async def test_a_refusal_is_a_dead_letter_with_its_response_and_the_contact_goes_on(
    tmp_path: Path,
) -> None:
    def script(request: Request, n: int) -> Answer:
        if request.json["type"] == "call.placed" and request.json["data"]["position"] == 0:
            return Answer(status=422, body=b"unknown contact schema")
        return OK

    store = SQLiteStore(tmp_path / "store.db")
    async with receiving(script) as receiver:
        campaign = await calls(store, receiver.url)
        sent = delivery(campaign, hook(receiver.url))
        assert await sent.drain(5) == 0
    assert await campaign.outbox_counts() == {"pending": 0, "delivered": 8, "dead": 1}
    assert sent.dead == 1
    await store.aclose()
    with sqlite3.connect(tmp_path / "store.db") as db:
        rows = db.execute("SELECT type, response FROM outbox WHERE status = 'dead'").fetchall()
    assert rows == [("call.placed", "HTTP 422: unknown contact schema")]
    positions = [request.json["data"]["position"] for request in receiver.delivered()]
    assert positions.count(0) == 2  # its call.ended and contact.finished went on


async def test_410_gone_disables_the_endpoint_and_keeps_the_events() -> None:
    def script(request: Request, n: int) -> Answer:
        return OK if n < 2 else Answer(status=410)

    async with receiving(script) as receiver:
        campaign = await calls(MemoryStore(), receiver.url)
        sent = delivery(campaign, hook(receiver.url, concurrency=1))
        left = await sent.drain(5)
        asked = len(receiver.requests)
        assert await delivery(campaign, hook(receiver.url)).drain(1) == left  # stays stopped
        assert len(receiver.requests) == asked
    assert left == 7
    endpoint = await campaign.webhook()
    assert endpoint is not None
    assert endpoint.disabled is not None
    assert endpoint.disabled.startswith("410 Gone")
    await campaign.set_webhook(receiver.url, now=2.0)  # set again: enabled
    assert (await campaign.webhook()) is not None
    assert (await campaign.webhook()).disabled is None  # type: ignore[union-attr]


async def test_concurrency_is_bounded_and_order_kept_under_slow_answers() -> None:
    def script(request: Request, n: int) -> Answer:
        return Answer(delay=0.05 * (n % 3))

    async with receiving(script) as receiver:
        campaign = await calls(MemoryStore(), receiver.url, contacts=12)
        assert await delivery(campaign, hook(receiver.url, concurrency=4)).drain(20) == 0
    assert receiver.most_busy <= 4
    assert receiver.most_busy >= 2  # several at once, not one after the other
    assert_in_order_per_contact(receiver.delivered())


async def test_the_rate_is_limited() -> None:
    async with receiving() as receiver:
        campaign = await calls(MemoryStore(), receiver.url, contacts=4)  # 12 events
        started = time.monotonic()
        assert await delivery(campaign, hook(receiver.url, rate=6.0)).drain(10) == 0
    assert time.monotonic() - started >= 0.9  # 12 at 6/s: a burst of 6, then a second more


async def test_an_unreachable_receiver_keeps_every_event_pending() -> None:
    async with receiving() as receiver:
        url = receiver.url
    campaign = await calls(MemoryStore(), url, contacts=1)  # the port is closed now
    assert await delivery(campaign, hook(url)).drain(0.5) == 3
    assert await campaign.outbox_counts() == {"pending": 3, "delivered": 0, "dead": 0}
