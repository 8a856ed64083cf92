"""The send gate: the campaign's pacer as ``Placer.place`` sees it, with the intent step.

``place`` awaits :meth:`SendGate.acquire` before each send, its retries included.
Around the pacer's release the gate has the dispatcher check the calling window on the
wall clock and open the intent in the store (durable: the record that this one send
may leave), and checks the window again right at the release.

**The intent commits while the send waits for its slot.** Committing only after the
release put the commit on the rate's critical path: ``Pacer.sent_now`` restarts spacing
when the send really leaves, so each period was the interval plus the commit (an fsync
through the store's writer thread: 5-20 ms under load, for a 10 ms interval). So one
gate at a time (the :class:`Turn`) commits its intent ahead, at most ``_AHEAD`` before
the release it expects, and sends at the release; a commit slower than that still
delays the send, and ``sent_now`` still keeps sends apart. Only when the release is
near: after a 429 the next release may be a long pause away, and an intent durable
through it would read as "may have been placed" after a crash. A 429 that arrives while
an intent waits therefore closes that intent (durably, not placed), and another opens
at the release. An intent whose send does not happen (the window closed at the release,
a stop, a cancellation) is closed as not placed: by the dispatcher when the gate raises
:class:`Abandon` with ``intent`` set, in a tracked task when it is cancelled.

**One intent covers one send.** When a send provably placed nothing, ``place`` calls
:meth:`SendGate.on_not_placed` (synchronously) before it waits to retry; the gate
starts closing that intent in the store at once, and the next ``acquire`` (or the
dispatcher, when ``place`` gives up) waits for the close to be durable first. A
cancellation during a 429 wait therefore leaves nothing open that could read as "may
have been placed", and two intents of one contact are never open together.

**A cancelled run closes what provably did not leave.** The client calls
``on_not_placed`` for a try cancelled before its request began to leave, and an intent
whose commit the cancellation interrupted is closed once it is durable. Each close runs
in a task of its own, kept in ``closes`` until it ends: the engine waits for them all
before ``recover``, which would otherwise read those intents as "may have been placed".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from polyout._campaign._store import DueContact
from polyout._pacing import Pacer

__all__ = ["Abandon", "SendGate", "Taken", "Turn"]

# Seconds before the expected release that an intent may be committed: longer than a
# commit on a loaded machine (p90 20 ms measured), short enough that an intent is rarely
# durable long before its send (a crash in between leaves it "unknown", never re-sent).
_AHEAD = 0.05


class Abandon(Exception):
    """Raised from the gate to drop a trigger before anything is sent."""


class Taken(Abandon):
    """The contact is no longer this worker's to dial (another worker, or a reap of this
    one, moved it): nothing is sent, and it is let go as it is."""


GateStep = Callable[["SendGate"], Awaitable[None]]


class Turn:
    """The pacer's release to the send, one gate at a time, and what the gates saw of it.

    One turn at a time: while one intent waits for its release (or commits after it),
    the next is not committed, so at most one intent is ahead of its send, and no two
    sends leave closer together than the pacer spaced them.
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last_sent = float("-inf")  # loop time of the latest send
        self.rate_limited = asyncio.Event()  # a 429 since then: the release may be far off
        self.withdraw: Callable[[], None] | None = None  # closes the intent committed ahead

    async def until_rate_limited(self) -> None:
        await self.rate_limited.wait()

    def sent(self) -> None:
        self.last_sent = asyncio.get_running_loop().time()
        self.rate_limited.clear()


class SendGate:
    """One contact's trigger, send by send.

    ``intent`` is the number of the latest intent (None before the first); ``open``
    whether its send may have left. ``open_intent`` checks and commits the intent;
    ``may_send`` (synchronous) checks again at the release; either raises
    :class:`Abandon`.
    """

    def __init__(
        self,
        pacer: Pacer,
        turn: Turn,
        contact: DueContact,
        *,
        open_intent: GateStep,
        may_send: Callable[[SendGate], None],
        close_intent: GateStep,
        on_rate_limited: Callable[[float | None], None],
        closes: set[asyncio.Future[None]],
        notes: Mapping[str, Any] | None = None,
    ) -> None:
        self._pacer = pacer
        self._turn = turn
        self.contact = contact
        self.notes: Mapping[str, Any] = notes or {}
        """Why the admissions allowed this contact: its intents' audit receipts say so."""
        self.intent: int | None = None
        self.open = False
        self._open_intent = open_intent
        self._may_send = may_send
        self._close_intent = close_intent
        self._rate_limited = on_rate_limited
        self._closing: asyncio.Future[None] | None = None
        self._closes = closes

    async def acquire(self) -> None:
        await self.settled()
        async with self._turn.lock:
            if await self._release_is_near():
                await self._open_ahead()
            else:
                await self._pacer.acquire()
                await self._open()
            self._may_send(self)  # the release may have come long after the commit
            self.open = True
            self._turn.sent()
            self._pacer.sent_now()

    def on_rate_limited(self, retry_after: float | None) -> None:
        self._pacer.on_rate_limited(retry_after)
        self._turn.rate_limited.set()
        withdraw, self._turn.withdraw = self._turn.withdraw, None
        if withdraw is not None:
            withdraw()
        self._rate_limited(retry_after)

    def on_success(self) -> None:
        self._pacer.on_success()

    def on_not_placed(self) -> None:
        self._pacer.on_not_placed()  # an answer all the same: a probe's wait ends
        if self.open:
            self.open = False
            self._closing = self._track(asyncio.ensure_future(self._close_intent(self)))

    async def _release_is_near(self) -> bool:
        """Wait until the expected release is ``_AHEAD`` away; False after a 429."""
        loop = asyncio.get_running_loop()
        early = self._turn.last_sent + self._pacer.interval - _AHEAD - loop.time()
        if early > 0 and not self._turn.rate_limited.is_set():
            rate_limited = asyncio.ensure_future(self._turn.until_rate_limited())
            try:
                await asyncio.wait({rate_limited}, timeout=early)
            finally:
                rate_limited.cancel()
        return not self._turn.rate_limited.is_set()

    async def _open_ahead(self) -> None:
        before = self.intent
        opening = asyncio.ensure_future(self._open_intent(self))  # a durable commit
        withdrawn: list[asyncio.Future[None]] = []

        def withdraw() -> None:
            # A 429 meanwhile: a pause may now lie between this intent and its send.
            # Close it (durably, not placed) rather than keep it open through the pause.
            withdrawn.append(self._close_when_committed(opening, before))

        self._turn.withdraw = withdraw
        try:
            # Awaited here, not in a task of its own: the send leaves one loop turn after
            # the release, as a Client's does.
            await self._pacer.acquire()
        except asyncio.CancelledError:
            if not withdrawn:
                self._close_when_committed(opening, before)
            raise
        finally:
            self._turn.withdraw = None
        if withdrawn:
            await asyncio.shield(withdrawn[0])
            await self._open()  # after the release, as after a 429
            return
        await self._committed(opening, before)

    async def _open(self) -> None:
        before = self.intent
        await self._committed(asyncio.ensure_future(self._open_intent(self)), before)

    async def _committed(self, opening: asyncio.Future[None], before: int | None) -> None:
        try:
            await asyncio.shield(opening)
        except asyncio.CancelledError:
            self._close_when_committed(opening, before)  # nothing will be sent
            raise

    def _close_when_committed(
        self, opening: asyncio.Future[None], before: int | None
    ) -> asyncio.Future[None]:
        return self._track(asyncio.ensure_future(self._close_once_open(opening, before)))

    async def _close_once_open(self, opening: asyncio.Future[None], before: int | None) -> None:
        with contextlib.suppress(Exception):  # Abandon, or no intent was stored
            await opening
        if self.intent != before:  # stored (a window check may have raised after)
            await self._close_intent(self)

    def _track(self, closing: asyncio.Future[None]) -> asyncio.Future[None]:
        self._closes.add(closing)
        closing.add_done_callback(_forget_from(self._closes))
        return closing

    async def settled(self) -> None:
        """Wait until the latest send's intent is closed in the store, if it is closing.

        Shielded: a cancelled run still finishes the close it started, so a caller
        cancelled here leaves the intent closed rather than open.
        """
        closing, self._closing = self._closing, None
        if closing is not None:
            await asyncio.shield(closing)

    def __repr__(self) -> str:
        state = "open" if self.open else "closed"
        return f"<SendGate contact=#{self.contact.seq} intent={self.intent} {state}>"


def _forget_from(closes: set[asyncio.Future[None]]) -> Callable[[asyncio.Future[None]], None]:
    def forget(closing: asyncio.Future[None]) -> None:
        closes.discard(closing)
        if not closing.cancelled():
            # Retrieved here so that a close nobody awaits (a cancelled run) is not
            # reported as lost; recover settles that intent the safe way.
            closing.exception()

    return forget
