"""``polyout.Campaign``: a thin facade that opens the campaign and runs the engine.

Construction and resume go through one path: ``Campaign(...)`` describes a new
campaign, ``Campaign.resume(...)`` an existing one (with the settings it may change),
and both are opened in :meth:`Campaign.run`: a new campaign is created whole, with its
settings, connection identity and do-not-call list; an existing one is checked against
this placer (same API, same connection, same default country) before anything is sent.
Then one :class:`~._engine.Engine` runs it.

Where it lives (``_opening``): ``journal=PATH`` is the SQLite store at PATH with its
one campaign (checked at once on resume, as a journal always was); ``store=`` is a store
URL (``postgresql://…``, an SQLite path or ``sqlite:///path``: opened for the run and
closed after it) or any :class:`~._store.CampaignStore` object (the caller's: left
open), holding the campaign under ``name``. Calls go through any
:class:`~._placer.Placer`: a ``polyout.Client``, or ``polyout.testing.FakePlacer``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable

from polyout._campaign._auto_pause import AutoPauseRules
from polyout._campaign._clock import Clock, SystemClock
from polyout._campaign._config import (
    DEFAULT_POLL_DEADLINE,
    DEFAULT_POLL_RATE,
    CampaignConfig,
    source_path,
)
from polyout._campaign._engine import Engine, Phase
from polyout._campaign._events import CampaignEvent, CampaignStats, EventBus
from polyout._campaign._fingerprint import check_source_opens
from polyout._campaign._identity import connection_identity
from polyout._campaign._opening import Opened, Place
from polyout._campaign._placer import Placer
from polyout._campaign._planning import checked_country, load_suppression_list
from polyout._campaign._policy import ContactPolicy
from polyout._campaign._readers import ContactSource
from polyout._campaign._resuming import Resume
from polyout._campaign._run_extras import run_extras
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._sqlite_store import DEFAULT_CAMPAIGN
from polyout._campaign._store import CampaignDefinition, CampaignStore
from polyout._campaign._windows import check_timezone, parse_window, window_text
from polyout._webhooks import BeforeDial, HookParts, Webhook

__all__ = ["DEFAULT_NAME", "Campaign"]

EventCallback = Callable[[CampaignEvent], object]
#: The campaign's name in its store when none is given (a journal holds one campaign).
DEFAULT_NAME = DEFAULT_CAMPAIGN


class Campaign:
    """Calls every contact of ``contacts`` through ``client``, safely and resumably.

    ``contacts`` is a CSV/JSONL file path, or any iterable or async iterable of
    :class:`Contact` (or :class:`RowError`). It is streamed: memory stays bounded by
    the concurrency. ``client`` is a ``polyout.Client`` (any :class:`Placer`).
    ``journal`` is the SQLite file that records everything; it must not hold a campaign
    yet (use :meth:`resume` for that). Or ``store`` is a campaign store holding it under
    ``name``.

    Rates are real requests per second (what the server counts); every delay is in
    seconds of ``clock`` (the system clock unless a test injects one).

    * ``rate``: triggers per second, evenly spaced, never a burst; a 429 pauses every
      trigger for its Retry-After and halves the pace, which then recovers gradually.
    * ``concurrency``: calls in flight (triggered and not final) at most.
    * ``max_attempts``: calls per contact at most; ``no_answer``, ``busy`` and ``failure``
      are tried again ``retry_delay`` seconds later. ``success`` never is.
    * ``window``: local calling hours (``"09:00-20:00"`` or a :class:`CallingWindow`) in
      the callee's time zone (the contact's, else the number's, else
      ``default_timezone``); outside them a contact waits for the next opening.
    * ``default_country``: the country (``"US"``) of national numbers in contacts with no
      country code of their own; a number written with ``+`` is read as written.
    * ``suppress``: do-not-call numbers, or the path of a file of them.
    * ``poll_interval``: (shortest, longest) seconds between status polls;
      ``poll_deadline``: seconds after the trigger when a call still not final becomes
      ``expired``. ``poll_rate``: status requests per second at most, for an account
      with a known status limit; by default (None) every call in flight is polled at
      its interval, up to 5,000/s (``POLL_RATE_CEILING``), backing off together on 429.
    * ``stop_grace``: after :meth:`stop`, how long calls in flight are still followed.
    * ``max_not_placed``: triggers in a row that placed nothing (5xx, no connection)
      before a contact fails; ``outage_limit``: seconds of a plainly-down server before
      the run ends with :class:`CampaignError`.
    * ``requeue_unknown``: dial again the contacts that an earlier run left ``unknown``.
    * ``retry_timing``: ``"learned"`` retries no answer and busy at the callee-local hour
      that answers best so far (see ``_retry_timing``); ``"fixed"`` after ``retry_delay``.
    * ``seed``: the poll timing's draws, so that a rehearsal repeats exactly.
    * ``on_event``: a callback (or several) for every :class:`CampaignEvent`.
    * ``policy``: a :class:`ContactPolicy` (start, deadline, frequency cap across the
      store's campaigns, holidays, regional rules, quarantine), stored with the campaign.
    * ``webhook`` (:class:`Webhook`), ``before_dial`` (``async (PendingDial) -> Allow|Deny``).
    * ``auto_pause``: pause on trouble instead of stopping (:class:`AutoPauseRules`; the CLI's
      default). ``canary``: dial the first N contacts, follow them, then pause the campaign.

    A setting that cannot work (``rate=0``, ``window="9-5"``, a negative or year-long
    delay, ...) raises :class:`polyout.ConfigurationError` naming the keyword.
    """

    def __init__(
        self,
        client: Placer,
        contacts: ContactSource,
        *,
        journal: str | os.PathLike[str] | None = None,
        store: CampaignStore | str | os.PathLike[str] | None = None,
        name: str = DEFAULT_NAME,
        worker: str | None = None,
        rate: float = 1.0,
        concurrency: int = 50,
        max_attempts: int = 3,
        retry_delay: float = 1800.0,
        window: CallingWindow | str | None = None,
        default_timezone: str | None = None,
        default_country: str | None = None,
        suppress: Iterable[str] | str | os.PathLike[str] = (),
        poll_deadline: float = DEFAULT_POLL_DEADLINE,
        poll_interval: float | tuple[float, float] = (2.0, 5.0),
        poll_rate: float | None = DEFAULT_POLL_RATE,
        stop_grace: float = 60.0,
        max_not_placed: int = 5,
        outage_limit: float = 1800.0,
        retry_timing: str = "fixed",
        requeue_unknown: bool = False,
        seed: int | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
        policy: ContactPolicy | None = None,
        webhook: Webhook | None = None,
        before_dial: BeforeDial | None = None,
        auto_pause: AutoPauseRules | None = None,
        canary: int | None = None,
        _resume: Resume | None = None,
    ) -> None:
        self._place = Place.of(journal, store, name, new=_resume is None)
        self.client = client
        self.journal_path = self._place.journal
        self.store = self._place.store
        """The caller's store object (None for a journal or a store URL)."""
        self.name = name
        self._worker = worker if worker is not None else "main"
        self._contacts = contacts
        self._resume = _resume
        self._requeue_unknown = requeue_unknown
        self._seed = seed
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._control = (auto_pause, canary)  # live control: _control_parts
        callbacks: tuple[EventCallback, ...] = (
            () if on_event is None else (on_event,) if callable(on_event) else tuple(on_event)
        )
        self._bus = EventBus(callbacks)
        self._hooks = HookParts(webhook, before_dial, self._clock, self._bus)
        self._engine: Engine | None = None
        self._stop_asked = False
        self._suppressed: frozenset[str] = frozenset()
        self._config: CampaignConfig | None = None
        if _resume is not None:
            self._config = _resume.config  # a store's settings are read when it is opened
            return
        zone = check_timezone(default_timezone)
        self._config = CampaignConfig(
            rate=rate,
            concurrency=concurrency,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            window=window_text(parse_window(window)),
            default_timezone=zone,
            default_country=checked_country(default_country),
            poll_deadline=poll_deadline,
            poll_interval=poll_interval,
            poll_rate=poll_rate,
            stop_grace=stop_grace,
            max_not_placed=max_not_placed,
            outage_limit=outage_limit,
            retry_timing=retry_timing,
            policy=None
            if policy is None
            else policy.stored(now=self._clock.time(), default_timezone=zone),
            source=source_path(contacts),
            api=client.api,
            environment=client.environment,
        )
        self._suppressed = frozenset(
            load_suppression_list(suppress)
            if isinstance(suppress, (str, os.PathLike))
            else suppress
        )

    @classmethod
    def resume(
        cls,
        client: Placer,
        journal: str | os.PathLike[str] | None = None,
        *,
        store: CampaignStore | str | os.PathLike[str] | None = None,
        name: str = DEFAULT_NAME,
        contacts: ContactSource | None = None,
        rate: float | None = None,
        concurrency: int | None = None,
        poll_rate: float | None = None,
        stop_grace: float | None = None,
        requeue_unknown: bool = False,
        default_country: str | None = None,
        worker: str | None = None,
        join: bool = False,
        seed: int | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
        webhook: Webhook | None = None,
        before_dial: BeforeDial | None = None,
        auto_pause: AutoPauseRules | None = None,
    ) -> Campaign:
        """Continue the campaign recorded in ``journal`` (or ``store``) with its settings.

        Calls in flight are followed again, scheduled contacts dialled, intents without
        a sid become ``unknown``. If the earlier run had not read all of its input, the
        rest is read from the stored file path, or from ``contacts`` (the same source,
        from its beginning: the items already stored are skipped). ``rate``,
        ``concurrency``, ``poll_rate`` and ``stop_grace`` may be changed;
        ``default_country``, if given, must be the one the campaign started with. A
        journal is checked at once (in use, damaged, another API or connection).

        ``join=True`` works as one more ``worker`` beside others: it never reads the
        contacts (the creator feeds them; it waits until all are stored) and settles
        only what it left itself, never another live worker's intents (on an SQLite
        store, which one process holds at a time, it settles everything, as a resume).
        """
        changes = {
            "rate": rate,
            "concurrency": concurrency,
            "poll_rate": poll_rate,
            "stop_grace": stop_grace,
        }
        resume = Resume.asked(
            client, journal, changes, default_country=default_country, contacts=contacts, join=join
        )
        return cls(
            client,
            contacts if contacts is not None else (),
            journal=journal,
            store=store,
            name=name,
            worker=worker,
            requeue_unknown=requeue_unknown,
            seed=seed,
            clock=clock,
            on_event=on_event,
            webhook=webhook,
            before_dial=before_dial,
            auto_pause=auto_pause,
            _resume=resume,
        )

    def __repr__(self) -> str:
        where = (
            f"journal={self.journal_path!r}"
            if self.journal_path
            else f"{self._place.label} worker={self._worker!r}"
        )
        if self._config is None:
            return f"<Campaign {where} {self.phase}>"
        return (
            f"<Campaign {where} rate={self._config.rate:g}/s "
            f"concurrency={self._config.concurrency} {self.phase}>"
        )

    @property
    def config(self) -> CampaignConfig:
        """The campaign's settings (a store's resumed campaign: once ``run`` opened it)."""
        if self._config is None:
            raise RuntimeError("a resumed campaign's settings are read when it runs")
        return self._config

    @property
    def phase(self) -> Phase:
        if self._engine is not None:
            return self._engine.phase
        return Phase.STOPPING if self._stop_asked else Phase.NEW

    # -- the public surface ---------------------------------------------------------------
    def stop(self) -> None:
        """Stop gracefully: no new triggers; calls in flight are followed for ``stop_grace``.

        ``run()`` then returns with the unfinished contacts still ``scheduled``, ready
        for :meth:`resume`. To stop at once, cancel the task running it.
        """
        self._stop_asked = True
        if self._engine is not None:
            self._engine.stop()

    def stats(self) -> CampaignStats:
        """A snapshot of the campaign's progress."""
        if self._engine is not None:
            return self._engine.stats()
        return CampaignStats.before_run(
            rate=self._config.rate if self._config is not None else 0.0,
            stopping=self._stop_asked,
            events_dropped=self._bus.dropped,
        )

    def events(self) -> AsyncIterator[CampaignEvent]:
        """Every event from now until the run ends (subscribe before or while running).

        The iteration ends by itself after the run's last event (``DONE``), however the
        run ended: consume it in a task of its own and *await* that task after
        ``run()``, never cancel it, or the events still queued are lost::

            counting = asyncio.create_task(count(campaign.events()))
            try:
                await campaign.run()
            finally:
                await counting

        A contact's final state comes in a ``FINISHED`` event (after a call) or a
        ``EXCLUDED`` one (an invalid, duplicate or suppressed row: never dialled). A
        consumer slower than the run loses the oldest events beyond 10,000 queued
        (counted in ``CampaignStats.events_dropped``); the store has them all.
        """
        return self._bus.subscribe()

    async def run(self, *, handle_signals: bool = False) -> CampaignStats:
        """Run the campaign until every contact is final, or it is stopped.

        Returns the final :class:`CampaignStats`. Raises :class:`CampaignError` when the
        run had to end for a campaign-wide reason (bad credentials, a server down for
        longer than ``outage_limit``); the store is consistent and resumable.

        ``handle_signals=True`` (for command-line programs) makes the first SIGINT or
        SIGTERM stop gracefully and the second cancel at once; the handlers are removed
        when the run ends. Embedded in an application, leave it False.
        """
        if self._engine is not None or self.phase is Phase.ENDED:
            raise RuntimeError("a Campaign runs once: use Campaign.resume() to continue it")
        try:
            opened, source = await self._open()
        except BaseException:
            self._bus.close()  # nothing ran: subscribers to events() are not left waiting
            raise
        joining = self._resume is not None and self._resume.join
        try:
            extras = await run_extras(
                config=self.config,
                stored=opened.stored,
                place=self._place,
                client=self.client,
                suppressed=self._suppressed,
                phase=lambda: str(self.phase),
                control=self._control,
                hooks=self._hooks,
                new=self._resume is None,
                name=self.name,
            )
            engine = self._engine = Engine(
                opened.stored,
                self.client,
                source=source,
                config=self.config,
                window=parse_window(self.config.window),
                clock=self._clock,
                bus=self._bus,
                label=self._place.label,
                suppressed=self._suppressed,
                requeue_unknown=self._requeue_unknown,
                worker=self._worker,
                # A worker that joins settles its own share only: the others are alive.
                recover_all=not joining or self._place.exclusive,
                seed=self._seed,
                admissions=extras.admissions,
                companions=extras.companions,
                pacer=extras.pacer,
            )
            if self._stop_asked:
                engine.stop()
            stats = await engine.run(handle_signals=handle_signals)
            return await self._hooks.finish(opened.stored, stats)  # callbacks, the outbox
        finally:
            await opened.aclose()

    # -- opening --------------------------------------------------------------------------
    async def _open(self) -> tuple[Opened, ContactSource | None]:
        """The campaign, created or reopened in its place; where its contacts come from."""
        resume = self._resume
        if resume is None:
            return await self._place.create(self._definition()), self._contacts
        opened, resumed, self._suppressed = await self._place.reopen(
            self.client, resume, self._clock
        )
        self._config = resumed.config
        return opened, resumed.source  # None: a worker that joins follows the feed

    def _definition(self) -> CampaignDefinition:
        # A file that cannot be read is refused before the campaign exists: one left
        # behind would make the retry refuse to run ("resume it").
        check_source_opens(self._contacts)
        return CampaignDefinition(
            settings=self.config.to_json(),
            connection=connection_identity(self.client),
            suppressed=self._suppressed,
            created_at=self._clock.time(),
        )
