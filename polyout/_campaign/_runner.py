"""``polyout.Campaign``: paced, journaled, exactly-once outbound campaigns.

The promise, which every part of this module serves and the journal enforces:

    **At most one placement per attempt, and never a new attempt for a contact whose
    previous attempt may have placed a call, unless that attempt's outcome is final
    and retryable** (``no_answer``, ``busy``, ``failure``).

How it is kept:

* the intent to dial (attempt n of contact c) is committed to the journal after the
  pacer lets the trigger go and before a byte is sent; the sid is committed as soon as
  it comes back;
* a trigger the client could not prove unsent (``TriggerOutcomeUnknown``), or an intent
  found without a sid when a run resumes, makes the contact ``unknown``: final, never
  redialled unless ``requeue_unknown=True`` says so explicitly;
* only triggers that provably placed nothing (429, 500, 502, no connection) are tried
  again, and a bounded number of times;
* the journal refuses illegal state changes, a second attempt while an earlier one is
  open or ended otherwise than retryably, and the same number planned twice.

The pipeline, with memory bounded by the concurrency, not the number of contacts::

    feeder:  contacts -> Planner -> journal (refused rows final at once; the rest scheduled)
    workers: due contacts from the journal -> calling window -> pacer -> intent -> trigger -> sid
    poller:  one heap of calls in flight -> status requests under their own budget
    ending:  final state, or scheduled again (retry, moved into the calling window)

Scheduled contacts live in the journal, not in memory: a million-row file, or a
hundred thousand people waiting for their morning, costs disk, not RAM. The workers
read the next few due contacts from an index as they need them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from polyout._campaign._breaker import CircuitBreaker
from polyout._campaign._clock import Clock, SystemClock, bounded_delay, sleep_or_wake, utc_datetime
from polyout._campaign._config import (
    DEFAULT_POLL_DEADLINE,
    DEFAULT_POLL_RATE,
    CampaignConfig,
    source_path,
)
from polyout._campaign._errors import CampaignError, JournalError
from polyout._campaign._events import (
    CampaignEvent,
    CampaignStats,
    EventBus,
    EventKind,
    RateMeter,
    count_transition,
)
from polyout._campaign._fingerprint import (
    EMPTY_DIGEST,
    chain,
    check_same_source,
    check_source_opens,
)
from polyout._campaign._gate import Abandon, TriggerGate
from polyout._campaign._identity import connection_identity, identity_mismatch
from polyout._campaign._journal import (
    RETRYABLE_OUTCOMES,
    ContactRow,
    DuplicateCallSid,
    Journal,
)
from polyout._campaign._lock import JournalLock
from polyout._campaign._placer import Placer
from polyout._campaign._planning import (
    Planned,
    Planner,
    Refused,
    checked_country,
    load_suppression_list,
)
from polyout._campaign._poller import FollowedCall, Poller
from polyout._campaign._readers import ContactSource, aiter_contacts
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._signals import stop_on_signals
from polyout._campaign._supervisor import PartDied, watch
from polyout._campaign._trigger_errors import (
    TriggerError,
    Verdict,
    classify_trigger_error,
    refusals_stop_campaign,
)
from polyout._campaign._windows import (
    check_timezone,
    parse_window,
    window_opening,
    window_text,
    within_window,
)
from polyout._errors import BadRequestError, PolyOutError
from polyout._log import logger
from polyout._models import Call, CallRequest, CallStatus, Encryption
from polyout._pacing import Pacer
from polyout._phone import mask_number

__all__ = ["Campaign"]

_log = logger.getChild("campaign")

EventCallback = Callable[[CampaignEvent], object]

_COMMIT_INTERVAL = 0.2  # real seconds between batched commits
_COMMIT_BATCH = 2000  # ...or sooner, after this many batched writes
_FEED_YIELD = 64  # input items planned between two yields to the event loop
_MAX_WORKERS = 64  # trigger requests in flight at once, at most
_MAX_PARALLEL_POLLS = 32  # leaves most of the client's connections to triggers
_NOT_PLACED_FIRST_DELAY = 5.0  # clock seconds before a not-placed contact is tried again
_NOT_PLACED_MAX_DELAY = 300.0
_TRY_CLOSED = "not placed; the client tries again"


class Campaign:
    """Calls every contact of ``contacts`` through ``client``, safely and resumably.

    ``contacts`` is a CSV/JSONL file path, or any iterable or async iterable of
    :class:`Contact` (or :class:`RowError`). It is streamed: memory stays bounded by
    the concurrency. ``journal`` is the SQLite file that records everything; it must
    not hold a campaign yet (use :meth:`resume` for that).

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
    * ``on_event``: a callback (or several) for every :class:`CampaignEvent`.

    A setting that cannot work (``rate=0``, ``window="9-5"``, a negative or year-long
    delay, ...) raises :class:`polyout.ConfigurationError` naming the keyword.
    """

    def __init__(
        self,
        client: Placer,
        contacts: ContactSource,
        *,
        journal: str | os.PathLike[str],
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
        requeue_unknown: bool = False,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
    ) -> None:
        parsed_window = parse_window(window)
        config = CampaignConfig(
            rate=rate,
            concurrency=concurrency,
            max_attempts=max_attempts,
            retry_delay=retry_delay,
            window=window_text(parsed_window),
            default_timezone=check_timezone(default_timezone),
            default_country=checked_country(default_country),
            poll_deadline=poll_deadline,
            poll_interval=poll_interval,
            poll_rate=poll_rate,
            stop_grace=stop_grace,
            max_not_placed=max_not_placed,
            outage_limit=outage_limit,
            source=source_path(contacts),
            api=client.api,
            environment=client.environment,
        )
        path = os.fspath(journal)
        if os.path.exists(path) and os.path.getsize(path) > 0:
            raise JournalError(
                f"{path} already holds a campaign: resume it with Campaign.resume(), "
                "or choose another journal file"
            )
        suppressed = (
            load_suppression_list(suppress)
            if isinstance(suppress, (str, os.PathLike))
            else frozenset(suppress)
        )
        self._setup(client, contacts, path, config, parsed_window, clock, on_event)
        self._identity = connection_identity(client)
        self._new = True
        self._suppressed = suppressed
        self._requeue_unknown = requeue_unknown

    @classmethod
    def resume(
        cls,
        client: Placer,
        journal: str | os.PathLike[str],
        *,
        contacts: ContactSource | None = None,
        rate: float | None = None,
        concurrency: int | None = None,
        poll_rate: float | None = None,
        stop_grace: float | None = None,
        requeue_unknown: bool = False,
        default_country: str | None = None,
        clock: Clock | None = None,
        on_event: EventCallback | Iterable[EventCallback] | None = None,
    ) -> Campaign:
        """Continue the campaign recorded in ``journal`` with its stored settings.

        Calls in flight are followed again, scheduled contacts dialled, intents without
        a sid become ``unknown``. If the earlier run had not read all of its input, the
        rest is read from the stored file path, or from ``contacts`` (the same source,
        from its beginning: the items already journaled are skipped). ``rate``,
        ``concurrency``, ``poll_rate`` and ``stop_grace`` may be changed;
        ``default_country``, if given, must be the one the campaign started with.
        """
        path = os.fspath(journal)
        if JournalLock.is_held(Path(path)):
            # Refused before reading: through a second name (a hard link) SQLite would
            # not even see the running campaign's WAL.
            raise JournalError(f"{path} is in use by another running campaign")
        stored = Journal.open(path, owner=False)
        try:
            config = CampaignConfig.stored(stored.config(), path)
            input_done = stored.feed_done
            identity = stored.meta_json("connection")
            stored.check_rows()  # a damaged journal is refused before anything is sent
        finally:
            stored.close()
        if (config.api, config.environment) != (client.api, client.environment):
            raise JournalError(
                f"{path} was run through the {config.api} API ({config.environment}); "
                f"this client uses {client.api} ({client.environment}): its call sids "
                "would mean nothing there"
            )
        mismatch = identity_mismatch(
            identity if isinstance(identity, dict) else {}, connection_identity(client)
        )
        if mismatch is not None:
            raise JournalError(
                f"{path} was run through another connection ({mismatch}): resume it "
                "through the same one, or its calls would be followed, and the rest "
                "dialled, in the wrong place"
            )
        country = checked_country(default_country)
        if country is not None and country != config.default_country:
            # The rows already planned were read in the stored country: one list, one way.
            raise JournalError(
                f"{path} reads national numbers with default_country="
                f"{config.default_country!r}, not {country!r}"
            )
        changes: dict[str, Any] = {
            "rate": rate,
            "concurrency": concurrency,
            "poll_rate": poll_rate,
            "stop_grace": stop_grace,
        }
        config = CampaignConfig.from_json(
            {**config.to_json(), **{k: v for k, v in changes.items() if v is not None}}
        )
        source: ContactSource | None = contacts
        if source is None and not input_done:
            if config.source is None:
                raise JournalError(
                    f"{path}: the earlier run did not read all of its contacts, and they "
                    "did not come from a file: pass contacts= (the same source)"
                )
            source = config.source
        self = cls.__new__(cls)
        self._setup(
            client,
            source if source is not None else (),
            path,
            config,
            parse_window(config.window),
            clock,
            on_event,
        )
        self._identity = connection_identity(client)
        self._new = False
        self._suppressed = frozenset()
        self._requeue_unknown = requeue_unknown
        return self

    def _setup(
        self,
        client: Placer,
        contacts: ContactSource,
        journal: str,
        config: CampaignConfig,
        window: CallingWindow | None,
        clock: Clock | None,
        on_event: EventCallback | Iterable[EventCallback] | None,
    ) -> None:
        self.client = client
        self.config = config
        self.journal_path = journal
        self._contacts = contacts
        self._window = window
        self._clock: Clock = clock if clock is not None else SystemClock()
        callbacks: tuple[EventCallback, ...] = (
            () if on_event is None else (on_event,) if callable(on_event) else tuple(on_event)
        )
        self._bus = EventBus(callbacks)
        self._stopping = False
        self._started = False
        self._fatal: PolyOutError | None = None
        self._journal: Journal | None = None
        self._states: dict[str, int] = {}
        self._total = 0
        self._input_done = False
        self._run_started = 0.0
        self._real_started = 0.0
        self._triggers = 0
        self._placed = 0
        self._retries = 0
        self._not_placed = 0
        self._refused_in_a_row = 0  # triggers answered 400 since the last placement
        self._rate_limited = 0
        self._trigger_meter = RateMeter()
        self._pacer: Pacer | None = None
        self._poller: Poller | None = None
        self._breaker = CircuitBreaker(outage_limit=config.outage_limit)
        self._ready: collections.deque[ContactRow] = collections.deque()
        self._claimed: set[int] = set()
        self._fetch_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._slots_taken = 0
        self._slot_freed = asyncio.Event()

    def __repr__(self) -> str:
        return (
            f"<Campaign journal={self.journal_path!r} rate={self.config.rate:g}/s "
            f"concurrency={self.config.concurrency} {self._phase()}>"
        )

    def _phase(self) -> str:
        if not self._started:
            return "not started"
        if self._journal is None:
            return "ended"
        return "stopping" if self._stopping else "running"

    # -- the public surface ----------------------------------------------------------------
    def stop(self) -> None:
        """Stop gracefully: no new triggers; calls in flight are followed for ``stop_grace``.

        ``run()`` then returns with the unfinished contacts still ``scheduled`` in the
        journal, ready for :meth:`resume`. To stop at once, cancel the task running it.
        """
        if self._stopping:
            return
        self._stopping = True
        _log.info("campaign stopping: no new calls; following calls in flight")
        self._emit(EventKind.STOPPING)
        self._wake.set()
        self._slot_freed.set()

    def stats(self) -> CampaignStats:
        """A snapshot of the campaign's progress."""
        now = self._clock.time()
        # The wall clock may step back: elapsed time is never negative for it.
        elapsed = max(now - self._run_started, 0.0) if self._started else 0.0
        real_now = time.monotonic()
        return CampaignStats(
            states=dict(self._states),
            total=self._total,
            input_done=self._input_done,
            in_flight=self._states.get("dialing", 0) + self._states.get("in_flight", 0),
            triggers=self._triggers,
            placed=self._placed,
            retries=self._retries,
            not_placed=self._not_placed,
            rate_limited=self._rate_limited,
            rate=self._pacer.rate if self._pacer is not None else self.config.rate,
            achieved_rate=self._trigger_meter.rate(real_now, self._real_started),
            elapsed=elapsed,
            stopping=self._stopping,
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
        ``REFUSED`` one (an invalid, duplicate or suppressed row: never dialled). A
        consumer slower than the run loses the oldest events beyond 10,000 queued
        (counted in ``CampaignStats.events_dropped``); the journal has them all.
        """
        return self._bus.subscribe()

    async def run(self, *, handle_signals: bool = False) -> CampaignStats:
        """Run the campaign until every contact is final, or it is stopped.

        Returns the final :class:`CampaignStats`. Raises :class:`CampaignError` when the
        run had to end for a campaign-wide reason (bad credentials, a server down for
        longer than ``outage_limit``); the journal is consistent and resumable.

        ``handle_signals=True`` (for command-line programs) makes the first SIGINT or
        SIGTERM stop gracefully and the second cancel at once; the handlers are removed
        when the run ends. Embedded in an application, leave it False.
        """
        if self._started:
            raise RuntimeError("a Campaign runs once: use Campaign.resume() to continue it")
        self._started = True
        loop = asyncio.get_running_loop()
        self._journal = self._open_journal()
        try:
            with self._signals(loop, handle_signals):
                await self._run()
        except BaseException:
            self._settle_after_abort()
            raise
        finally:
            self._finish()
        if self._fatal is not None:
            raise self._fatal
        return self.stats()

    # -- running -------------------------------------------------------------------------
    def _open_journal(self) -> Journal:
        now = self._clock.time()
        if not self._new:
            return Journal.open(self.journal_path)
        # A file that cannot be read is refused before the journal exists: a journal
        # left behind would make the retry refuse to run ("resume it").
        check_source_opens(self._contacts)
        # Everything that defines the campaign goes in with its creation, whole: a
        # crash or a full disk never leaves a journal without its do-not-call list.
        return Journal.create(
            self.journal_path,
            self.config.to_json(),
            now,
            suppressed=self._suppressed,
            connection=self._identity,
        )

    async def _run(self) -> None:
        journal = self._require_journal()
        config = self.config
        self._run_started = now = self._clock.time()
        self._real_started = time.monotonic()
        self._pacer = Pacer(config.rate)
        settled = journal.settle_interrupted_intents(now)
        if settled:
            _log.warning(
                "%d contacts had a trigger under way when the last run ended: "
                "they are now 'unknown' and will not be dialled again",
                settled,
            )
        if self._requeue_unknown:
            count = journal.requeue_unknown(now)
            _log.info("requeued %d 'unknown' contacts on request", count)
        self._states = journal.counts_by_state()
        self._total = journal.contact_count()
        self._input_done = journal.feed_done
        poller = self._poller = Poller(
            self.client,
            self._clock,
            interval=config.poll_interval,
            rate=config.poll_rate,
            triggers=self._pacer,
            parallel=min(_MAX_PARALLEL_POLLS, max(4, config.concurrency)),
            on_change=self._on_status,
            on_end=self._on_call_end,
            on_error=self._on_poll_error,
            on_fatal=self._on_fatal,
        )
        self._follow_open_calls(journal)
        _log.info(
            "campaign %s: %d contacts known, %d calls to follow, rate %g/s, concurrency %d",
            "started" if self._new else "resumed",
            self._total,
            self._slots_taken,
            config.rate,
            config.concurrency,
        )
        polling = asyncio.create_task(poller.run(), name="polyout-poller")
        tasks = [polling]
        flusher = asyncio.create_task(self._commit_periodically(), name="polyout-commit")
        feeder = None
        try:
            if not self._input_done:
                feeder = asyncio.create_task(self._feed(), name="polyout-feeder")
                tasks.append(feeder)
            workers = [
                asyncio.create_task(self._trigger_worker(), name=f"polyout-trigger-{n}")
                for n in range(self._worker_count())
            ]
            tasks += workers
            try:
                # The poller must outlive the workers: they wait for the slots it frees.
                await watch(tasks, until_done=workers, vital=[polling])
            except PartDied as death:
                await self._after_death(death, poller, workers, feeder)
                return
            if self._stopping and feeder is not None:
                # It may be waiting on a slow source. Each item is journaled before the
                # next is awaited, so what it fed is complete and resume reads on from it.
                feeder.cancel()
            poller.finish_when_idle()
            if self._stopping:
                await self._grace(poller, polling)
            await watch(tasks, until_done=tasks)
            poller.raise_failure()
        finally:
            flusher.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(flusher, *tasks, return_exceptions=True)

    async def _after_death(
        self,
        death: PartDied,
        poller: Poller,
        workers: list[asyncio.Task[None]],
        feeder: asyncio.Task[None] | None,
    ) -> None:
        """A vital part (the poller) stopped: stop the run now, resumable, saying why.

        No new trigger goes out; a trigger already on the wire is let finish, so its
        sid is journaled and the next run follows the call. Calls in flight stay
        ``in_flight`` in the journal for :meth:`resume`.
        """
        try:
            poller.raise_failure()
        except BaseException as cause:  # the error the poller stopped on
            death = death.with_cause(cause)
        fatal = CampaignError(f"{death}: resume the campaign to carry on")
        fatal.__cause__ = death.__cause__
        self._on_fatal(fatal)
        if feeder is not None:
            feeder.cancel()  # what it fed is journaled; resume reads on from there
        await watch(workers, until_done=workers)

    async def _grace(self, poller: Poller, poller_task: asyncio.Task[None]) -> None:
        """Follow the calls in flight for ``stop_grace`` more seconds, then let them be."""
        sleeper = asyncio.ensure_future(self._clock.sleep(self.config.stop_grace))
        try:
            await asyncio.wait({sleeper, poller_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
        if not poller_task.done():
            _log.info(
                "stop grace over: %d calls still in flight stay in the journal; "
                "resume the campaign to follow them",
                poller.following,
            )
            poller.halt()

    def _worker_count(self) -> int:
        # Enough trigger requests in flight for about two seconds of answer latency.
        wanted = math.ceil(self.config.rate * 2) + 1
        return max(1, min(self.config.concurrency, _MAX_WORKERS, wanted))

    def _follow_open_calls(self, journal: Journal) -> None:
        assert self._poller is not None
        for call in journal.open_calls():
            self._slots_taken += 1
            self._poller.follow(
                FollowedCall.resumed(
                    seq=call.seq,
                    contact_id=call.contact_id,
                    attempt=call.attempt,
                    placed=call.placed,
                    call_sid=call.call_sid,
                    raw_status=call.call_status,
                    placed_at=call.placed_at,
                    # Past its deadline, a call gets one last poll before it expires.
                    deadline=call.poll_deadline,
                )
            )

    async def _commit_periodically(self) -> None:
        journal = self._require_journal()
        while True:
            await asyncio.sleep(_COMMIT_INTERVAL)
            journal.commit()

    def _finish(self) -> None:
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()
        stats = self.stats()
        _log.info(
            "campaign run ended: %d of %d contacts final, %d scheduled, %d in flight",
            stats.finished,
            stats.total,
            stats.scheduled,
            stats.in_flight,
        )
        self._emit(EventKind.DONE)
        self._bus.close()

    def _settle_after_abort(self) -> None:
        """After a cancellation or a crash of the run: intents without a sid become unknown."""
        journal = self._journal
        if journal is None:
            return
        with contextlib.suppress(Exception):
            journal.settle_interrupted_intents(self._clock.time())
            self._states = journal.counts_by_state()

    def _signals(
        self, loop: asyncio.AbstractEventLoop, enabled: bool
    ) -> contextlib.AbstractContextManager[None]:
        if not enabled:
            return contextlib.nullcontext()
        task = asyncio.current_task()

        def first() -> None:
            _log.warning("signal received: stopping gracefully (again to stop at once)")
            self.stop()

        def again() -> None:
            if task is not None:
                task.cancel()

        return stop_on_signals(loop, first=first, again=again)

    # -- feeding the journal from the input ------------------------------------------------
    async def _feed(self) -> None:
        journal = self._require_journal()
        config = self.config
        planner = Planner(
            suppress=journal.suppressed_numbers(),
            window=self._window,
            default_timezone=config.default_timezone,
            default_country=config.default_country,
            record=_JournalRecord(journal),
        )
        skip = journal.contact_count()
        stored_digest = journal.source_digest
        seq = skip
        position = 0
        digest = EMPTY_DIGEST
        async for item in aiter_contacts(self._contacts):
            if position < skip:  # journaled by an earlier run: it must be the same item
                digest = chain(digest, item)
                position += 1
                if position == skip:
                    check_same_source(self.journal_path, stored_digest, digest, skip)
                continue
            position += 1
            if self._stopping:
                return
            self._journal_item(journal, seq, planner.plan(item))
            digest = chain(digest, item)
            journal.note_source_digest(digest)
            seq += 1
            self._total = seq
            if seq % _FEED_YIELD == 0:
                self._wake.set()
                if journal.pending_writes >= _COMMIT_BATCH:
                    journal.commit()
                await asyncio.sleep(0)
        if position < skip:
            check_same_source(self.journal_path, stored_digest, None, skip)
        journal.mark_feed_done()
        self._input_done = True
        self._wake.set()
        _log.info("all %d contacts read", seq)

    def _journal_item(self, journal: Journal, seq: int, plan: Planned | Refused) -> None:
        now = self._clock.time()
        if isinstance(plan, Refused):
            journal.add_refused(
                seq,
                contact_id=plan.contact_id,
                row=plan.row,
                to_number=plan.to_number,
                state=plan.state,
                reason=plan.reason,
                now=now,
            )
            count_transition(self._states, None, plan.state)
            self._emit(
                EventKind.REFUSED,
                contact_id=plan.contact_id,
                position=seq,
                state=plan.state,
                reason=plan.reason,
            )
            return
        due = self._window_opening(plan.zones, now)
        request = plan.request
        journal.add_planned(
            seq,
            contact_id=plan.contact.id,
            row=plan.contact.row,
            to_number=request.to_number,
            request={
                "metadata": dict(request.metadata),
                "encryption": request.encryption.value if request.encryption else None,
                "variant_id": request.variant_id,
            },
            zones=plan.zones,
            due=due,
            now=now,
        )
        count_transition(self._states, None, "scheduled")
        if due <= now:
            self._wake.set()
        else:
            self._emit(
                EventKind.WAITING, contact_id=plan.contact.id, position=seq, due=utc_datetime(due)
            )

    # -- triggering ------------------------------------------------------------------------
    async def _trigger_worker(self) -> None:
        while True:
            await self._take_slot()
            contact = await self._next_contact()
            if contact is None:
                self._release_slot()
                return
            try:
                placed = await self._dial(contact)
            finally:
                self._claimed.discard(contact.seq)
                self._wake.set()  # whoever waits may now find that nothing is left
            if not placed:
                self._release_slot()

    async def _take_slot(self) -> None:
        while self._slots_taken >= self.config.concurrency and not self._stopping:
            self._slot_freed.clear()
            await self._slot_freed.wait()
        self._slots_taken += 1

    def _release_slot(self) -> None:
        self._slots_taken -= 1
        self._slot_freed.set()

    async def _next_contact(self) -> ContactRow | None:
        """The next due contact, waiting for it if need be; None when there is no more work."""
        journal = self._require_journal()
        async with self._fetch_lock:
            while True:
                if self._stopping:
                    return None
                now = self._clock.time()
                if self._breaker.outage_exceeded(now):
                    self._on_fatal(
                        CampaignError(
                            f"no trigger has worked for {self.config.outage_limit:g} s "
                            f"({self._breaker.failures} failures in a row): the API looks down"
                        )
                    )
                    return None
                pause = self._breaker.wait(now)
                if pause is None or pause > 0:
                    await sleep_or_wake(self._clock, pause, self._wake)
                    continue
                if not self._ready:
                    rows = journal.due_contacts(now, self._worker_count(), skip=self._claimed)
                    self._claimed.update(row.seq for row in rows)
                    self._ready.extend(rows)
                if self._ready:
                    if self._breaker.is_open:
                        self._breaker.probing = True
                    return self._ready.popleft()
                if self._nothing_left():
                    return None
                due = journal.next_due(skip=self._claimed)
                await sleep_or_wake(self._clock, None if due is None else due - now, self._wake)

    def _nothing_left(self) -> bool:
        """No contact can ever become due again in this run."""
        active = self._states.get("dialing", 0) + self._states.get("in_flight", 0)
        return (
            self._input_done
            and not self._states.get("scheduled", 0)
            and not active
            and not self._claimed
        )

    async def _dial(self, contact: ContactRow) -> bool:
        """Trigger one call. Returns whether it is now in flight (and holds its slot)."""
        journal = self._require_journal()
        if not self._in_window(contact, self._clock.time()):
            self._wait_for_window(journal, contact)
            return False
        assert self._pacer is not None
        gate = TriggerGate(
            self._pacer,
            contact,
            before_send=self._before_send,
            close_try=self._close_try,
            on_rate_limited=self._on_rate_limited,
        )
        try:
            call = await self.client.place(_request_from(contact), pacer=gate)
        except Abandon as abandoned:
            self._breaker.on_neutral()
            if gate.attempt is not None:  # between two tries that placed nothing
                # Not the contact's fault: it does not count towards max_not_placed.
                self._not_placed_now(contact, gate.attempt, str(abandoned), None, count=False)
            elif not self._stopping:
                self._wait_for_window(journal, contact)
            return False
        except Exception as exc:
            if gate.attempt is None:
                raise  # nothing was committed, so nothing was sent: a bug to surface
            self._trigger_failed(contact, gate.attempt, exc, classify_trigger_error(exc))
            return False
        assert gate.attempt is not None
        self._placed_now(contact, gate.attempt, call)
        return True

    def _before_send(self, gate: TriggerGate) -> None:
        """Called when the pacer lets a send go, right before its request leaves.

        Each send gets its own intent: the first moves the contact to ``dialing``; a
        client retry, after the previous try's intent was closed as not placed, opens
        the next one.
        """
        if self._stopping:
            raise Abandon("stopped before retrying")
        contact = gate.contact
        now = self._clock.time()
        # Checked on the wall clock before every send: a client retry (up to
        # max_retry_wait later), or a machine that slept, must not ring someone after
        # their calling window has closed.
        if not self._in_window(contact, now):
            raise Abandon("the calling window closed")
        journal = self._require_journal()
        if gate.attempt is None:
            gate.attempt = journal.begin_attempt(contact.seq, now)
            count_transition(self._states, "scheduled", "dialing")
        else:  # the client's retry of a try whose intent was closed as not placed
            gate.attempt = journal.begin_retry(contact.seq, gate.attempt, now)
        gate.intent_open = True
        self._triggers += 1
        self._trigger_meter.mark(time.monotonic())
        self._emit(
            EventKind.DIALING,
            contact_id=contact.contact_id,
            position=contact.seq,
            attempt=gate.attempt,
        )

    def _close_try(self, gate: TriggerGate) -> None:
        """The try just sent provably placed nothing: close its intent, durably, now."""
        assert gate.attempt is not None
        self._require_journal().close_try(
            gate.contact.seq, gate.attempt, error=_TRY_CLOSED, now=self._clock.time()
        )

    def _placed_now(self, contact: ContactRow, attempt: int, call: Call) -> None:
        self._refused_in_a_row = 0
        now = self._clock.time()
        sid, status = call.call_sid, call.state.value
        try:
            self._require_journal().record_placed(
                contact.seq,
                attempt,
                call_sid=sid,
                call_status=status,
                correlation_id=call.correlation_id,
                poll_deadline=now + self.config.poll_deadline,
                now=now,
            )
        except DuplicateCallSid as duplicate:
            # Recorded unknown by the journal: the call may be real, but it cannot be
            # followed (its status would be the other call's). The run goes on.
            _log.warning("call to %s: %s", mask_number(contact.to_number), duplicate)
            self._release_slot()
            count_transition(self._states, "dialing", "unknown")
            self._emit_finished(contact, attempt, "unknown", duplicate.reason, str(duplicate))
            return
        except JournalError as lost:
            # The call is placed and its sid could not be written: say it where an
            # operator will find it, and send nothing more (the journal takes no write).
            _log.error(
                "call to %s was placed as %s, but the journal could not record it: %s",
                mask_number(contact.to_number),
                sid,
                lost,
            )
            self._release_slot()
            self._on_fatal(lost)
            return
        count_transition(self._states, "dialing", "in_flight")
        self._placed += 1
        self._breaker.on_success()
        assert self._poller is not None
        self._poller.follow(
            FollowedCall(
                seq=contact.seq,
                contact_id=contact.contact_id,
                attempt=attempt,
                placed=contact.attempts + 1,
                call_sid=sid,
                placed_at=now,
                deadline=now + self.config.poll_deadline,
            )
        )
        self._emit(
            EventKind.PLACED,
            contact_id=contact.contact_id,
            position=contact.seq,
            attempt=attempt,
            call_sid=sid,
            state=status,
        )

    def _trigger_failed(
        self, contact: ContactRow, attempt: int, exc: Exception, sorted_as: TriggerError
    ) -> None:
        """Act on a failed trigger: unknown, not placed (again later), refused, or stop."""
        masked = mask_number(contact.to_number)
        verdict = sorted_as.verdict
        if verdict is Verdict.UNKNOWN:
            self._breaker.on_neutral()
            if isinstance(exc, PolyOutError):
                _log.warning("call to %s may or may not have been placed: %s", masked, exc)
            else:  # not an answer from the server: logged for whoever fixes it
                _log.exception("unexpected error triggering the call to %s", masked)
            detail = str(exc) if isinstance(exc, PolyOutError) else f"{type(exc).__name__}: {exc}"
            self._final_from_dialing(contact, attempt, "unknown", _UNKNOWN_REASON, detail)
        elif verdict is Verdict.STOP:
            # About the campaign, not the contact: it is dialled after the fix.
            self._breaker.on_neutral()
            self._not_placed_now(contact, attempt, str(exc), 0.0, count=False)
            self._on_fatal(CampaignError(sorted_as.why))
        elif verdict is Verdict.NOT_PLACED:
            # The client's retries are spent and no call was placed.
            if sorted_as.server_down:
                self._breaker.on_failure(self._clock.time())
            else:
                self._breaker.on_neutral()
            self._not_placed_now(contact, attempt, str(exc), sorted_as.retry_after)
        else:
            assert isinstance(exc, BadRequestError)
            self._breaker.on_success()  # the server is up and answering
            self._refused(contact, attempt, exc)

    def _refused(self, contact: ContactRow, attempt: int, exc: BadRequestError) -> None:
        """A 400 to a request that passed our own validation: the contact, or the campaign?

        Several in a row across contacts means a campaign-wide setting is wrong: stop,
        leaving them all to dial after a fix. A contact refused again while others go
        through is the contact's problem: invalid, with the server's reason.
        """
        self._refused_in_a_row += 1
        if refusals_stop_campaign(self._refused_in_a_row):
            self._not_placed_now(contact, attempt, str(exc), 0.0, count=False)
            self._on_fatal(
                CampaignError(
                    f"the API refused {self._refused_in_a_row} triggers in a row ({exc}): "
                    "check the environment and the agent's outbound set-up, then resume"
                )
            )
        elif contact.not_placed:
            _log.warning("call to %s refused: %s", mask_number(contact.to_number), exc)
            self._final_from_dialing(contact, attempt, "invalid", exc.message, str(exc))
        else:
            self._not_placed_now(contact, attempt, str(exc), None)

    def _not_placed_now(
        self,
        contact: ContactRow,
        attempt: int,
        error: str,
        retry_after: float | None,
        *,
        count: bool = True,
    ) -> None:
        now = self._clock.time()
        failures = contact.not_placed + 1
        if count and failures >= self.config.max_not_placed:
            self._require_journal().record_not_placed(
                contact.seq, attempt, error=error, due=None, now=now
            )
            count_transition(self._states, "dialing", "failure")
            self._not_placed += 1
            self._emit_finished(contact, attempt, "failure", None, error)
            return
        delay = min(_NOT_PLACED_FIRST_DELAY * 2 ** min(failures - 1, 30), _NOT_PLACED_MAX_DELAY)
        if retry_after is not None:
            delay = max(delay, retry_after)  # the server's word: bounded, never trusted whole
        due = self._window_opening(contact.zones, now + bounded_delay(delay))
        self._require_journal().record_not_placed(
            contact.seq, attempt, error=error, due=due, now=now
        )
        count_transition(self._states, "dialing", "scheduled")
        if count:
            self._not_placed += 1
        _log.info(
            "call to %s not placed (%s): again at %s",
            mask_number(contact.to_number),
            error,
            utc_datetime(due).isoformat(),
        )
        self._emit(
            EventKind.NOT_PLACED,
            contact_id=contact.contact_id,
            position=contact.seq,
            attempt=attempt,
            error=error,
            due=utc_datetime(due),
        )
        self._wake.set()

    def _final_from_dialing(
        self, contact: ContactRow, attempt: int, state: str, reason: str, error: str
    ) -> None:
        journal = self._require_journal()
        now = self._clock.time()
        if state == "unknown":
            journal.record_unknown(contact.seq, attempt, reason=reason, error=error, now=now)
        else:
            journal.record_refused(
                contact.seq, attempt, state=state, reason=reason, error=error, now=now
            )
        count_transition(self._states, "dialing", state)
        self._emit_finished(contact, attempt, state, reason, error)
        self._wake.set()

    # -- calling windows -------------------------------------------------------------------
    def _in_window(self, contact: ContactRow, now: float) -> bool:
        return within_window(self._window, contact.zones, now)

    def _window_opening(self, zones: tuple[str, ...], at: float) -> float:
        """``at``, or the next time the calling window is open in all of ``zones``."""
        return window_opening(self._window, zones, at)

    def _wait_for_window(self, journal: Journal, contact: ContactRow) -> None:
        now = self._clock.time()
        due = self._window_opening(contact.zones, now)
        if due <= now:  # open again already (it closed and opened while we waited)
            due = now
        opening = utc_datetime(due)
        journal.reschedule(
            contact.seq, due, event="waiting", detail=f"calling window opens {opening}", now=now
        )
        self._emit(
            EventKind.WAITING, contact_id=contact.contact_id, position=contact.seq, due=opening
        )
        self._wake.set()

    # -- following calls (poller callbacks) ------------------------------------------------
    def _on_status(self, call: FollowedCall, status: CallStatus) -> None:
        self._require_journal().record_status(
            call.seq,
            call.attempt,
            call_sid=call.call_sid,
            status=_raw(status),
            now=self._clock.time(),
        )
        self._emit(
            EventKind.STATUS,
            contact_id=call.contact_id,
            position=call.seq,
            attempt=call.attempt,
            call_sid=call.call_sid,
            state=status.state.value,
        )

    def _on_call_end(self, call: FollowedCall, status: CallStatus) -> None:
        journal = self._require_journal()
        now = self._clock.time()
        outcome = status.state.value
        reason = status.reason or None
        retry_at: float | None = None
        if outcome in RETRYABLE_OUTCOMES and call.placed < self.config.max_attempts:
            zones = journal.contact_zones(call.seq)
            retry_at = self._window_opening(zones, now + self.config.retry_delay)
        journal.record_outcome(
            call.seq,
            call.attempt,
            outcome=outcome,
            call_status=_raw(status),
            reason=reason,
            error=None,
            retry_at=retry_at,
            now=now,
        )
        self._release_slot()
        count_transition(self._states, "in_flight", outcome if retry_at is None else "scheduled")
        if retry_at is not None:
            self._retries += 1
        self._emit(
            EventKind.FINISHED if retry_at is None else EventKind.RETRY,
            contact_id=call.contact_id,
            position=call.seq,
            attempt=call.attempt,
            call_sid=call.call_sid,
            state=outcome,
            reason=reason,
            due=None if retry_at is None else utc_datetime(retry_at),
        )
        self._wake.set()

    def _on_poll_error(self, call: FollowedCall, exc: PolyOutError) -> None:
        _log.info("status of %s not read (%s); will try again", call.call_sid, exc)
        self._require_journal().record_poll_error(
            call.seq, call.attempt, call_sid=call.call_sid, error=str(exc), now=self._clock.time()
        )

    def _on_fatal(self, exc: PolyOutError) -> None:
        if self._fatal is None:
            self._fatal = exc if isinstance(exc, CampaignError) else CampaignError(str(exc))
            if self._fatal is not exc:
                self._fatal.__cause__ = exc
            _log.error("campaign stopping: %s", self._fatal)
        self.stop()

    def _on_rate_limited(self, retry_after: float | None) -> None:
        self._rate_limited += 1
        pause = f"{retry_after:g} s" if retry_after is not None else "a moment"
        _log.warning("rate limited (429): every trigger pauses for %s and slows down", pause)
        self._emit(EventKind.RATE_LIMITED, reason=f"Retry-After {pause}")

    # -- helpers ---------------------------------------------------------------------------
    def _emit_finished(
        self, contact: ContactRow, attempt: int, state: str, reason: str | None, error: str | None
    ) -> None:
        self._emit(
            EventKind.FINISHED,
            contact_id=contact.contact_id,
            position=contact.seq,
            attempt=attempt,
            state=state,
            reason=reason,
            error=error,
        )

    def _emit(self, kind: EventKind, **fields: Any) -> None:
        if self._bus.wanted:
            self._bus.emit(CampaignEvent(kind, utc_datetime(self._clock.time()), **fields))

    def _require_journal(self) -> Journal:
        if self._journal is None:
            raise RuntimeError("the campaign is not running")
        return self._journal


_UNKNOWN_REASON = "the trigger was sent but its answer was lost: the call may have been placed"


class _JournalRecord:
    """The Planner's record of taken numbers and ids, kept by the journal itself.

    The feeder journals each contact right after planning it, and the journal's
    connection sees its own uncommitted rows, so nothing needs holding in memory:
    deduplication costs the same for the millionth contact, and survives resuming.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def has_number(self, e164: str) -> bool:
        return self._journal.has_taken_number(e164)

    def has_id(self, contact_id: str) -> bool:
        return self._journal.has_taken_id(contact_id)

    def take(self, e164: str, contact_id: str) -> None:
        pass  # the feeder journals the contact next


def _request_from(contact: ContactRow) -> CallRequest:
    stored = contact.request
    encryption = stored.get("encryption")
    return CallRequest(
        to_number=contact.to_number,
        metadata=stored.get("metadata") or {},
        encryption=Encryption(encryption) if encryption else None,
        variant_id=stored.get("variant_id"),
    )


def _raw(status: CallStatus) -> str:
    return status.raw_status or status.state.value
