"""The campaign engine: one run of one worker over a stored campaign.

It wires the parts, each with one job, and supervises them::

    feeder      source -> Planner -> store.append          (_feeder)
    dispatcher  claim due -> window -> pacer -> intent -> place -> placement  (_dispatcher)
    follower    calls in flight -> Poller -> outcome (retry or final)  (_follower, _poller)
    recorder    every transition: store + counters + event + wake-up  (_recorder)
    supervisor  a part that dies stops the run; stop, grace, cancellation  (_supervisor)

The engine talks to the store only through :class:`~._store.StoredCampaign`, to the
API only through a :class:`~._placer.Placer`, and to time only through a
:class:`~._clock.Clock`: with the in-memory store, ``polyout.testing.FakePlacer`` and a
``VirtualClock``, a campaign of days runs in seconds, exactly.

Its life is an explicit :class:`Phase`: ``NEW`` -> ``RUNNING`` -> (``STOPPING``) ->
``ENDED``; a stop asked before the run starts makes the run end at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import Callable, Sequence

from polyout._campaign._admission import Admission
from polyout._campaign._clock import Clock
from polyout._campaign._companions import Companion, run_companion
from polyout._campaign._config import CampaignConfig
from polyout._campaign._dispatcher import Dispatcher
from polyout._campaign._engine_controls import EngineControls
from polyout._campaign._errors import CampaignError, JournalError
from polyout._campaign._events import CampaignStats, EventBus, EventKind
from polyout._campaign._feeder import Feeder
from polyout._campaign._follower import Follower
from polyout._campaign._placer import Placer
from polyout._campaign._policy_wiring import plan_policy
from polyout._campaign._poller import Poller
from polyout._campaign._readers import ContactSource
from polyout._campaign._recorder import Progress, Recorder
from polyout._campaign._run_parts import RunControl, RunParts, Slots
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._signals import graceful_signals
from polyout._campaign._states import ContactState
from polyout._campaign._store import StoredCampaign
from polyout._campaign._store_outage import StoreOutage, steady
from polyout._campaign._supervisor import PartDied, watch
from polyout._errors import PolyOutError
from polyout._log import logger
from polyout._pacing import Pacer

__all__ = ["Engine", "Phase"]

_log = logger.getChild("campaign")
S = ContactState
#: How often a worker that joined looks how far the creator's feed is.
FEED_FOLLOW_SECONDS = 1.0


class Phase(enum.Enum):
    """Where a run is in its life."""

    NEW = "not started"
    RUNNING = "running"
    STOPPING = "stopping"
    """No new triggers; calls in flight are followed for the stop grace."""
    ENDED = "ended"

    def __str__(self) -> str:
        return self.value


class Engine(EngineControls):
    """Runs one campaign of a store, as worker ``worker``, until it is done or stopped.

    ``recover_all``: settle what any earlier run left (the store's only worker, as with
    a journal); otherwise only this worker's own share is settled after an abort.
    """

    def __init__(
        self,
        store: StoredCampaign,
        placer: Placer,
        *,
        source: ContactSource | None,
        config: CampaignConfig,
        window: CallingWindow | None,
        clock: Clock,
        bus: EventBus,
        label: str,
        suppressed: frozenset[str] = frozenset(),
        requeue_unknown: bool = False,
        worker: str = "main",
        recover_all: bool = True,
        seed: int | None = None,
        admissions: Sequence[Admission] = (),
        companions: Sequence[Companion] = (),
        pacer: Pacer | None = None,
    ) -> None:
        self.store = store
        self.placer = placer
        self.config = config
        self.worker = worker
        self._source = source
        self._window = window
        self._clock = clock
        self._bus = bus
        self._label = label
        self._suppressed = suppressed
        self._requeue_unknown = requeue_unknown
        self._recover_all = recover_all
        self._seed = seed  # the poll timing's draws: a rehearsal repeats exactly
        self.phase = Phase.NEW
        self._stopped = False  # a stop was asked: the stats say so after the run too
        self.fatal: CampaignError | None = None
        self._ran = False
        self._input_done = False
        self._started_at = 0.0
        self._real_started = 0.0
        self._outage = StoreOutage(
            clock,
            pause=self.pause,
            unpause=self.unpause,
            paused=lambda: self._control.paused,
            stopping=lambda: self.stopping,
        )
        # The run's own parts ride out an outage of the store; companions see it raw.
        self._recorder = Recorder(
            steady(store, self._outage), clock, bus, Progress({}, 0), outage=self._outage
        )
        self._pacer: Pacer | None = pacer
        self._slots = Slots(config.concurrency)
        self._follower: Follower | None = None
        self._dispatcher: Dispatcher | None = None
        self._admissions = tuple(admissions)
        self._companions = tuple(companions)
        self._control = RunControl(self.wake)
        self._trouble_handlers: list[Callable[[CampaignError], bool]] = []

    # -- control --------------------------------------------------------------------------
    def stop(self) -> None:
        """No new triggers; calls in flight are followed for ``stop_grace``."""
        if self.phase in (Phase.STOPPING, Phase.ENDED):
            return
        self.phase = Phase.STOPPING
        self._stopped = True
        _log.info("campaign stopping: no new calls; following calls in flight")
        self._recorder.emit(EventKind.STOPPING)
        self._recorder.changed.set()
        self._slots.wake()

    def on_fatal(self, exc: PolyOutError) -> None:
        """A campaign-wide failure: the run stops, and ``run`` raises it at the end."""
        if self.fatal is None:
            self.fatal = exc if isinstance(exc, CampaignError) else CampaignError(str(exc))
            if self.fatal is not exc:
                self.fatal.__cause__ = exc
            _log.error("campaign stopping: %s", self.fatal)
        self.stop()

    @property
    def stopping(self) -> bool:
        return self.phase is not Phase.RUNNING

    def stats(self) -> CampaignStats:
        progress = self._recorder.progress
        now = self._clock.time()
        # The wall clock may step back: elapsed time is never negative for it.
        elapsed = max(now - self._started_at, 0.0) if self._ran else 0.0
        return CampaignStats(
            states={state.value: count for state, count in progress.states.items()},
            total=progress.total,
            input_done=self._input_done,
            in_flight=progress.active,
            triggers=progress.triggers,
            placed=progress.placed,
            retries=progress.retries,
            not_placed=progress.not_placed,
            rate_limited=progress.rate_limited,
            rate=self._pacer.rate if self._pacer is not None else self.config.rate,
            achieved_rate=progress.trigger_meter.rate(time.monotonic(), self._real_started),
            elapsed=elapsed,
            stopping=self._stopped,
            events_dropped=self._bus.dropped,
            paused=self._control.paused,
        )

    # -- the run --------------------------------------------------------------------------
    async def run(self, *, handle_signals: bool = False) -> CampaignStats:
        """Run until every contact is final or the run is stopped; CampaignError if it
        had to end for a campaign-wide reason (the store is consistent and resumable)."""
        if self._ran:
            raise RuntimeError("a Campaign runs once: use Campaign.resume() to continue it")
        self._ran = True
        if self.phase is Phase.NEW:
            self.phase = Phase.RUNNING
        try:
            with graceful_signals(handle_signals, self.stop):
                await self._run()
        except JournalError as failed:
            await self._settle_after_abort()
            # The store's first failure is the one told, with every call it could not keep.
            first = self.fatal if isinstance(self.fatal, JournalError) else failed
            ending = self._recorder.naming_unrecorded(first)
            if ending is failed:
                raise
            raise ending from failed
        except BaseException:
            await self._settle_after_abort()
            raise
        finally:
            await self._finish()
        if self.fatal is not None:
            raise self._recorder.naming_unrecorded(self.fatal)
        return self.stats()

    async def _run(self) -> None:
        store, config, recorder = self.store, self.config, self._recorder
        self._started_at = now = self._clock.time()
        self._real_started = time.monotonic()
        if self._recover_all:
            recovery = await store.recover(now)
            if recovery.unknown:
                _log.warning(
                    "%d contacts had a trigger under way when the last run ended: "
                    "they are now 'unknown' and will not be dialled again",
                    recovery.unknown,
                )
        if self._requeue_unknown:
            count = await store.requeue_unknown(now)
            _log.info("requeued %d 'unknown' contacts on request", count)
        position = await store.feed_position()
        recorder.progress = Progress(await store.counts(), position.count)
        self._input_done = position.done
        pacer = self.pacer
        parts = RunParts(
            recorder=recorder,
            placer=self.placer,
            worker=self.worker,
            config=config,
            window=self._window,
            clock=self._clock,
            pacer=pacer,
            slots=self._slots,
            on_fatal=self.on_fatal,
            on_trouble=self.on_trouble,
            control=self._control,
            admissions=self._admissions,
        )
        follower = self._follower = Follower(parts, seed=self._seed)
        dispatcher = self._dispatcher = Dispatcher(
            parts,
            follow=follower.follow,
            input_done=lambda: self._input_done,
            stopping=lambda: self.stopping,
        )
        adopted = await follower.adopt()
        _log.info(
            "campaign %s: %d contacts known, %d calls to follow, rate %g/s, concurrency %d",
            "resumed" if position.count else "started",
            position.count,
            adopted,
            config.rate,
            config.concurrency,
        )
        poller = follower.poller
        polling = asyncio.create_task(poller.run(), name="polyout-poller")
        tasks = [polling]
        companions = [
            asyncio.create_task(run_companion(companion, self), name=f"polyout-{companion.name}")
            for companion in self._companions
        ]
        companions.append(
            asyncio.create_task(self._outage.settle(self._rejoin), name="polyout-settle")
        )
        feeder = None
        try:
            if not self._input_done:
                feeding = self._feed() if self._source is not None else self._follow_feed()
                feeder = asyncio.create_task(feeding, name="polyout-feeder")
                tasks.append(feeder)
            workers = [
                asyncio.create_task(dispatcher.work(), name=f"polyout-trigger-{n}")
                for n in range(dispatcher.worker_count())
            ]
            tasks += workers
            try:
                # The poller must outlive the workers: they wait for the slots it frees. A
                # companion may end; one that fails stops the run (if it is vital).
                await watch([*tasks, *companions], until_done=workers, vital=[polling])
            except PartDied as death:
                await self._after_death(death, poller, workers, feeder)
                return
            if self.stopping and feeder is not None:
                # It may be waiting on a slow source. What it fed is stored with its
                # position, and resume reads on from there.
                feeder.cancel()
            poller.finish_when_idle()
            if self.stopping:
                await self._grace(poller, polling)
            await watch([*tasks, *companions], until_done=tasks)
            poller.raise_failure()
        finally:
            for task in (*tasks, *companions):
                task.cancel()
            await asyncio.gather(*tasks, *companions, return_exceptions=True)
            await dispatcher.intents_closed()  # before recover reads them (a cancellation)
            await dispatcher.release_unused()

    async def _follow_feed(self) -> None:
        """Another worker feeds (this one joined): follow the stored position until the
        feed is done; until then, the run cannot be over."""
        while True:
            await self.refresh()  # the contacts stored since: this worker may claim them
            if self._input_done:
                return
            await self._clock.sleep(FEED_FOLLOW_SECONDS)

    async def _feed(self) -> None:
        assert self._source is not None
        feeder = Feeder(
            self._recorder,
            self._source,
            label=self._label,
            window=self._window,
            default_timezone=self.config.default_timezone,
            default_country=self.config.default_country,
            suppressed=self._suppressed,
            stopping=lambda: self.stopping,
            policy=plan_policy(self.config.policy, self.config.window),
        )
        await feeder.run()
        self._input_done = (await self._recorder.store.feed_position()).done
        self._recorder.changed.set()

    async def _after_death(
        self,
        death: PartDied,
        poller: Poller,
        workers: list[asyncio.Task[None]],
        feeder: asyncio.Task[None] | None,
    ) -> None:
        """A vital part (the poller) stopped: stop the run now, resumable, saying why.

        No new trigger goes out; a trigger already on the wire is let finish, so its
        sid is stored and the next run follows the call.
        """
        try:
            poller.raise_failure()
        except BaseException as cause:  # the error the poller stopped on
            death = death.with_cause(cause)
        fatal = CampaignError(f"{death}: resume the campaign to carry on")
        fatal.__cause__ = death.__cause__
        self.on_fatal(fatal)
        if feeder is not None:
            feeder.cancel()  # what it fed is stored; resume reads on from there
        await watch(workers, until_done=workers)

    async def _grace(self, poller: Poller, polling: asyncio.Task[None]) -> None:
        """Follow the calls in flight for ``stop_grace`` more seconds, then let them be."""
        sleeper = asyncio.ensure_future(self._clock.sleep(self.config.stop_grace))
        try:
            await asyncio.wait({sleeper, polling}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        if not polling.done():
            _log.info(
                "stop grace over: %d calls still in flight stay in the store; "
                "resume the campaign to follow them",
                self._recorder.progress.count(S.IN_FLIGHT),
            )
            poller.halt()

    async def _settle_after_abort(self) -> None:
        """After a cancellation or a crash of the run: this worker's open intents become
        unknown, its sends closed as not placed are scheduled again (clause 9)."""
        with contextlib.suppress(Exception):
            await self.store.recover(self._clock.time(), worker=self.worker)
            await self._recorder.reread_counts()

    async def _finish(self) -> None:
        self.phase = Phase.ENDED
        try:
            await self.store.flush()
        except JournalError as unflushed:
            if self.fatal is None:
                raise
            # The store failed first (the fatal says so, and names what it could not
            # record): that stays the error the run ends with.
            _log.error("the last batched writes could not be committed: %s", unflushed)
        finally:
            stats = self.stats()
            _log.info(
                "campaign run ended: %d of %d contacts final, %d scheduled, %d in flight",
                stats.finished,
                stats.total,
                stats.scheduled,
                stats.in_flight,
            )
            self._recorder.emit(EventKind.DONE)
            self._bus.close()
