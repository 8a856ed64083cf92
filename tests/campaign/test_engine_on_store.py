"""The engine's promises on a store: stop and resume, crashes, lost answers, refusals.

The same promises the journal suites keep for ``polyout.Campaign``, here through the
store facade (``polyout.Campaign``) on the in-memory store, the fake placer and a
virtual clock: each test runs hours of campaign in milliseconds, and checks the fake's
ledger (what was really placed) against what the store says.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from polyout import Campaign, CampaignError, Contact, JournalError
from polyout._campaign._memory_store import MemoryBacking, MemoryCampaign, MemoryStore
from polyout._campaign._store import CampaignDefinition
from polyout._campaign._store_policy import IntentPolicy
from polyout.testing import (
    LAST_DIGIT,
    AnswerLost,
    FakePlacer,
    RateLimited,
    Refused,
    VirtualClock,
    by_number,
)


def _people(count: int, *, digit: str = "0") -> list[Contact]:
    return [Contact(f"p{n}", f"+1415555{n:03d}{digit}") for n in range(count)]


async def _states(store: MemoryStore, name: str = "default") -> dict[str, int]:
    counts = await (await store.open(name)).counts()
    return {state.value: count for state, count in counts.items()}


async def test_a_stopped_campaign_resumes_and_dials_each_number_once() -> None:
    people = _people(30)
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0)
        store = MemoryStore()
        running: list[Campaign] = []

        def stop_after_ten(event: object) -> None:
            if running[0].stats().placed >= 10:
                running[0].stop()

        first = Campaign(
            placer,
            people,
            store=store,
            rate=1.0,
            concurrency=5,
            clock=clock,
            on_event=stop_after_ten,
        )
        running.append(first)
        stats = await first.run()
        assert stats.states.get("scheduled", 0) > 0
        resumed = Campaign.resume(placer, store=store, contacts=people, clock=clock)
        summary = await resumed.run()
    assert summary.states == {"success": 30}
    assert placer.ledger.placements_per_number() == {person.phone: 1 for person in people}


async def test_a_cancel_during_a_429_wait_leaves_nobody_unknown() -> None:
    """Each send has its own intent, closed before the client waits to retry."""
    people = _people(4)
    backing = MemoryBacking()
    async with VirtualClock() as clock:
        limited = FakePlacer(clock=clock, trigger_faults=lambda send: RateLimited(retry_after=20.0))
        campaign = Campaign(limited, people, store=MemoryStore(backing), rate=50.0, clock=clock)
        running = asyncio.create_task(campaign.run())
        await asyncio.sleep(10)  # every send so far is waiting out its 20 s
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert limited.ledger.sends
        assert not limited.ledger.placements
        store = MemoryStore(backing)  # as the next process opens it
        assert set(await _states(store)) == {"scheduled"}  # none unknown
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        summary = await Campaign.resume(placer, store=store, contacts=people, clock=clock).run()
    assert summary.states == {"success": 4}
    assert placer.ledger.placements_per_number() == {person.phone: 1 for person in people}


async def test_a_lost_answer_is_unknown_and_only_requeued_on_request() -> None:
    people = _people(3)
    lost = people[1].phone
    async with VirtualClock() as clock:
        placer = FakePlacer(
            clock=clock, outcomes=LAST_DIGIT, trigger_faults=by_number({lost: [AnswerLost()]})
        )
        store = MemoryStore()
        stats = await Campaign(placer, people, store=store, clock=clock).run()
        assert stats.states == {"success": 2, "unknown": 1}
        again = await Campaign.resume(placer, store=store, clock=clock).run()
        assert again.states == {"success": 2, "unknown": 1}
        assert placer.ledger.placement_count(lost) == 1  # placed, answer lost, not re-sent
        requeued = Campaign.resume(placer, store=store, clock=clock, requeue_unknown=True)
        assert (await requeued.run()).states == {"success": 3}
    assert placer.ledger.placement_count(lost) == 2


async def test_three_refusals_in_a_row_stop_the_run_and_leave_the_contacts_to_dial() -> None:
    people = _people(6)
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, trigger_faults=lambda send: Refused("bad connector"))
        store = MemoryStore()
        campaign = Campaign(placer, people, store=store, rate=1.0, concurrency=1, clock=clock)
        with pytest.raises(CampaignError, match="refused 3 triggers in a row"):
            await campaign.run()
    states = await _states(store)
    assert "invalid" not in states
    assert states["scheduled"] == len(people)
    assert not placer.ledger.placements


async def test_a_contact_refused_twice_while_others_go_through_is_invalid() -> None:
    people = _people(5)
    refused = people[2].phone
    async with VirtualClock() as clock:
        placer = FakePlacer(
            clock=clock,
            outcomes=LAST_DIGIT,
            trigger_faults=by_number({refused: [Refused("no such number"), Refused("no")]}),
        )
        store = MemoryStore()
        stats = await Campaign(placer, people, store=store, clock=clock).run()
    assert stats.states == {"success": 4, "invalid": 1}
    results = [record async for record in (await store.open("default")).results()]
    assert Counter(record["state"] for record in results) == {"success": 4, "invalid": 1}


async def test_resume_through_another_connection_is_refused_before_anything_is_sent() -> None:
    people = _people(2)
    async with VirtualClock() as clock:
        store = MemoryStore()
        placer = FakePlacer(clock=clock, base_url="https://one.example")
        campaign = Campaign(placer, people, store=store, clock=clock)
        campaign.stop()  # created, nothing dialled
        await campaign.run()
        other = FakePlacer(clock=clock, base_url="https://two.example")
        with pytest.raises(JournalError, match="another connection"):
            await Campaign.resume(other, store=store, contacts=people, clock=clock).run()
        with pytest.raises(JournalError, match="already holds a campaign"):
            await Campaign(placer, people, store=store, clock=clock).run()
    assert not other.ledger.sends


async def test_a_campaign_that_cannot_open_ends_its_event_streams() -> None:
    async with VirtualClock() as clock:
        store = MemoryStore()
        placer = FakePlacer(clock=clock)
        missing = Campaign.resume(placer, store=store, name="nowhere", clock=clock)
        events = missing.events()
        with pytest.raises(JournalError, match="no campaign named 'nowhere'"):
            await missing.run()
        assert [event async for event in events] == []  # ended, not waiting for ever


class _SlowIntents(MemoryStore):
    """A store whose intents take an hour to become durable (a disk that stalled)."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    async def open(self, name: str) -> MemoryCampaign:
        campaign = await super().open(name)
        opened = campaign.open_intent

        async def slow(
            worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
        ) -> int:
            await self._clock.sleep(3600)
            return await opened(worker, seq, after=after, now=now, policy=policy)

        campaign.open_intent = slow  # type: ignore[method-assign]
        return campaign

    async def create(self, name: str, definition: CampaignDefinition) -> MemoryCampaign:
        await super().create(name, definition)
        return await self.open(name)


async def test_a_window_that_closes_while_an_intent_commits_sends_nothing() -> None:
    # 19:30 in London, window until 20:00: the intent is durable at 20:30.
    evening = datetime(2026, 1, 5, 19, 30, tzinfo=timezone.utc)
    person = Contact("late", "+442079460000", timezone="Europe/London")
    async with VirtualClock(start=evening) as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        store = _SlowIntents(clock)
        stats = await Campaign(
            placer, [person], store=store, window="09:00-20:00", clock=clock
        ).run()
    assert stats.states == {"success": 1}
    (placement,) = placer.ledger.placements
    placed = datetime.fromtimestamp(placement.at, timezone.utc)
    assert 9 <= placed.hour < 20  # the next morning (London is on UTC in January)
    assert placed.date() == evening.date() + timedelta(days=1)
