"""The dispatcher: due contacts -> window -> admissions -> pacer slot -> intent -> place.

A few worker tasks share one queue of contacts claimed from the store (a claim makes
this worker the contact's holder: no other worker dials it). Each takes a slot of the
concurrency (calls in flight at most, freed by the follower when a call ends), then a
contact, checks its calling window on the wall clock, asks the admissions
(:mod:`._admission`: caps, deadlines, the pre-dial hook), and places its call through the
:class:`~._send_gate.SendGate`, which opens one durable intent per send. What the
placer answered is classified (:mod:`._trigger_errors`), decided (:mod:`._decisions`)
and recorded through the :class:`~._recorder.Recorder`; a placed call goes to the
follower.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable

from polyout._campaign._admission import Defer, Withdraw, admit
from polyout._campaign._breaker import CircuitBreaker
from polyout._campaign._clock import sleep_or_wake
from polyout._campaign._decisions import Refusal, not_placed_due, refusal_verdict
from polyout._campaign._errors import CampaignError, JournalError
from polyout._campaign._run_parts import RunParts
from polyout._campaign._send_gate import Abandon, SendGate, Taken, Turn
from polyout._campaign._states import ContactState
from polyout._campaign._store import DueContact, DuplicateCallSid, FollowedCall
from polyout._campaign._trigger_errors import TriggerError, Verdict, classify_trigger_error
from polyout._campaign._windows import window_opening, within_window
from polyout._errors import BadRequestError, PolyOutError
from polyout._log import logger
from polyout._models import Call, CallRequest, Encryption
from polyout._phone import mask_number

__all__ = ["Dispatcher"]

_log = logger.getChild("campaign")
_MAX_WORKERS = 64  # trigger requests in flight at once, at most
_IDLE_RECHECK = 1.0  # seconds between looks at the store while nothing is due
_SEND_CLOSED = "not placed; the client tries again"
_UNKNOWN_REASON = "the trigger was sent but its answer was lost: the call may have been placed"


class Dispatcher:
    """Dials the campaign's due contacts, as worker ``worker`` of its store."""

    def __init__(
        self,
        parts: RunParts,
        *,
        follow: Callable[[FollowedCall], None],
        input_done: Callable[[], bool],
        stopping: Callable[[], bool],
    ) -> None:
        self._recorder = parts.recorder
        self._store = parts.recorder.store
        self._placer = parts.placer
        self.worker = parts.worker
        self._config = parts.config
        self._window = parts.window
        self._clock = parts.clock
        self.pacer = parts.pacer
        self._slots = parts.slots
        self._follow = follow
        self._input_done = input_done
        self._stopping = stopping
        self._on_fatal = parts.on_fatal
        self._on_trouble = parts.on_trouble
        self._control = parts.control
        self._admissions = parts.admissions
        self.breaker = CircuitBreaker(outage_limit=parts.config.outage_limit)
        self._ready: collections.deque[DueContact] = collections.deque()
        self._fetch_lock = asyncio.Lock()
        self._turn = Turn()  # the pacer's release to the send, one at a time
        self._refused_in_a_row = 0  # triggers answered 400 since the last placement
        self._closes: set[asyncio.Future[None]] = set()  # intents being closed not placed
        self.dialling = 0  # contacts between their claim's turn and their send's record

    def worker_count(self) -> int:
        """Trigger requests in flight at once: enough for about two seconds of latency."""
        wanted = math.ceil(self._config.rate * 2) + 1
        return max(1, min(self._config.concurrency, _MAX_WORKERS, wanted))

    async def work(self) -> None:
        """One worker task: slot, contact, dial; until no work is left or the run stops."""
        while True:
            await self._slots.take(self._stopping)
            contact = await self._next_contact()
            if contact is None:
                self._slots.release()
                return
            self.dialling += 1
            try:
                placed = await self._dial(contact)
            finally:
                self.dialling -= 1
                self._recorder.changed.set()  # whoever waits may find that nothing is left
            if not placed:
                self._slots.release()

    async def intents_closed(self) -> None:
        """Wait until every close of a send that placed nothing is durable.

        After a cancellation, before ``recover``: those sends provably did not leave, and
        an intent still open then would be settled as "may have been placed". Never
        cancels the closes (``asyncio.wait``): a second cancellation leaves them running.
        """
        while pending := [closing for closing in self._closes if not closing.done()]:
            await asyncio.wait(pending)

    def forget_claims(self) -> None:
        """Drop the contacts claimed and not dialled without a word to the store: it let
        them go already (this worker recovered itself after an outage)."""
        self._ready.clear()

    async def release_unused(self) -> None:
        """Hand back the contacts claimed and not dialled (a stop, a cancellation)."""
        unused, self._ready = list(self._ready), collections.deque()
        if unused:
            await self._store.release(self.worker, [contact.seq for contact in unused])

    # -- the next contact -----------------------------------------------------------------
    async def _next_contact(self) -> DueContact | None:
        """The next due contact, waiting for it if need be; None when no work is left."""
        changed = self._recorder.changed
        async with self._fetch_lock:
            while True:
                if self._stopping():
                    return None
                if self._control.paused is not None:
                    await sleep_or_wake(self._clock, None, changed)  # until unpaused
                    continue
                now = self._clock.time()
                breaker = self.breaker
                if breaker.outage_exceeded(now):
                    self._on_fatal(
                        CampaignError(
                            f"no trigger has worked for {self._config.outage_limit:g} s "
                            f"({breaker.failures} failures in a row): the API looks down"
                        )
                    )
                    return None
                pause = breaker.wait(now)
                if pause is None or pause > 0:
                    await sleep_or_wake(self._clock, pause, changed)
                    continue
                if not self._ready:
                    claimed = await self._store.claim_due(self.worker, now, self.worker_count())
                    self._ready.extend(claimed)
                if self._ready:
                    if breaker.is_open:
                        breaker.probing = True
                    return self._ready.popleft()
                if self._nothing_left():
                    return None
                due = await self._store.next_due()
                if due is None:
                    # Waiting for calls to end, this worker's or another's: the others'
                    # moves wake nobody here, so look at the store's counts now and then.
                    await sleep_or_wake(self._clock, _IDLE_RECHECK, changed)
                    await self._recorder.reread_counts()
                    continue
                await sleep_or_wake(self._clock, due - now, changed)

    def _nothing_left(self) -> bool:
        """No contact can become due again in this run."""
        progress = self._recorder.progress
        return (
            self._input_done()
            and not progress.count(ContactState.SCHEDULED)
            and not progress.active
        )

    # -- one contact ----------------------------------------------------------------------
    async def _dial(self, contact: DueContact) -> bool:
        """Trigger one call. Returns whether it is now in flight (and holds its slot)."""
        if not within_window(self._window, contact.zones, self._clock.time()):
            await self._wait_for_window(contact)
            return False
        verdict = await admit(self._admissions, contact, self._clock.time())
        if isinstance(verdict, Defer):
            await self._recorder.waiting(self.worker, contact, verdict.until, verdict.why)
            return False
        if isinstance(verdict, Withdraw):
            await self._recorder.withdrawn(self.worker, contact, verdict.state, verdict.reason)
            return False
        gate = SendGate(
            self.pacer,
            self._turn,
            contact,
            open_intent=self._open_intent,
            may_send=self._may_send,
            close_intent=self._close_intent,
            on_rate_limited=self._recorder.rate_limited,
            closes=self._closes,
            notes=verdict.notes,
        )
        try:
            call = await self._placer.place(_request_from(contact), pacer=gate)
        except Abandon as abandoned:
            await gate.settled()
            self.breaker.on_neutral()
            if isinstance(abandoned, Taken):
                _log.info("contact #%d let go: %s", contact.seq, abandoned)
            elif gate.intent is not None:  # between two sends that placed nothing
                # Not the contact's fault: it does not count towards max_not_placed.
                await self._not_placed(contact, gate.intent, str(abandoned), None, counted=False)
            elif not self._stopping() and self._control.paused is None:
                await self._wait_for_window(contact)
            else:  # stopped or paused: judged again by whoever claims it next
                await self._store.release(self.worker, [contact.seq])
            return False
        except Exception as exc:
            if gate.intent is None:
                await gate.settled()
                raise  # nothing was stored, so nothing was sent: a bug to surface
            await self._failed(contact, gate, exc, classify_trigger_error(exc))
            return False
        assert gate.intent is not None
        return await self._placed(contact, gate.intent, call)

    async def _open_intent(self, gate: SendGate) -> None:
        """Before a send leaves: still running, still in the window, intent stored."""
        self._may_send(gate)
        after = gate.contact.intents if gate.intent is None else gate.intent
        gate.intent = await self._recorder.intent(self.worker, gate.contact, after, gate.notes)
        # Again once the intent is durable: a commit that stalled (a slow disk, a machine
        # that slept) may have outlasted the window. Nothing has left: the intent is
        # closed as not placed, and the contact waits for the next opening.
        self._may_send(gate)

    def _may_send(self, gate: SendGate) -> None:
        if self._stopping():
            raise Abandon("stopped before retrying")
        if self._control.paused is not None:
            raise Abandon(f"paused ({self._control.paused})")
        # Checked on the wall clock before every send: a client retry (up to
        # max_retry_wait later), or a machine that slept, must not ring someone after
        # their calling window has closed.
        if not within_window(self._window, gate.contact.zones, self._clock.time()):
            raise Abandon("the calling window closed")

    async def _close_intent(self, gate: SendGate) -> None:
        assert gate.intent is not None
        await self._recorder.send_closed(gate.contact, gate.intent, _SEND_CLOSED)

    async def _placed(self, contact: DueContact, intent: int, call: Call) -> bool:
        self._refused_in_a_row = 0
        now = self._clock.time()
        deadline = now + self._config.poll_deadline
        try:
            here = await self._recorder.placed(
                contact,
                intent,
                call_sid=call.call_sid,
                call_status=call.state.value,
                correlation_id=call.correlation_id,
                deadline=deadline,
            )
        except DuplicateCallSid as duplicate:
            # Recorded unknown by the store: the call may be real, but it cannot be
            # followed (its status would be the other call's). The run goes on.
            _log.warning("call to %s: %s", mask_number(contact.to_number), duplicate)
            self._recorder.unknown_by_store(contact, intent, str(duplicate))
            return False
        except JournalError as lost:
            # The call is placed and its sid could not be written: say it where an
            # operator will find it, and send nothing more.
            _log.error(
                "call to %s was placed as %s, but the store could not record it: %s",
                mask_number(contact.to_number),
                call.call_sid,
                lost,
            )
            self._on_fatal(lost)
            return False
        self.breaker.on_success()
        if not here:
            return False  # recorded across an outage: followed once the run settles
        self._follow(
            FollowedCall(
                seq=contact.seq,
                contact_id=contact.contact_id,
                intent=intent,
                attempts=contact.attempts + 1,
                call_sid=call.call_sid,
                call_status=call.state.value,
                placed_at=now,
                deadline=deadline,
                zones=contact.zones,
            )
        )
        return True

    async def _failed(
        self, contact: DueContact, gate: SendGate, exc: Exception, sorted_as: TriggerError
    ) -> None:
        """Act on a failed trigger: unknown, not placed (again later), refused, or stop.

        Decided at once, before anything is awaited: a run that must stop stops before
        another worker's send can leave. Then the store hears of it.
        """
        assert gate.intent is not None
        intent, verdict = gate.intent, sorted_as.verdict
        refusal: Refusal | None = None
        if verdict is Verdict.REFUSED:
            assert isinstance(exc, BadRequestError)
            self.breaker.on_success()  # the server is up and answering
            refusal = self._refusal(contact, exc)
        elif verdict is Verdict.STOP:
            # About the campaign, not the contact: it is dialled after the fix.
            self.breaker.on_neutral()
            self._on_trouble(_caused_by(CampaignError(sorted_as.why), exc))
        elif verdict is Verdict.NOT_PLACED and sorted_as.server_down:
            self.breaker.on_failure(self._clock.time())
        else:
            self.breaker.on_neutral()
        await gate.settled()
        if verdict is Verdict.UNKNOWN:
            masked = mask_number(contact.to_number)
            if isinstance(exc, PolyOutError):
                _log.warning("call to %s may or may not have been placed: %s", masked, exc)
            else:  # not an answer from the server: logged for whoever fixes it
                _log.exception("unexpected error triggering the call to %s", masked)
            detail = str(exc) if isinstance(exc, PolyOutError) else f"{type(exc).__name__}: {exc}"
            await self._recorder.unknown(contact, intent, _UNKNOWN_REASON, detail)
        elif verdict is Verdict.STOP:
            await self._not_placed(contact, intent, str(exc), None, counted=False)
        elif verdict is Verdict.NOT_PLACED:
            # The client's retries are spent and no call was placed.
            await self._not_placed(contact, intent, str(exc), sorted_as.retry_after)
        elif refusal is Refusal.CONTACT:
            _log.warning("call to %s refused: %s", mask_number(contact.to_number), exc)
            await self._recorder.not_placed(
                contact,
                intent,
                due=None,
                error=str(exc),
                counted=False,
                final=ContactState.INVALID,
                reason=getattr(exc, "message", None),
            )
        else:  # tried again later; never charged to the contact when the campaign is wrong
            counted = refusal is Refusal.AGAIN
            await self._not_placed(contact, intent, str(exc), None, counted=counted)

    def _refusal(self, contact: DueContact, exc: BadRequestError) -> Refusal:
        """What this 400 means; a run of them stops the campaign here and now."""
        self._refused_in_a_row += 1
        refusal = refusal_verdict(
            refused_in_a_row=self._refused_in_a_row, contact_not_placed=contact.not_placed
        )
        if refusal is Refusal.CAMPAIGN:
            error = CampaignError(
                f"the API refused {self._refused_in_a_row} triggers in a row ({exc}): "
                "check the environment and the agent's outbound set-up, then resume"
            )
            self._on_trouble(_caused_by(error, exc))
        return refusal

    async def _not_placed(
        self,
        contact: DueContact,
        intent: int,
        error: str,
        retry_after: float | None,
        *,
        counted: bool = True,
    ) -> None:
        due = not_placed_due(
            failures=contact.not_placed + 1,
            max_not_placed=self._config.max_not_placed,
            counted=counted,
            retry_after=retry_after,
            window=self._window,
            zones=contact.zones,
            now=self._clock.time(),
        )
        if due is not None:
            _log.info(
                "call to %s not placed (%s): tried again later",
                mask_number(contact.to_number),
                error,
            )
        await self._recorder.not_placed(contact, intent, due=due, error=error, counted=counted)

    async def _wait_for_window(self, contact: DueContact) -> None:
        now = self._clock.time()
        due = max(window_opening(self._window, contact.zones, now), now)
        await self._recorder.waiting(self.worker, contact, due, "the calling window is closed")


def _request_from(contact: DueContact) -> CallRequest:
    stored = contact.request
    encryption = stored.get("encryption")
    return CallRequest(
        to_number=contact.to_number,
        metadata=stored.get("metadata") or {},
        encryption=Encryption(encryption) if encryption else None,
        variant_id=stored.get("variant_id"),
    )


def _caused_by(error: CampaignError, cause: Exception) -> CampaignError:
    error.__cause__ = cause
    return error
