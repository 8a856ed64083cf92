"""The real engine on the doubles, with the control watch as its companion: a helper.

``run_engine(people, steer)`` runs the engine over the in-memory store, a ``FakePlacer``
and a ``VirtualClock``; ``steer(campaign, clock, placer)`` runs beside it and writes
commands to the store, as a command from another process writes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from polyout import Contact
from polyout._campaign._admission import Admission
from polyout._campaign._companions import Companion
from polyout._campaign._config import CampaignConfig
from polyout._campaign._control_watch import ControlWatch
from polyout._campaign._engine import Engine
from polyout._campaign._events import CampaignStats, EventBus
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._store import CampaignDefinition, StoredCampaign
from polyout.testing import FakePlacer, VirtualClock

START = datetime(2026, 5, 4, 15, 0, tzinfo=timezone.utc).timestamp()
CONFIG = CampaignConfig(rate=1.0, concurrency=5, max_attempts=1, poll_interval=(5.0, 5.0))
NAME = "spring"

Steer = Callable[[StoredCampaign, VirtualClock, FakePlacer], Awaitable[None]]


def people(count: int, start: int = 0) -> list[Contact]:
    return [Contact(f"c{n}", f"+1212555{1000 + n:04d}") for n in range(start, start + count)]


def definition(created_at: float = START) -> CampaignDefinition:
    return CampaignDefinition(
        settings=CONFIG.to_json(), connection={}, suppressed=frozenset(), created_at=created_at
    )


async def run_engine(
    contacts: list[Contact],
    steer: Steer,
    *,
    store: MemoryStore | None = None,
    companions: Sequence[Companion] = (),
    admissions: Sequence[Admission] = (),
    placer: dict[str, Any] | None = None,
    config: CampaignConfig = CONFIG,
) -> tuple[CampaignStats, FakePlacer, StoredCampaign]:
    async with VirtualClock(start=START) as clock:
        fake = FakePlacer(clock=clock, **{"duration": 20.0, **(placer or {})})
        store = store if store is not None else MemoryStore()
        if await store.names():
            campaign = await store.open(NAME)
        else:
            campaign = await store.create(NAME, definition(clock.time()))
        watch = ControlWatch()
        engine = Engine(
            campaign,
            fake,
            source=contacts,
            config=config,
            window=None,
            clock=clock,
            bus=EventBus(()),
            label=NAME,
            companions=[watch, *companions],
            admissions=[watch.admission, *admissions],
        )
        steering = asyncio.ensure_future(steer(campaign, clock, fake))
        stats = await engine.run()
        await steering
        return stats, fake, campaign
