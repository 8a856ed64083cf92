"""The send gate: the campaign's pacer as ``Placer.place`` sees it, with the intent step.

``place`` awaits :meth:`SendGate.acquire` before each send, its retries included.
Once the pacer lets the send go, the gate has the dispatcher check the calling window
on the wall clock and open the intent in the store (durable: the record that this one
send may leave), so nothing is stored while a trigger merely waits its turn.

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
from collections.abc import Awaitable, Callable

from polyout._campaign._store import DueContact
from polyout._pacing import Pacer

__all__ = ["Abandon", "SendGate"]


class Abandon(Exception):
    """Raised from the gate to drop a trigger before anything is sent."""


GateStep = Callable[["SendGate"], Awaitable[None]]


class SendGate:
    """One contact's trigger, send by send.

    ``intent`` is the number of the latest intent (None before the first); ``open``
    whether its send may have left.
    """

    def __init__(
        self,
        pacer: Pacer,
        turn: asyncio.Lock,
        contact: DueContact,
        *,
        open_intent: GateStep,
        close_intent: GateStep,
        on_rate_limited: Callable[[float | None], None],
        closes: set[asyncio.Future[None]],
    ) -> None:
        self._pacer = pacer
        self._turn = turn
        self.contact = contact
        self.intent: int | None = None
        self.open = False
        self._open_intent = open_intent
        self._close_intent = close_intent
        self._rate_limited = on_rate_limited
        self._closing: asyncio.Future[None] | None = None
        self._closes = closes

    async def acquire(self) -> None:
        await self.settled()
        # One turn at a time from the pacer's release to the send: while one intent is
        # being committed (a few ms, at times more), the next send is not released, or
        # two sends could leave closer together than the pacer spaced them.
        async with self._turn:
            await self._pacer.acquire()
            before = self.intent
            opening = asyncio.ensure_future(self._open_intent(self))  # a durable commit
            try:
                await asyncio.shield(opening)
            except asyncio.CancelledError:
                # Nothing will be sent: if the intent commits, it is closed not placed.
                self._track(asyncio.ensure_future(self._close_once_open(opening, before)))
                raise
            self.open = True
            self._pacer.sent_now()

    def on_rate_limited(self, retry_after: float | None) -> None:
        self._pacer.on_rate_limited(retry_after)
        self._rate_limited(retry_after)

    def on_success(self) -> None:
        self._pacer.on_success()

    def on_not_placed(self) -> None:
        if self.open:
            self.open = False
            self._closing = self._track(asyncio.ensure_future(self._close_intent(self)))

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
