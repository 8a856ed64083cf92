"""The campaign's clock: wall time for calling windows and the journal, sleeps for scheduling.

Every delay a campaign schedules (poll intervals, retry delays, poll deadlines, waits
for a calling window to open, the stop grace) is in *clock seconds*, read from one
injectable clock: the wall clock, read at each decision (not a monotonic clock
anchored once, which stops while a machine sleeps). Request rates are not: they are
about what the server counts, so the pacers run on the event loop's real time
whatever the clock says.

``ScaledClock`` runs faster than real time from a chosen instant, so a test can
start a campaign at 01:30 on the night a time zone changes to summer time and
watch it wait for a window hours away in a fraction of a second.

The engine waits constantly (the poller between status reads, each dispatcher worker
between triggers), so a wait must be cheap: :func:`sleep_or_wake` on a :class:`Wakeup`
and a clock with a ``timer`` is one future and one loop timer, not two tasks and an
``asyncio.wait``. Any other clock or event takes the general path, with tasks.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "MAX_DELAY",
    "Clock",
    "ScaledClock",
    "SystemClock",
    "Timer",
    "Wakeup",
    "bounded_delay",
    "sleep_or_wake",
    "utc_datetime",
]


#: The longest any delay may be (a year): a delay from a setting, a server's Retry-After
#: or a computation is bounded by it, so every due time stays a date (1e12 seconds, or
#: infinity, once crashed runs with "year out of range").
MAX_DELAY = 366 * 86400.0
#: A long wait wakes at least this often (real seconds) to read the wall clock again: a
#: machine that slept, or a clock that NTP stepped, is noticed within this much.
RECHECK_INTERVAL = 5.0


def bounded_delay(seconds: float) -> float:
    """``seconds`` within [0, MAX_DELAY]; NaN, which compares with nothing, is the maximum."""
    if not seconds >= 0:
        return 0.0 if seconds < 0 else MAX_DELAY
    return min(seconds, MAX_DELAY)


@runtime_checkable
class Clock(Protocol):
    """What a campaign needs to know about time."""

    def time(self) -> float:
        """POSIX seconds (UTC) now: read at the moment of each decision, never cached.

        It may step (NTP, a machine waking from sleep): callers compare it with due
        times and calling windows, never subtract two readings to measure a duration.
        """
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    # A clock may also offer ``timer(seconds, callback) -> Timer``: call ``callback``
    # from the running loop once ``seconds`` of its time have passed, exactly when
    # ``sleep(seconds)`` would return. Optional: a clock without it is waited on with
    # a task running its ``sleep``.


class Timer(Protocol):
    """A pending clock timer (``asyncio.TimerHandle`` is one)."""

    def cancel(self) -> None: ...

    def cancelled(self) -> bool: ...


class SystemClock:
    """The wall clock, read afresh at every question.

    Calling windows, deadlines and due times are moments on the wall clock, so that is
    the clock a campaign asks. The monotonic clock stops while a machine is suspended
    and never sees an NTP correction: a campaign anchored on it once dialled at 3 am
    after a laptop slept through the evening. A sleep ends when the wall clock reaches
    its end, and wakes every ``recheck`` real seconds to look, so a long sleep across a
    suspend or a step is cut short instead of over-running.
    """

    def __init__(self, *, recheck: float = RECHECK_INTERVAL) -> None:
        if not recheck > 0:
            raise ValueError(f"recheck must be > 0, got {recheck!r}")
        self.recheck = recheck

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        end = time.time() + bounded_delay(seconds)
        # Polling on purpose: the wall clock can jump, and no event tells us when.
        while (left := end - time.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, self.recheck))

    def timer(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback`` when the wall clock reaches ``seconds`` from now (as ``sleep``)."""
        return _WallTimer(time.time() + bounded_delay(seconds), self.recheck, callback)

    def __repr__(self) -> str:
        return "SystemClock()"


class _WallTimer:
    """A loop timer in chunks of at most ``recheck`` real seconds, each looking at the wall
    clock again, so a step forward (or a suspend) ends it early and a step back delays it."""

    __slots__ = ("_callback", "_end", "_handle", "_loop", "_recheck")

    def __init__(self, end: float, recheck: float, callback: Callable[[], object]) -> None:
        self._loop = asyncio.get_running_loop()
        self._end = end
        self._recheck = recheck
        self._callback = callback
        self._handle = self._loop.call_later(max(0.0, min(end - time.time(), recheck)), self._due)

    def _due(self) -> None:
        left = self._end - time.time()
        if left > 0:
            self._handle = self._loop.call_later(min(left, self._recheck), self._due)
        else:
            self._callback()

    def cancel(self) -> None:
        self._handle.cancel()

    def cancelled(self) -> bool:
        return self._handle.cancelled()


class ScaledClock:
    """Time that starts at ``start`` and runs ``scale`` clock seconds per real second."""

    def __init__(self, start: datetime | float | None = None, *, scale: float = 1.0) -> None:
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ValueError("start must be an aware datetime")
            start = start.timestamp()
        self.scale = float(scale)
        self._origin = time.time() if start is None else float(start)
        self._origin_mono = time.monotonic()

    def time(self) -> float:
        return self._origin + (time.monotonic() - self._origin_mono) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(bounded_delay(seconds) / self.scale)

    def timer(self, seconds: float, callback: Callable[[], object]) -> Timer:
        """Call ``callback`` after ``seconds`` of scaled time (as ``sleep``)."""
        return asyncio.get_running_loop().call_later(bounded_delay(seconds) / self.scale, callback)

    def __repr__(self) -> str:
        return f"ScaledClock(now={utc_datetime(self.time()).isoformat()}, scale={self.scale:g})"


def utc_datetime(posix: float) -> datetime:
    """An aware UTC datetime from POSIX seconds."""
    return datetime.fromtimestamp(posix, tz=timezone.utc)


class Wakeup:
    """``asyncio.Event``'s ``set``/``is_set``/``clear``/``wait``, whose waiter can be a
    bare future: :func:`sleep_or_wake` waits on it and a clock timer with no task.

    Waiters are woken in the order they began to wait, as ``asyncio.Event`` does, so a
    run on a virtual clock repeats exactly.
    """

    __slots__ = ("_flag", "_waiters")

    def __init__(self) -> None:
        self._flag = False
        self._waiters: dict[asyncio.Future[None], None] = {}  # ordered

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        if not self._flag:
            self._flag = True
            for waiter in self._waiters:
                _resolve(waiter)

    def clear(self) -> None:
        self._flag = False

    async def wait(self) -> bool:
        """Return True once set (at once if it is)."""
        if not self._flag:
            await self._wait_on(asyncio.get_running_loop().create_future())
        return True

    @property
    def waiting(self) -> int:
        """How many waits are pending on it."""
        return len(self._waiters)

    async def _wait_on(self, waiter: asyncio.Future[None]) -> None:
        self._waiters[waiter] = None
        try:
            await waiter
        finally:
            del self._waiters[waiter]

    def __repr__(self) -> str:
        return f"<Wakeup {'set' if self._flag else 'unset'} waiting={len(self._waiters)}>"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def sleep_or_wake(clock: Clock, seconds: float | None, wake: Wakeup | asyncio.Event) -> None:
    """Sleep ``seconds`` of clock time (until woken when None), or until ``wake`` is set.

    The event is cleared on return, so the next wait starts fresh: whoever set it
    wanted the sleeper to look again at what changed.
    """
    if wake.is_set():
        wake.clear()
        return
    timer: Callable[[float, Callable[[], object]], Timer] | None = getattr(clock, "timer", None)
    if isinstance(wake, Wakeup) and (seconds is None or timer is not None):
        # The cheap path: one future, woken by ``set`` or by the clock's timer.
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ring = (
            None
            if seconds is None or timer is None
            else timer(seconds, functools.partial(_resolve, waiter))
        )
        try:
            await wake._wait_on(waiter)
        finally:
            if ring is not None:
                ring.cancel()
    else:
        await _sleep_or_wait(clock, seconds, wake)
    wake.clear()


async def _sleep_or_wait(clock: Clock, seconds: float | None, wake: Wakeup | asyncio.Event) -> None:
    """The general path, for any clock and event: a task for each, the first one wins."""
    waiter = asyncio.ensure_future(wake.wait())
    waits: set[asyncio.Future[Any]] = {waiter}
    if seconds is not None:
        waits.add(asyncio.ensure_future(clock.sleep(seconds)))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waits:
            future.cancel()
