"""The recorder: the one funnel through which every transition of a contact goes.

Each method makes one transition happen everywhere at once, in this order: the store
(the truth, compare-and-set), then the counters :class:`~polyout.CampaignStats` shows,
then the event, then a wake-up for whoever waits on the campaign's progress. Before
this funnel, each state change was written out in three or four places by hand, and
one of them was sooner or later forgotten.

A store write that raises changes nothing (clause 5), so nothing else changes either:
the counters and the events only ever describe what the store holds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from polyout._campaign._clock import Clock, Wakeup, utc_datetime
from polyout._campaign._errors import CampaignError, JournalError, StoreUnavailable
from polyout._campaign._events import CampaignEvent, EventBus, EventKind, RateMeter
from polyout._campaign._policy_admission import intent_policy
from polyout._campaign._send_gate import _AHEAD, Abandon, Taken
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    ContactEntry,
    DueContact,
    DuplicateCallSid,
    FeedPosition,
    FollowedCall,
    StaleTransition,
    StoredCampaign,
)
from polyout._campaign._store_outage import StoreOutage
from polyout._campaign._store_policy import CapReached
from polyout._log import logger
from polyout._phone import mask_number

__all__ = ["Progress", "Recorder"]

_log = logger.getChild("campaign")
S = ContactState


class Progress:
    """The run's counters: contacts per state, and what this run did."""

    def __init__(self, states: dict[ContactState, int], total: int) -> None:
        self.states = states
        self.total = total
        self.triggers = 0
        self.placed = 0
        self.retries = 0
        self.not_placed = 0
        self.rate_limited = 0
        self.trigger_meter = RateMeter()

    def move(self, old: ContactState | None, new: ContactState) -> None:
        if old is not None:
            # A worker's view: another worker may have stored the contact since this one
            # last read the counts (a feed it follows), so a count never goes below zero.
            left = self.states.get(old, 0) - 1
            if left > 0:
                self.states[old] = left
            else:
                self.states.pop(old, None)
        self.states[new] = self.states.get(new, 0) + 1

    def count(self, state: ContactState) -> int:
        return self.states.get(state, 0)

    @property
    def active(self) -> int:
        return self.count(S.DIALING) + self.count(S.IN_FLIGHT)


class Recorder:
    """Store, counters, events and wake-ups for one campaign, together."""

    def __init__(
        self,
        store: StoredCampaign,
        clock: Clock,
        bus: EventBus,
        progress: Progress,
        *,
        outage: StoreOutage | None = None,
    ) -> None:
        self.outage = outage
        """Set when ``store`` rides out outages (``_store_outage.steady``)."""
        self.store = store
        self._clock = clock
        self._bus = bus
        self.progress = progress
        #: Set on every transition that may give a waiting dispatcher work (or none left).
        self.changed = Wakeup()  # waited on by every dispatcher worker: a cheap wait
        #: Calls placed whose sid the store could not keep, as the run's error says them.
        self.unrecorded: list[str] = []

    def now(self) -> float:
        return self._clock.time()

    def naming_unrecorded(self, error: CampaignError) -> CampaignError:
        """``error``, or one of its kind that also names every call placed whose sid the
        store could not keep: whichever part met the store's failure first, the error the
        run ends with leaves no such call in silence."""
        missing = [call for call in self.unrecorded if call not in str(error)]
        if not missing:
            return error
        kind = next(
            k for k in (StoreUnavailable, JournalError, CampaignError) if isinstance(error, k)
        )
        return kind("; ".join([str(error), *missing]))

    async def reread_counts(self) -> None:
        """Take the counts per state from the store: others (another worker, a command,
        a recovery) moved contacts this run did not. Exact beside this run's own moves:
        the store answers in order, and each move is counted as soon as its write returns."""
        self.progress.states = await self.store.counts()

    def emit(self, kind: EventKind, **fields: Any) -> None:
        if self._bus.wanted:
            self._bus.emit(CampaignEvent(kind, utc_datetime(self._clock.time()), **fields))

    # -- feeding --------------------------------------------------------------------------
    async def appended(self, entries: list[ContactEntry], position: FeedPosition) -> None:
        """Entries stored with the feed position after them (``store.append``)."""
        now = self.now()
        await self.store.append(entries, position, now=now)
        progress = self.progress
        progress.total = position.count
        for entry in entries:
            progress.move(None, entry.state)
            if entry.state is not S.SCHEDULED:
                self.emit(
                    EventKind.EXCLUDED,
                    contact_id=entry.contact_id,
                    position=entry.seq,
                    state=entry.state.value,
                    reason=entry.reason,
                )
            elif entry.due is not None and entry.due > now:
                self.emit(
                    EventKind.WAITING,
                    contact_id=entry.contact_id,
                    position=entry.seq,
                    due=utc_datetime(entry.due),
                )
        self.changed.set()

    # -- dispatch -------------------------------------------------------------------------
    async def waiting(self, worker: str, contact: DueContact, due: float, why: str) -> None:
        """A claimed contact waits for ``due`` (its calling window is closed)."""
        await self.store.reschedule(worker, contact.seq, due, why=why, now=self.now())
        self.emit(
            EventKind.WAITING,
            contact_id=contact.contact_id,
            position=contact.seq,
            due=utc_datetime(due),
        )
        self.changed.set()

    async def withdrawn(
        self, worker: str, contact: DueContact, state: ContactState, reason: str
    ) -> None:
        """A claimed contact ends ``state`` without a dial (an admission said never)."""
        await self.store.withdraw(worker, contact.seq, state=state, reason=reason, now=self.now())
        self.progress.move(S.SCHEDULED, state)
        self._finished(contact.contact_id, contact.seq, None, state, reason, None)

    async def intent(
        self, worker: str, contact: DueContact, after: int, notes: Mapping[str, Any] | None = None
    ) -> int:
        """The intent for one send, durable; the first moves the contact to ``dialing``.

        ``notes`` (the admissions'): the caps the store checks with the intent and the
        receipt it seals. A cap another worker's dial filled meanwhile hands the contact
        back (:class:`Abandon`): the policy admission judges it again, with the reason.
        """
        policy, now = intent_policy(notes), self.now()
        until = policy.allowed_until if policy is not None else None
        if until is not None and now + _AHEAD >= until:
            # The send leaves up to _AHEAD after its intent: never past what the rules allow.
            raise Abandon("the contact policy's allowed time ended while the send waited")
        # Without a policy, the contract's plain call (stores and doubles of old take it).
        extra = {"policy": policy} if policy is not None else {}
        try:
            intent = await self.store.open_intent(
                worker, contact.seq, after=after, now=now, **extra
            )
        except CapReached as reached:
            raise Abandon(f"the frequency cap was reached meanwhile ({reached.cap.rule})") from None
        except StaleTransition as moved:
            raise Taken(f"contact #{contact.seq} moved meanwhile ({moved})") from None
        if after == contact.intents:
            self.progress.move(S.SCHEDULED, S.DIALING)
        self.progress.triggers += 1
        self.progress.trigger_meter.mark(time.monotonic())
        self.emit(
            EventKind.DIALING, contact_id=contact.contact_id, position=contact.seq, intent=intent
        )
        return intent

    async def send_closed(self, contact: DueContact, intent: int, error: str) -> None:
        """The send of ``intent`` provably placed nothing (durable; still ``dialing``)."""
        await self.store.close_intent(contact.seq, intent, error=error, now=self.now())

    async def placed(
        self,
        contact: DueContact,
        intent: int,
        *,
        call_sid: str,
        call_status: str,
        correlation_id: str | None,
        deadline: float,
    ) -> bool:
        """The call's sid, durable. False when the write crossed an outage of the store:
        the call is then followed once the run settles itself (it may have become
        another worker's meanwhile), not here."""
        now = self.now()
        losses = self.outage.losses if self.outage is not None else 0
        try:
            await self.store.record_placement(
                contact.seq,
                intent,
                call_sid=call_sid,
                call_status=call_status,
                correlation_id=correlation_id,
                deadline=deadline,
                now=now,
            )
        except DuplicateCallSid:
            raise
        except StaleTransition as moved:
            # Learned after a reap, and another decision stands (an operator's requeue,
            # another worker's): the call is real, so say where an operator will look.
            _log.error(
                "call to %s was placed as %s, and the store keeps another decision: %s",
                mask_number(contact.to_number),
                call_sid,
                moved,
            )
            return False
        except JournalError as exc:
            # The call exists but the store could not keep its sid (a full disk): the
            # error that stops the run names it, so it is never lost in silence.
            masked = mask_number(contact.to_number)
            self.unrecorded.append(f"call {call_sid} to {masked} was placed and is not recorded")
            raise self.naming_unrecorded(exc) from exc
        self.progress.move(S.DIALING, S.IN_FLIGHT)
        self.progress.placed += 1
        self.emit(
            EventKind.PLACED,
            contact_id=contact.contact_id,
            position=contact.seq,
            intent=intent,
            call_sid=call_sid,
            state=call_status,
        )
        return self.outage is None or self.outage.losses == losses

    def unknown_by_store(self, contact: DueContact, intent: int, reason: str) -> None:
        """The store itself made the contact ``unknown`` (a duplicate call sid)."""
        self.progress.move(S.DIALING, S.UNKNOWN)
        self._finished(contact.contact_id, contact.seq, intent, S.UNKNOWN, reason, reason)

    async def unknown(self, contact: DueContact, intent: int, reason: str, error: str) -> None:
        await self.store.record_unknown(
            contact.seq, intent, reason=reason, error=error, now=self.now()
        )
        self.progress.move(S.DIALING, S.UNKNOWN)
        self._finished(contact.contact_id, contact.seq, intent, S.UNKNOWN, reason, error)

    async def not_placed(
        self,
        contact: DueContact,
        intent: int,
        *,
        due: float | None,
        error: str,
        counted: bool,
        final: ContactState = S.FAILURE,
        reason: str | None = None,
    ) -> None:
        """After sends that placed nothing: ``scheduled`` at ``due``, else ``final``."""
        state = S.SCHEDULED if due is not None else final
        await self.store.record_not_placed(
            contact.seq, intent, state=state, due=due, reason=reason, error=error, now=self.now()
        )
        self.progress.move(S.DIALING, state)
        if counted:
            self.progress.not_placed += 1
        if due is None:
            self._finished(contact.contact_id, contact.seq, intent, state, reason, error)
        else:
            self.emit(
                EventKind.NOT_PLACED,
                contact_id=contact.contact_id,
                position=contact.seq,
                intent=intent,
                error=error,
                due=utc_datetime(due),
            )
        self.changed.set()

    def rate_limited(self, retry_after: float | None) -> None:
        self.progress.rate_limited += 1
        pause = f"{retry_after:g} s" if retry_after is not None else "a moment"
        _log.warning("rate limited (429): every trigger pauses for %s and slows down", pause)
        self.emit(EventKind.RATE_LIMITED, reason=f"Retry-After {pause}")

    # -- following ------------------------------------------------------------------------
    async def status(self, call: FollowedCall, status: str, state: str) -> None:
        try:
            await self.store.record_status(call.seq, call.intent, status, self.now())
        except StaleTransition:
            return  # another worker follows it now: its end is theirs to record
        self.emit(
            EventKind.STATUS,
            contact_id=call.contact_id,
            position=call.seq,
            intent=call.intent,
            call_sid=call.call_sid,
            state=state,
        )

    async def poll_error(self, call: FollowedCall, error: str) -> None:
        with contextlib.suppress(StaleTransition):  # another worker's call now
            await self.store.record_poll_error(call.seq, call.intent, error=error, now=self.now())

    async def outcome(
        self,
        call: FollowedCall,
        outcome: ContactState,
        *,
        retry_due: float | None,
        reason: str | None,
        call_status: str | None,
    ) -> None:
        try:
            await self.store.record_outcome(
                call.seq,
                call.intent,
                outcome=outcome,
                retry_due=retry_due,
                reason=reason,
                now=self.now(),
                call_status=call_status,
            )
        except StaleTransition as moved:
            # Two workers followed the call across a reap: the other recorded its end.
            _log.info("call %s: its end is recorded already (%s)", call.call_sid, moved)
            await self.reread_counts()
            self.changed.set()
            return
        self.progress.move(S.IN_FLIGHT, outcome if retry_due is None else S.SCHEDULED)
        if retry_due is not None:
            self.progress.retries += 1
        self.emit(
            EventKind.FINISHED if retry_due is None else EventKind.RETRY,
            contact_id=call.contact_id,
            position=call.seq,
            intent=call.intent,
            call_sid=call.call_sid,
            state=outcome.value,
            reason=reason,
            due=None if retry_due is None else utc_datetime(retry_due),
        )
        self.changed.set()

    def _finished(
        self,
        contact_id: str | None,
        seq: int,
        intent: int | None,
        state: ContactState,
        reason: str | None,
        error: str | None,
    ) -> None:
        self.emit(
            EventKind.FINISHED,
            contact_id=contact_id,
            position=seq,
            intent=intent,
            state=state.value,
            reason=reason,
            error=error,
        )
        self.changed.set()
