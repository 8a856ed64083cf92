"""Following every call of a campaign to its end, cheaply: one task, one heap.

A call in flight costs one small record in a heap keyed by when it is next due, not a
task: ten thousand calls in flight are ten thousand records and one loop. Status
requests go out under their own budget, separate from the triggers' pacer (see
``_poll_budget``: with no ``poll_rate`` it follows the work, up to a ceiling), and at
most ``parallel`` at a time, so polling can never starve triggers of requests or
connections.

Each call is polled soon after it was placed, then at an interval that starts at the
short end of ``poll_interval`` and grows towards the long end while nothing changes
(back to short when the status moves). Each wait is drawn between 80% and 100% of the
interval, so calls placed together do not poll together and the long end is the
longest a call ever waits: with the budget not exhausted, an ended call is seen within
5 s by default. A call not final by its deadline, or whose status disappears
(retention passed), ends ``expired`` with the last status seen.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
import random
from collections.abc import Awaitable, Callable

import attrs

from polyout._apis import state_from_raw
from polyout._campaign._clock import Clock, Wakeup, sleep_or_wake
from polyout._campaign._placer import Placer
from polyout._campaign._poll_budget import AutoPollBudget, poll_budget
from polyout._errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    PolyOutError,
)
from polyout._following import NOT_FOUND_GRACE
from polyout._log import logger
from polyout._models import CallState, CallStatus
from polyout._pacing import Pacer

__all__ = ["FollowedCall", "Poller"]

_log = logger.getChild("campaign")
_GROWTH = 1.5  # interval multiplier after each poll that saw no change
_JITTER = 0.2  # each wait is drawn between 80% and 100% of the interval


@attrs.define(eq=False)
class FollowedCall:
    """A placed call being followed (mutable: the poller updates it)."""

    seq: int
    contact_id: str | None
    intent: int
    """The number of the intent that placed the call (the contact's 1st, 2nd... send)."""
    placed: int
    """Calls placed for this contact so far, this one included (for the retry decision)."""
    call_sid: str
    placed_at: float
    deadline: float
    last: CallStatus | None = None
    interval: float = 0.0

    @classmethod
    def resumed(
        cls,
        *,
        seq: int,
        contact_id: str | None,
        intent: int,
        placed: int,
        call_sid: str,
        raw_status: str | None,
        placed_at: float,
        deadline: float,
    ) -> FollowedCall:
        """A call placed by an earlier run, with the last status that run recorded."""
        last = None
        if raw_status is not None:
            last = CallStatus(call_sid, state_from_raw(raw_status), raw_status=raw_status)
        return cls(seq, contact_id, intent, placed, call_sid, placed_at, deadline, last)


# A callback may be a coroutine function (the engine's recorder awaits its store): the
# poll that called it waits for it, so a call's changes are recorded in order.
StatusCallback = Callable[[FollowedCall, CallStatus], Awaitable[None] | None]
FatalCallback = Callable[[PolyOutError], None]
ErrorCallback = Callable[[FollowedCall, PolyOutError], Awaitable[None] | None]


async def _done(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result


class Poller:
    """Polls followed calls until each ends; reports changes and ends through callbacks."""

    def __init__(
        self,
        client: Placer,
        clock: Clock,
        *,
        interval: tuple[float, float],
        rate: float | None,
        parallel: int,
        triggers: Pacer | None = None,
        on_change: StatusCallback,
        on_end: StatusCallback,
        on_error: ErrorCallback,
        on_fatal: FatalCallback,
        seed: int | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._shortest, self._longest = interval
        # None: the budget follows the work (see _poll_budget); a number is strict.
        self.budget: Pacer | AutoPollBudget = poll_budget(rate, triggers=triggers)
        self._parallel = asyncio.Semaphore(parallel)
        self._on_change = on_change
        self._on_end = on_end
        self._on_error = on_error
        self._on_fatal = on_fatal
        self._random = random.Random(seed)
        self._heap: list[tuple[float, int, FollowedCall]] = []
        self._order = itertools.count()  # breaks ties without comparing calls
        self._requests: set[asyncio.Task[None]] = set()
        self._wake = Wakeup()
        self._draining = False
        self._halted = False
        self._failure: BaseException | None = None
        self.requests_sent = 0

    @property
    def following(self) -> int:
        """Calls being followed (waiting for their next poll, or being polled)."""
        return len(self._heap) + len(self._requests)

    def follow(self, call: FollowedCall) -> None:
        """Start following ``call``: its first poll comes after the shortest interval."""
        call.interval = self._shortest
        self._push(call, self._clock.time() + self._jittered(self._shortest))

    def finish_when_idle(self) -> None:
        """Let :meth:`run` return once no call is left to follow."""
        self._draining = True
        self._wake.set()

    def halt(self) -> None:
        """Make :meth:`run` return now; calls still followed stay as they are."""
        self._halted = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._halted:
                if not self._heap:
                    if self._draining and not self._requests:
                        return
                    await sleep_or_wake(self._clock, None, self._wake)
                    continue
                due = self._heap[0][0]
                now = self._clock.time()
                if due > now:
                    await sleep_or_wake(self._clock, due - now, self._wake)
                    continue
                await self._parallel.acquire()
                if self._halted or not self._heap:
                    self._parallel.release()
                    continue
                _, _, call = heapq.heappop(self._heap)
                task = asyncio.create_task(self._poll(call))
                self._requests.add(task)
                task.add_done_callback(self._request_done)
        finally:
            for task in list(self._requests):
                task.cancel()
            if self._requests:
                await asyncio.gather(*self._requests, return_exceptions=True)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        self._parallel.release()
        if not self._heap:
            # The loop waits without a timer: it may be time to finish. Otherwise it
            # wakes for the next due call (``_push`` wakes it for an earlier one) or for
            # a free request slot (the semaphore does): one wake-up per poll, not two.
            self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            # A callback failed (the journal refused a change): stop following rather
            # than carry on from a state that may be wrong.
            self._failure = task.exception()
            self.halt()

    def raise_failure(self) -> None:
        """Re-raise the error that halted the poller, if one did."""
        if self._failure is not None:
            raise self._failure

    async def _poll(self, call: FollowedCall) -> None:
        self.requests_sent += 1
        try:
            # The budget is taken per try inside, and a 429 pauses every poll at once.
            status = await self._client.get_status(call.call_sid, pacer=self.budget)
        except NotFoundError as exc:
            await self._not_found(call, exc)
            return
        except (AuthenticationError, PermissionDeniedError) as exc:
            self._on_fatal(exc)
            await self._again(call, self._longest)
            return
        except PolyOutError as exc:
            # Transient (5xx, 429, transport) once the client's own retries are spent.
            await _done(self._on_error(call, exc))
            await self._again(call, self._longest)
            return
        if status.is_final:
            await _done(self._on_end(call, status))
            return
        changed = call.last is None or (call.last.raw_status, call.last.state) != (
            status.raw_status,
            status.state,
        )
        call.last = status
        if changed:
            call.interval = self._shortest
            await _done(self._on_change(call, status))
        else:
            call.interval = min(call.interval * _GROWTH, self._longest)
        await self._again(call, call.interval)

    async def _not_found(self, call: FollowedCall, exc: NotFoundError) -> None:
        now = self._clock.time()
        if call.last is not None:
            await self._expire(call, "status is no longer available (retention passed)")
        elif now - call.placed_at < NOT_FOUND_GRACE:
            await self._again(call, self._shortest)  # a status can lag its trigger briefly
        else:
            await self._expire(call, f"status never found ({exc.message})")

    async def _again(self, call: FollowedCall, interval: float) -> None:
        now = self._clock.time()
        if now >= call.deadline:
            await self._expire(call, "not finished by the poll deadline")
            return
        self._push(call, min(now + self._jittered(interval), call.deadline))

    async def _expire(self, call: FollowedCall, why: str) -> None:
        last = call.last
        seen = f" (last status: {last.raw_status or last.state})" if last is not None else ""
        await _done(
            self._on_end(
                call,
                CallStatus(
                    call_sid=call.call_sid,
                    state=CallState.EXPIRED,
                    raw_status=last.raw_status if last is not None else None,
                    reason=why + seen,
                    correlation_id=last.correlation_id if last is not None else None,
                    last_seen=last,
                ),
            )
        )

    def _push(self, call: FollowedCall, due: float) -> None:
        heapq.heappush(self._heap, (due, next(self._order), call))
        if self._heap[0][2] is call:
            self._wake.set()  # due before whatever the loop is sleeping for

    def _jittered(self, interval: float) -> float:
        return interval * self._random.uniform(1 - _JITTER, 1.0)

    def __repr__(self) -> str:
        return (
            f"<Poller following={self.following} requests={len(self._requests)} "
            f"sent={self.requests_sent}>"
        )
