"""``on_event`` async callbacks: every event, in order, with backpressure on new dials and
no unbounded queue."""

from __future__ import annotations

import asyncio

from polyout import CallState, Campaign, CampaignEvent, Contact, EventKind
from polyout._campaign._clock import utc_datetime
from polyout._campaign._events import EventBus
from polyout._campaign._memory_store import MemoryStore
from polyout.testing import FakePlacer, VirtualClock


def event(n: int) -> CampaignEvent:
    return CampaignEvent(EventKind.STATUS, utc_datetime(0), position=n)


async def test_a_lagging_callback_holds_new_dials_back_and_memory_stays_bounded() -> None:
    seen: list[int] = []
    gate = asyncio.Event()

    async def slow(received: CampaignEvent) -> None:
        await gate.wait()
        assert received.position is not None
        seen.append(received.position)

    bus = EventBus((slow,), queue_size=20)  # backpressure from 2 waiting, at most 20 kept
    for n in range(3):
        bus.emit(event(n))
    room = asyncio.ensure_future(bus.room())
    await asyncio.sleep(0.01)
    assert not room.done()  # the callback lags: no new dial now
    gate.set()
    await asyncio.wait_for(room, 1)
    for n in range(3, 60):  # a flood it cannot follow (calls already in flight)
        bus.emit(event(n))
    bus.close()
    await asyncio.wait_for(bus.settled(), 5)
    assert bus.dropped in (37, 38)  # 57 more into a queue of 20 (one maybe still queued)
    assert seen == sorted(seen)  # in order, the oldest dropped first
    assert seen[-1] == 59
    assert len(seen) + bus.dropped == 60


async def test_a_failing_async_callback_is_logged_and_the_next_event_still_comes() -> None:
    seen: list[int | None] = []

    async def flaky(received: CampaignEvent) -> None:
        if received.position == 1:
            raise RuntimeError("boom")
        seen.append(received.position)

    bus = EventBus((flaky,))
    for n in range(3):
        bus.emit(event(n))
    bus.close()
    await bus.settled()
    assert seen == [0, 2]


async def test_a_campaign_awaits_its_async_callback_for_every_event() -> None:
    seen: list[CampaignEvent] = []

    async def on_event(received: CampaignEvent) -> None:
        await asyncio.sleep(0)  # real awaiting work
        seen.append(received)

    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        campaign = Campaign(
            placer,
            [Contact(f"p{n}", f"+1415555{n:04d}") for n in range(5)],
            store=MemoryStore(),
            name="callbacks",
            clock=clock,
            on_event=on_event,
        )
        stats = await campaign.run()
    assert stats.complete
    finished = [str(e.contact_id) for e in seen if e.kind is EventKind.FINISHED]
    assert sorted(finished) == [f"p{n}" for n in range(5)]  # had them all when run returned
    assert seen[-1].kind is EventKind.DONE
    assert stats.events_dropped == 0
