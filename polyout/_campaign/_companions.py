"""Companions: tasks that run alongside one run of the engine.

The engine's own parts (feeder, dispatcher, follower) do the campaign's work. Everything
else a run needs while it lasts is a :class:`Companion`: a worker's heartbeat, the watch
on the operator's commands (pause, resume, cancel), the webhook delivery, the metrics
endpoint. Each gets an :class:`EngineHandle` (what it may read and steer of the run)
and is cancelled when the run ends.

A ``vital`` companion that fails stops the run, resumable, as a part that dies does (a
worker that can no longer heartbeat must not go on sending). A companion that is not
vital is logged and let go: the campaign goes on without its metrics. A companion may
also end on its own (its job done).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from polyout._campaign._clock import Clock
from polyout._campaign._config import CampaignConfig
from polyout._campaign._errors import CampaignError
from polyout._campaign._events import CampaignEvent, CampaignStats
from polyout._campaign._store import StoredCampaign
from polyout._errors import PolyOutError
from polyout._log import logger
from polyout._pacing import Pacer

__all__ = ["Companion", "EngineHandle", "run_companion"]

_log = logger.getChild("campaign")


class EngineHandle(Protocol):
    """What a companion sees of the running engine (``polyout._campaign._engine.Engine``)."""

    @property
    def store(self) -> StoredCampaign: ...

    @property
    def worker(self) -> str: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def config(self) -> CampaignConfig: ...

    @property
    def pacer(self) -> Pacer: ...

    @property
    def paused(self) -> str | None:
        """Why the run is paused, or None while it runs."""

    @property
    def stopping(self) -> bool: ...

    def stats(self) -> CampaignStats: ...

    def pause(self, reason: str) -> None:
        """No new trigger from now on (one waiting for its slot is abandoned); calls in
        flight are still followed. The run waits, and does not end while contacts are
        scheduled, until :meth:`unpause` or a stop."""

    def unpause(self) -> None: ...

    def stop(self) -> None:
        """Drain as Ctrl-C does: no new triggers, calls in flight followed for the grace."""

    def on_fatal(self, exc: PolyOutError) -> None:
        """Stop the run for a campaign-wide reason; the run raises it at the end."""

    def handle_trouble(self, handler: Callable[[CampaignError], bool]) -> None:
        """Let ``handler`` take a campaign-wide refusal (a 401/403, a run of 400s; the
        error's ``__cause__`` is the API's answer): True if it paused the run instead of
        stopping it."""

    def wake(self) -> None:
        """Contacts may have become due (added by another process): look again now."""

    async def refresh(self) -> None:
        """Another process changed contacts: re-read the counts, then look again."""

    def events(self) -> AsyncIterator[CampaignEvent]:
        """The run's events from now on (a bounded subscription)."""

    def store_lost(self, error: BaseException) -> None:
        """The store did not answer: sending pauses until it does (``_store_outage``)."""

    def store_answers(self) -> None:
        """The store answered again: the run settles itself, then sends again."""

    async def adopt_calls(self) -> int:
        """Follow the calls in flight no worker holds any more (a dead one's)."""

    def share_concurrency(self, workers: int) -> None:
        """``workers`` live workers share the campaign's concurrency."""


class Companion(Protocol):
    """A task that runs alongside a run (see the module docstring)."""

    name: str
    vital: bool

    async def run(self, engine: EngineHandle) -> None: ...


async def run_companion(companion: Companion, engine: EngineHandle) -> None:
    """Run ``companion``; the failure of one that is not vital is logged, not raised."""
    try:
        await companion.run(engine)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if companion.vital:
            raise
        _log.warning(
            "%s stopped (%s: %s); the campaign goes on", companion.name, type(exc).__name__, exc
        )
