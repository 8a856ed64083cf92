"""The trigger gate: the campaign's pacer as ``Client.place`` sees it, with the intent step.

``place`` awaits :meth:`TriggerGate.acquire` before each send, its retries included.
Once the pacer lets the send go, the gate asks the campaign to check the calling
window on the wall clock and to commit the intent (the journal's record that this one
send may leave), so nothing is journaled while a trigger merely waits its turn.

**One intent covers one send.** When a try provably placed nothing (an error status
the docs define, or no connection), ``place`` calls :meth:`TriggerGate.on_not_placed`
before it waits to retry, and the campaign closes that try's intent at once. A
cancellation, or a kill, during a 429 wait then leaves nothing open that could read
as "may have been placed"; the next try opens a fresh intent.
"""

from __future__ import annotations

from collections.abc import Callable

from polyout._campaign._journal import ContactRow
from polyout._pacing import Pacer

__all__ = ["Abandon", "TriggerGate"]


class Abandon(Exception):
    """Raised from the gate to drop a trigger before anything is sent."""


class TriggerGate:
    """One contact's trigger, try by try.

    ``attempt`` is the journal's number of the latest intent (None before the first);
    ``intent_open`` whether that intent is still open, i.e. its send may have left.
    """

    def __init__(
        self,
        pacer: Pacer,
        contact: ContactRow,
        *,
        before_send: Callable[[TriggerGate], None],
        close_try: Callable[[TriggerGate], None],
        on_rate_limited: Callable[[float | None], None],
    ) -> None:
        self._pacer = pacer
        self.contact = contact
        self.attempt: int | None = None
        self.intent_open = False
        self._before_send = before_send
        self._close_try = close_try
        self._rate_limited = on_rate_limited

    async def acquire(self) -> None:
        await self._pacer.acquire()
        self._before_send(self)  # commits the intent: an fsync, at times slow
        self._pacer.sent_now()

    def on_rate_limited(self, retry_after: float | None) -> None:
        self._pacer.on_rate_limited(retry_after)
        self._rate_limited(retry_after)

    def on_success(self) -> None:
        self._pacer.on_success()

    def on_not_placed(self) -> None:
        if self.intent_open:
            self._close_try(self)
            self.intent_open = False

    def __repr__(self) -> str:
        state = "open" if self.intent_open else "closed"
        return f"<TriggerGate contact=#{self.contact.seq} attempt={self.attempt} {state}>"
