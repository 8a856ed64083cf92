"""One rehearsal: the real engine, an in-memory store, virtual time, a simulated API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyout._campaign._events import CampaignEvent, EventKind
from polyout._campaign._facade import Campaign
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._readers import ContactSource
from polyout._campaign._retry_timing import PastCall
from polyout._rehearsal._forecast import Forecast
from polyout._rehearsal._history import backing_with
from polyout._rehearsal._model import CallModel
from polyout._rehearsal._placer import SimulatedPlacer
from polyout.testing import VirtualClock

__all__ = ["DEFAULT_SEED", "HORIZON", "rehearse"]

#: The seed when none is given: a rehearsal repeats exactly unless asked otherwise.
DEFAULT_SEED = 1
#: Virtual seconds after which a rehearsal that has not finished is cut (a campaign that
#: pauses itself, on trouble or after a canary, would otherwise wait for ever).
HORIZON = 366 * 86400.0
_LOOK_EVERY = 3600.0
#: Settings of a run that are not rehearsed: a canary pauses the campaign for an
#: operator to look (a rehearsal forecasts the whole campaign); webhooks and the
#: pre-dial hook would reach real services (a rehearsal touches no network).
_NOT_REHEARSED = frozenset({"canary", "stop_grace", "webhook", "before_dial"})
_NAME = "rehearsal"


async def rehearse(
    contacts: ContactSource,
    *,
    options: Mapping[str, Any],
    model: CallModel,
    start: float,
    seed: int = DEFAULT_SEED,
    history: Sequence[PastCall] = (),
) -> Forecast:
    """Run the campaign ``options`` describes (``polyout.Campaign`` keywords) in virtual time.

    Nothing is dialled and nothing is written to disk: the store is in memory and the
    calls are answered by ``model``. Must run in a loop of its own (it puts the running
    loop on a :class:`~polyout.testing.VirtualClock` for its duration). ``history``: the
    calls of a past campaign the store remembers (what learned retry timing reads).
    """
    settings = {key: value for key, value in options.items() if key not in _NOT_REHEARSED}
    pause = _PauseWatch()
    async with VirtualClock(start=start) as clock:
        placer = SimulatedPlacer(
            clock, model, seed=seed, default_timezone=settings.get("default_timezone")
        )
        store = MemoryStore(backing_with(history, start))
        campaign = Campaign(
            placer,
            contacts,
            store=store,
            name=_NAME,
            clock=clock,
            seed=seed,
            on_event=pause.seen,
            **settings,
        )
        pause.stop = campaign.stop
        running = asyncio.create_task(campaign.run())
        horizon = start + HORIZON
        while not running.done() and clock.time() < horizon:
            # Sleeps of virtual time cost a loop turn each: the watch is nearly free.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(running), _LOOK_EVERY)
        if not running.done():
            campaign.stop()
        stats = await running
        stored = await store.open(_NAME)
        results = [result async for result in stored.results()]
    return Forecast.from_results(
        results,
        [call.placed_at for call in placer.calls.values()],
        started_at=start,
        deadline=getattr(settings.get("policy"), "end_by", None) is not None,
        complete=stats.complete,
        paused=pause.paused,
        seed=seed,
        retry_timing=str(settings.get("retry_timing", "fixed")),
    )


class _PauseWatch:
    """Ends the rehearsal where the campaign would pause itself (trouble: most calls
    failing): a paused run waits for an operator, and a rehearsal has none."""

    def __init__(self) -> None:
        self.paused: tuple[float, str] | None = None
        self.stop: Callable[[], None] | None = None

    def seen(self, event: CampaignEvent) -> None:
        if event.kind is EventKind.PAUSED and self.paused is None:
            self.paused = (event.at.timestamp(), event.reason or "paused")
            if self.stop is not None:
                # Not from inside the event's delivery: at the loop's next turn.
                asyncio.get_running_loop().call_soon(self.stop)
