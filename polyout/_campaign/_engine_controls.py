"""How a running engine is steered: pause, wake, refresh, trouble (``EngineHandle``).

The engine's companions (``_companions``) see the run through these methods; they are
a base of :class:`~._engine.Engine`, kept apart so that the engine module holds the
run itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from polyout._campaign._clock import Clock
from polyout._campaign._config import CampaignConfig
from polyout._campaign._dispatcher import Dispatcher
from polyout._campaign._errors import CampaignError
from polyout._campaign._events import CampaignEvent, EventBus, EventKind
from polyout._campaign._follower import Follower
from polyout._campaign._recorder import Recorder
from polyout._campaign._run_parts import RunControl, Slots
from polyout._campaign._store import StoredCampaign
from polyout._campaign._store_outage import StoreOutage
from polyout._errors import PolyOutError
from polyout._log import logger
from polyout._pacing import Pacer

__all__ = ["EngineControls"]

_log = logger.getChild("campaign")
_SETTLE_POLL = 0.05  # seconds between two looks at whether a send is still under way


class EngineControls:
    """The steering half of the engine; the engine sets these attributes."""

    store: StoredCampaign
    config: CampaignConfig
    _clock: Clock
    _pacer: Pacer | None
    _recorder: Recorder
    _control: RunControl
    _input_done: bool
    _trouble_handlers: list[Callable[[CampaignError], bool]]
    _follower: Follower | None
    _dispatcher: Dispatcher | None
    _outage: StoreOutage
    worker: str
    _slots: Slots
    _bus: EventBus

    def on_fatal(self, exc: PolyOutError) -> None:
        """Stop the run for a campaign-wide reason (the engine's own)."""
        raise NotImplementedError  # Engine.on_fatal

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def pacer(self) -> Pacer:
        if self._pacer is None:
            self._pacer = Pacer(self.config.rate)
        return self._pacer

    @property
    def paused(self) -> str | None:
        return self._control.paused

    def pause(self, reason: str) -> None:
        """No new trigger; calls in flight are followed; the run waits for unpause."""
        if self._control.paused is None:
            _log.warning("campaign paused: %s", reason)
            self._recorder.emit(EventKind.PAUSED, reason=reason)
        self._control.pause(reason)

    def unpause(self) -> None:
        if self._control.paused is not None:
            _log.info("campaign resumed")
            self._recorder.emit(EventKind.RESUMED)
        self._control.unpause()

    def wake(self) -> None:
        """Look again for due contacts (added by another process, or a pause lifted)."""
        self._recorder.changed.set()

    async def refresh(self) -> None:
        """Another process changed contacts (added, cancelled, suppressed, a retry round,
        a feed it runs): re-read the counts and the feed position the run's progress is
        judged by, then look again."""
        await self._recorder.reread_counts()
        position = await self._recorder.store.feed_position()
        self._recorder.progress.total = position.count
        self._input_done = position.done
        self._recorder.changed.set()

    def store_lost(self, error: BaseException) -> None:
        """The store did not answer (a heartbeat): sending pauses until it does."""
        self._outage.lost(error)

    def store_answers(self) -> None:
        """The store answered again: the run settles itself, then sends again."""
        self._outage.answers()

    async def _rejoin(self) -> None:
        """After an outage, settle this worker as a restarted process would, in place
        (``_store_outage``): once none of its sends is under way, recover its share, let
        its claims go, follow the calls in flight again, and re-read the counts."""
        dispatcher = self._dispatcher
        if dispatcher is not None:
            while dispatcher.dialling:
                await self._clock.sleep(_SETTLE_POLL)
            await dispatcher.intents_closed()
        store = self._recorder.store
        await store.recover(self._clock.time(), worker=self.worker)
        if dispatcher is not None:
            dispatcher.forget_claims()
        adopted = await self.adopt_calls()
        await self.refresh()
        _log.info("settled after the outage: following %d calls again", adopted)

    async def adopt_calls(self) -> int:
        """Follow the calls in flight that no worker holds any more (a dead one's)."""
        return 0 if self._follower is None else await self._follower.adopt()

    def share_concurrency(self, workers: int) -> None:
        """``workers`` share the campaign's concurrency: this one takes its part of it."""
        self._slots.limit = max(1, self.config.concurrency // max(1, workers))

    def events(self) -> AsyncIterator[CampaignEvent]:
        """The run's events from now on (a bounded subscription: a slow reader misses some)."""
        return self._bus.subscribe()

    def handle_trouble(self, handler: Callable[[CampaignError], bool]) -> None:
        """Let ``handler`` take a campaign-wide refusal (True: it paused the run)."""
        self._trouble_handlers.append(handler)

    def on_trouble(self, error: CampaignError) -> None:
        if not any(handler(error) for handler in self._trouble_handlers):
            self.on_fatal(error)
