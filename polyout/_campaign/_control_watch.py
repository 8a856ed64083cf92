"""The engine's side of live control: every worker obeys the campaign's commanded phase.

A :class:`ControlWatch` runs beside each run (a companion) and reads the store's control
state every :data:`POLL_SECONDS` (one small read). When its ``revision`` moves:

* ``paused``: the run pauses (no trigger leaves after that; one waiting for its pacer
  slot is abandoned and its contact released); calls in flight are still followed and
  recorded; the workers wait. So a pause is obeyed within a poll of the command.
* ``running``: a pause it had set is lifted.
* ``cancelling``: the run pauses while the sends queued for the pacer reach it (each is
  abandoned, its contact released, never sent), every contact no worker holds is
  cancelled (``cancel_pending``), and
  the :class:`ControlAdmission` withdraws the ones this worker holds as it reaches them,
  never dialling them; calls in flight are followed to their end, and the run ends by
  itself when nothing is left. The first worker to see nothing left marks it ``done``.
* the do-not-call list grew: the new numbers' unheld contacts are withdrawn
  (``suppress``), and the admission withdraws held ones before their next dial.
* contacts were added, or a retry round scheduled some: the run re-reads its counts and
  looks for due contacts again (no restart).

Across a crash the phase is in the store: a worker (re)started on a paused campaign
reads it before its first dial (the admission waits for the first read) and waits, paused,
until ``resume``. The watch also writes the run's own lines of the campaign log:
``run_started``, ``run_ended`` and ``rate_limited`` (the 429s seen since its last poll,
one line per poll at most).
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from polyout._campaign._admission import Allow, Defer, Verdict, Withdraw
from polyout._campaign._companions import EngineHandle
from polyout._campaign._states import ACTIVE, ContactState
from polyout._campaign._store import DueContact
from polyout._campaign._store_control import CampaignPhase, Command, ControlState
from polyout._log import logger

__all__ = ["POLL_SECONDS", "ControlAdmission", "ControlWatch"]

_log = logger.getChild("campaign")
S = ContactState
P = CampaignPhase

#: How often a worker reads the commanded phase: a command is obeyed within this (plus
#: a store read), well inside the promised second.
POLL_SECONDS = 0.4
CANCEL_REASON = "cancelled by the operator"
SUPPRESS_REASON = "on the do-not-call list (added while the campaign ran)"


class ControlWatch:
    """The companion that makes a run obey the store's control state."""

    name = "control"
    vital = True  # a worker that cannot hear a pause must not go on dialling

    def __init__(self) -> None:
        self.state: ControlState | None = None
        """The control state as last read (None before the first read)."""
        self.suppressed: frozenset[str] = frozenset()
        self._read = asyncio.Event()
        self._paused_by_us = False
        self._rate_limited = 0
        self._hold_until = 0.0
        self.admission = ControlAdmission(self)

    async def first_read(self) -> None:
        await self._read.wait()

    async def run(self, engine: EngineHandle) -> None:
        store, clock = engine.store, engine.clock
        self.suppressed = (await store.definition()).suppressed
        await store.log_campaign_event("run_started", by=engine.worker, now=clock.time())
        try:
            while True:
                await self.poll(engine)
                await clock.sleep(POLL_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                if self.state is not None and self.state.phase is P.CANCELLING:
                    await self._finish_cancel(engine)  # the last calls ended the run
                await store.log_campaign_event("run_ended", by=engine.worker, now=clock.time())

    async def poll(self, engine: EngineHandle) -> None:
        """One look at the store's control state, acted on."""
        store = engine.store
        state = await store.control()
        previous, self.state = self.state, state
        if previous is None or state.revision != previous.revision:
            await self._obey(engine, state, first=previous is None)
        elif state.phase in (P.CANCELLING, P.DONE):
            await self._cancel_step(engine)  # from the poll after the one that saw it
        self._read.set()
        await self._note_rate_limits(engine)

    async def _obey(self, engine: EngineHandle, state: ControlState, *, first: bool) -> None:
        now = engine.clock.time()
        if state.phase is P.PAUSED:
            by = f" by {state.by}" if state.by else ""
            engine.pause(f"{state.reason or 'paused'} (paused{by})")
            self._paused_by_us = True
        elif self._paused_by_us and engine.paused is not None:
            engine.unpause()
            self._paused_by_us = False
        if state.phase in (P.CANCELLING, P.DONE):
            # Paused for one poll: a send already past the admission, waiting for its
            # pacer slot, is abandoned and its contact released, to be cancelled below;
            # then the run goes on, and the admission withdraws what it still holds.
            engine.pause(f"cancelling: {state.reason or CANCEL_REASON}")
            self._paused_by_us = True
            self._hold_until = now + _drain_seconds(engine)
            await engine.store.cancel_pending(state.reason or CANCEL_REASON, now)
        suppressed = (await engine.store.definition()).suppressed
        new = suppressed - self.suppressed
        self.suppressed = suppressed
        if new and not first:
            await engine.store.suppress(new, now)
        await _refresh(engine)

    async def _cancel_step(self, engine: EngineHandle) -> None:
        """While cancelling: what workers released meanwhile is cancelled too, and once
        nothing is left (no contact scheduled or under way) the cancel is done."""
        store, now = engine.store, engine.clock.time()
        state = self.state
        assert state is not None
        if await store.cancel_pending(state.reason or CANCEL_REASON, now):
            await _refresh(engine)
        if self._paused_by_us and engine.paused is not None and now >= self._hold_until:
            engine.unpause()
            self._paused_by_us = False
        if state.phase is P.CANCELLING:
            await self._finish_cancel(engine)

    async def _finish_cancel(self, engine: EngineHandle) -> None:
        store = engine.store
        counts = await store.counts()
        if not any(counts.get(state) for state in (S.SCHEDULED, *ACTIVE)):
            asked = self.state
            reason, by = (asked.reason, asked.by) if asked is not None else (None, None)
            self.state = await store.command(  # still the cancel's reason and author
                Command.FINISH, reason=reason, by=by or engine.worker, now=engine.clock.time()
            )
            _log.info("campaign cancelled: no contact is left to dial or to follow")

    async def _note_rate_limits(self, engine: EngineHandle) -> None:
        seen = engine.stats().rate_limited
        if seen > self._rate_limited:
            await engine.store.log_campaign_event(
                "rate_limited",
                detail=f"{seen - self._rate_limited}",
                by=engine.worker,
                now=engine.clock.time(),
            )
        self._rate_limited = seen


class ControlAdmission:
    """The check before each intent that the commanded phase allows this dial.

    It waits for the watch's first read (a worker started on a paused campaign never
    dials before it knows), withdraws a contact while the campaign is cancelling, or
    when its number joined the do-not-call list, and hands a contact back (due now) if
    the run was paused meanwhile.
    """

    name = "control"

    def __init__(self, watch: ControlWatch) -> None:
        self._watch = watch

    async def admit(self, contact: DueContact, now: float) -> Verdict:
        watch = self._watch
        await watch.first_read()
        state = watch.state
        assert state is not None
        if state.phase in (P.CANCELLING, P.DONE):
            return Withdraw(S.CANCELLED, state.reason or CANCEL_REASON)
        if contact.to_number in watch.suppressed:
            return Withdraw(S.SUPPRESSED, SUPPRESS_REASON)
        if state.phase is P.PAUSED:
            return Defer(now, "paused")
        return Allow()


def _drain_seconds(engine: EngineHandle) -> float:
    """How long the sends queued for the pacer take to reach it (each, paused, is then
    abandoned): the dispatcher queues about two seconds of sends, ``2 * rate + 1``."""
    rate = max(engine.pacer.rate, 0.01)
    queued = min(engine.config.concurrency, math.ceil(2 * rate) + 1)
    return queued / rate + POLL_SECONDS


async def _refresh(engine: EngineHandle) -> None:
    """The run's counts again (contacts changed under it), and a look for due ones."""
    await engine.refresh()
