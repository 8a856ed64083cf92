"""The event bus: subscriptions start when made, and each sees every event after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone

from polyout._campaign._events import CampaignEvent, EventBus, EventKind


def event(kind: EventKind) -> CampaignEvent:
    return CampaignEvent(kind=kind, at=datetime(2026, 1, 1, tzinfo=timezone.utc))


async def read_all(stream: AsyncIterator[CampaignEvent]) -> list[EventKind]:
    return [item.kind async for item in stream]


async def test_subscription_starts_when_made_not_when_first_read() -> None:
    bus = EventBus()
    stream = bus.subscribe()
    bus.emit(event(EventKind.PLACED))  # before anyone iterates
    bus.emit(event(EventKind.FINISHED))
    bus.close()
    assert await read_all(stream) == [EventKind.PLACED, EventKind.FINISHED]


async def test_two_subscribers_each_get_everything_and_leave_cleanly() -> None:
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    reading = asyncio.gather(read_all(first), read_all(second))
    await asyncio.sleep(0)
    bus.emit(event(EventKind.PLACED))
    await asyncio.sleep(0)
    bus.emit(event(EventKind.DONE))
    bus.close()
    assert list(await reading) == [[EventKind.PLACED, EventKind.DONE]] * 2
    assert bus._subscribers == []


async def test_subscribing_after_the_end_yields_nothing() -> None:
    bus = EventBus()
    bus.close()
    assert await read_all(bus.subscribe()) == []
