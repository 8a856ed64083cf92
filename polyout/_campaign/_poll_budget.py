"""How many status polls may go out: the work's own pace, capped, backing off on 429.

With no ``poll_rate`` set, the budget follows the work. The poller already asks for
exactly the polls its calls are due, each call at its own interval (2 s growing to
5 s), so N calls in flight ask for about N / 5 to N / 2 polls a second. The budget
lets that through up to :data:`POLL_RATE_CEILING` and only caps it there: 10,000 calls
in flight at the 2 s interval. Above the ceiling polls wait their turn and calls are
seen to end later; below it, nothing waits.

Why a bucket (``aiolimiter``) here and a strict pacer for triggers: the ceiling is
ours, not the account's, so a short burst over it does no harm, and a bucket wakes
once per refill instead of once per request (thousands of timers a second otherwise).
An explicit ``poll_rate`` is different: it is the account's known status limit,
counted by a sliding window like the trigger limit, so it gets the strict
:class:`~polyout.campaign.Pacer` (no burst, never ``rate + 1`` inside one second).

Backing off, together: a 429 on any poll pauses every poll for its Retry-After and
halves the budget (once per pause); each second without a 429 wins back a quarter.
A halved budget makes every poll cost twice as much of the bucket, so the bucket
itself never changes under its waiters.

Triggers are never starved. They share the client's connections with polls, and the
account's limits may count both: the poller runs at most ``parallel`` polls at a time,
which the campaign sizes to leave the trigger workers their connections, and a 429 on
a trigger (the ``triggers`` pacer counting one more) halves this budget too, since the
server may be counting polls against the same limit. Polls then wait, which only delays
when an ended call is seen; a trigger never waits for a poll.
"""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

from polyout._pacing import Pacer

__all__ = ["POLL_RATE_CEILING", "AutoPollBudget", "poll_budget"]

#: Status polls per second at most, when no ``poll_rate`` is set: every call of 10,000
#: in flight polled at the shortest interval (2 s). Measured on loopback, a poll costs
#: the client about 0.1-0.2 ms of CPU, so the ceiling is also about one core's worth.
POLL_RATE_CEILING = 5000.0

_BURST = 0.05  # seconds of the ceiling that may leave at once (more than any `parallel`)
_FLOOR = 1 / 64  # the budget never backs off below this fraction of the ceiling
_RECOVERY = 1.25  # multiplier won back per second without a 429
_RECOVERY_PERIOD = 1.0  # seconds between two steps of recovery
_MIN_WAKE = 0.001  # seconds: the bucket never sets its wake-up closer than this


class _Bucket(AsyncLimiter):
    """aiolimiter's leaky bucket, whose wake-up is never less than 1 ms away.

    The bucket wakes its first waiter at ``last_check + needed / rate``. When ``needed`` is
    a rounding error (a few units in the last place of the level), that sum rounds back
    to ``last_check``: the timer fires at the same instant, nothing has leaked, and it
    sets itself again, for ever. On a real loop time moves on and ends it after a few
    spins; on a virtual clock (``polyout.testing.VirtualClock``), which moves only when
    nothing is due, it never ends. A millisecond later, the capacity is there.
    """

    def _wake_next(self, *args: object) -> None:
        super()._wake_next(*args)
        handle = self._waker_handle
        if handle is not None:
            loop = self._loop
            soonest = loop.time() + _MIN_WAKE
            if handle.when() < soonest:
                handle.cancel()
                self._waker_handle = loop.call_at(soonest, self._wake_next)


class AutoPollBudget:
    """Up to ``ceiling`` polls per second, halved on 429 (polls' or triggers'), recovering."""

    def __init__(self, ceiling: float = POLL_RATE_CEILING, *, triggers: Pacer | None = None):
        if not ceiling > 0:
            raise ValueError("ceiling must be positive")
        self.ceiling = float(ceiling)
        self.rate = self.ceiling
        self.rate_limited = 0  #: how many 429s polls met
        capacity = max(1.0, self.ceiling * _BURST)
        self._bucket = _Bucket(capacity, capacity / self.ceiling)
        self._paused_until = float("-inf")
        self._last_decrease = float("-inf")
        self._last_change = float("-inf")
        self._triggers = triggers
        self._triggers_limited = triggers.rate_limited if triggers is not None else 0

    def __repr__(self) -> str:
        return (
            f"<AutoPollBudget rate={self.rate:g}/s ceiling={self.ceiling:g}/s "
            f"rate_limited={self.rate_limited}>"
        )

    async def acquire(self) -> None:
        """Wait for a poll's turn: after any pause, at the budget's current rate."""
        loop = asyncio.get_running_loop()
        self._follow_triggers(loop.time())
        # The pause ends at a time, not on an event; a 429 met meanwhile may extend it.
        while (pause := self._paused_until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(pause)
        # A budget at half the ceiling makes each poll take two units of the bucket.
        cost = min(self.ceiling / self.rate, self._bucket.max_rate)
        await self._bucket.acquire(cost)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A poll met a 429: every poll pauses for ``retry_after``, and the budget halves."""
        now = asyncio.get_running_loop().time()
        self.rate_limited += 1
        pause = retry_after if retry_after is not None else 1.0
        self._paused_until = max(self._paused_until, now + pause)
        # One burst of 429s (the polls that were already on their way) is one signal.
        self._slow_down(now, within=pause)

    def on_success(self) -> None:
        if self.rate < self.ceiling:
            now = asyncio.get_running_loop().time()
            if now - self._last_change >= _RECOVERY_PERIOD:
                self.rate = min(self.ceiling, self.rate * _RECOVERY)
                self._last_change = now

    def on_not_placed(self) -> None:
        """Only triggers place calls: nothing to do for a poll."""

    def _follow_triggers(self, now: float) -> None:
        if self._triggers is not None and self._triggers.rate_limited > self._triggers_limited:
            self._triggers_limited = self._triggers.rate_limited
            self._slow_down(now, within=_RECOVERY_PERIOD)

    def _slow_down(self, now: float, *, within: float) -> None:
        if now - self._last_decrease >= within:
            self.rate = max(self.ceiling * _FLOOR, self.rate / 2)
            self._last_decrease = self._last_change = now


def poll_budget(rate: float | None, *, triggers: Pacer | None = None) -> Pacer | AutoPollBudget:
    """The budget for ``poll_rate``: strict at an explicit rate, else following the work."""
    if rate is not None:
        return Pacer(rate)
    return AutoPollBudget(triggers=triggers)
