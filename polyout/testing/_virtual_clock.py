"""Virtual time for a whole asyncio program: hours of campaign in milliseconds.

In the spirit of trio's ``MockClock`` with autojump. Inside ``async with VirtualClock()``
the running loop keeps its own clock (``loop.time()``, which ``asyncio.sleep``, timeouts
and the pacers read) and the campaign's wall clock (:meth:`VirtualClock.time`) on one
virtual timeline. Whenever every task waits on time only, the loop jumps straight to
its next timer instead of sleeping: a night's wait for a calling window takes as many
loop turns as there are timers in it, not eight hours.

How: the loop's ``time`` and its selector's ``select`` are replaced on the instance.
When the loop would block for ``timeout`` seconds, the selector first polls for I/O
without blocking; only if nothing is ready does time jump, to the next timer. Sockets
therefore keep working: a server on 127.0.0.1 in the same loop sees its request, and
answers, between two jumps, as long as its work needs no other thread.

Work in another thread is the one thing time must wait for, or a jump would skip over
it (a thread committing a journal entry while the loop leaps eight hours ahead). So
while a job handed to ``loop.run_in_executor`` (``asyncio.to_thread`` included) is
running, virtual time stands still and the loop waits for real. Threads that report
back some other way (``call_soon_threadsafe``) are not seen: give such a program
``autojump_threshold``, the real seconds the loop must be idle before time jumps.

Restored on exit: timers still pending are moved back onto the real clock with the
delays they had left, so a task that outlives the block is not woken hours late.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar

from polyout._campaign._clock import bounded_delay, utc_datetime
from polyout._errors import ConfigurationError

__all__ = ["VirtualClock"]

T = TypeVar("T")

#: The default start: an arbitrary fixed instant, so that times in test assertions
#: are reproducible (2026-01-05 00:00 UTC, a Monday).
DEFAULT_START = datetime(2026, 1, 5, tzinfo=timezone.utc)
#: The loop's time when a VirtualClock is installed (a round number: sums stay exact).
LOOP_START = 1000.0
_REAL_WAIT = 1.0  # real seconds a loop waits at most at once while executor work runs

_Events = list[tuple[selectors.SelectorKey, int]]


class VirtualClock:
    """Virtual time for the running event loop; a :class:`polyout.campaign.Clock` for campaigns.

    ``start`` is the wall-clock instant at which virtual time begins (an aware datetime
    or POSIX seconds; default 2026-01-05 00:00 UTC). Use it inside a running loop::

        async with VirtualClock(start=datetime(2026, 3, 28, 23, 0, tzinfo=UTC)) as clock:
            campaign = Campaign(placer, contacts, journal=path, clock=clock, ...)
            await campaign.run()  # a night of calling windows, in seconds of wall time

    :meth:`time` is the virtual wall clock (POSIX seconds), :meth:`monotonic` the virtual
    ``loop.time()``; both move together, by jumps to the next timer or by
    :meth:`advance`. :meth:`step` moves the wall clock alone, as NTP or a machine waking
    from sleep would. It needs asyncio's selector event loop (the default on Linux and
    macOS); uvloop and the Windows proactor loop are refused.

    ``autojump_threshold``: real seconds the loop must have been idle before time jumps
    (default 0: at once). Give a program whose threads report back other than through
    ``run_in_executor`` a little, so their answers arrive before time moves on.
    """

    def __init__(
        self,
        start: datetime | float = DEFAULT_START,
        *,
        autojump_threshold: float = 0.0,
    ) -> None:
        if isinstance(start, datetime):
            if start.tzinfo is None:
                raise ConfigurationError("start", "must be an aware datetime (with tzinfo)")
            start = start.timestamp()
        if isinstance(start, bool) or not isinstance(start, (int, float)) or start != start:  # NaN
            raise ConfigurationError("start", f"must be a datetime or POSIX seconds, not {start!r}")
        if not 0 <= autojump_threshold < float("inf"):
            raise ConfigurationError(
                "autojump_threshold", f"must be 0 or more real seconds, not {autojump_threshold!r}"
            )
        self.autojump_threshold = float(autojump_threshold)
        self._start = float(start)
        self._now = 0.0  # the virtual loop time
        self._wall_offset = self._start  # wall time = loop time + this
        self._executor_jobs = 0
        self._jumps = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._restore: Callable[[], None] | None = None
        self._wall_waiters: set[asyncio.Future[None]] = set()
        self._wall_timers: dict[_VirtualTimer, None] = {}  # ordered: a step re-arms them in turn

    # -- the Clock protocol ------------------------------------------------------------
    def time(self) -> float:
        """The virtual wall clock, in POSIX seconds."""
        return self._now + self._wall_offset

    async def sleep(self, seconds: float) -> None:
        """Wait until the virtual wall clock reaches ``seconds`` from now.

        As ``SystemClock.sleep`` does with the real one: a :meth:`step` forward ends it
        early, a step back makes it longer.
        """
        loop = self._running_loop()
        end = self.time() + bounded_delay(seconds)
        while (left := end - self.time()) > 0:
            stepped: asyncio.Future[None] = loop.create_future()
            self._wall_waiters.add(stepped)
            timer = loop.call_later(left, _resolve, stepped)
            try:
                await stepped
            finally:
                timer.cancel()
                self._wall_waiters.discard(stepped)

    def timer(self, seconds: float, callback: Callable[[], object]) -> _VirtualTimer:
        """Call ``callback`` when the virtual wall clock reaches ``seconds`` from now.

        Ends exactly when :meth:`sleep` would (a :meth:`step` forward brings it on, a
        step back puts it off), as one loop timer: no task.
        """
        return _VirtualTimer(
            self, self._running_loop(), self.time() + bounded_delay(seconds), callback
        )

    # -- moving time by hand -----------------------------------------------------------
    def monotonic(self) -> float:
        """The virtual ``loop.time()``: 1000.0 when installed, whatever the real clock says,
        so that a program's loop times repeat exactly from run to run."""
        return self._now

    def now(self) -> datetime:
        """The virtual wall clock as an aware UTC datetime."""
        return utc_datetime(self.time())

    @property
    def jumps(self) -> int:
        """How many times the loop jumped forward instead of waiting."""
        return self._jumps

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``; timers now due run at the next turn."""
        if not 0 <= seconds < float("inf"):
            raise ConfigurationError("seconds", f"time only moves forward, not by {seconds!r}")
        self._now += seconds

    def step(self, seconds: float) -> None:
        """Move the wall clock alone by ``seconds`` (back if negative), as NTP would.

        The loop's clock does not move, so pacing is untouched; clock sleeps look again.
        """
        if not abs(seconds) < float("inf"):
            raise ConfigurationError("seconds", f"must be a finite step, not {seconds!r}")
        self._wall_offset += seconds
        for waiter in self._wall_waiters:
            _resolve(waiter)
        for timer in list(self._wall_timers):
            timer.arm()

    # -- installing it on the loop ---------------------------------------------------------
    async def __aenter__(self) -> VirtualClock:
        self.install(asyncio.get_running_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        """Put ``loop`` on this clock (``async with`` does it for the running loop)."""
        if self._loop is not None:
            raise RuntimeError("this VirtualClock is already installed on a loop")
        selector = getattr(loop, "_selector", None)
        if not isinstance(loop, asyncio.BaseEventLoop) or not isinstance(
            selector, selectors.BaseSelector
        ):
            raise TypeError(
                f"VirtualClock needs asyncio's selector event loop, not {type(loop).__name__}"
            )
        if isinstance(getattr(loop.time, "__self__", None), VirtualClock):
            raise RuntimeError("this loop already runs on a VirtualClock")
        real_time = loop.time
        real_select = selector.select
        real_run_in_executor = loop.run_in_executor
        # Every run starts from the same loop time, so a program's timings repeat
        # exactly; timers already pending keep their delays.
        _shift_timers(loop, LOOP_START - real_time())
        self._now = LOOP_START
        self._wall_offset = self._start - self._now

        def select(timeout: float | None = None) -> _Events:
            return self._select(loop, real_select, timeout)

        def run_in_executor(
            executor: Executor | None, func: Callable[..., T], *args: Any
        ) -> asyncio.Future[T]:
            future = real_run_in_executor(executor, func, *args)
            self._executor_jobs += 1
            future.add_done_callback(self._executor_job_done)
            return future

        loop.time = self.monotonic  # type: ignore[method-assign]
        selector.select = select  # type: ignore[method-assign]
        loop.run_in_executor = run_in_executor  # type: ignore[assignment, method-assign]

        def restore() -> None:
            del loop.time, loop.run_in_executor  # the class's own methods show through again
            del selector.select
            _shift_timers(loop, real_time() - self._now)

        self._loop = loop
        self._restore = restore

    def uninstall(self) -> None:
        """Give the loop its real clock back; pending timers keep the delays they had left."""
        restore, self._restore, self._loop = self._restore, None, None
        if restore is not None:
            restore()

    def _select(
        self,
        loop: asyncio.AbstractEventLoop,
        real_select: Callable[[float | None], _Events],
        timeout: float | None,
    ) -> _Events:
        if timeout is None or timeout <= 0:
            # Nothing scheduled (wait for I/O or another thread, as a real loop would),
            # or work is ready: time does not move.
            return real_select(timeout)
        if self._executor_jobs:
            return real_select(min(timeout, _REAL_WAIT))
        events = real_select(min(timeout, self.autojump_threshold))
        if events:
            return events
        # Every task waits on time: jump to the next timer itself, not ``now + timeout``
        # (the sum can fall a rounding error short of it, and the loop's 24 h cap on a
        # wait needs no honouring when there is nothing to wait for in between).
        scheduled = getattr(loop, "_scheduled", None)
        self._now = max(self._now + timeout, scheduled[0].when() if scheduled else 0.0)
        self._jumps += 1
        return events

    def _executor_job_done(self, _: object) -> None:
        self._executor_jobs -= 1

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            raise RuntimeError("this VirtualClock is not installed on the running loop")
        return loop

    def __repr__(self) -> str:
        state = "installed" if self._loop is not None else "not installed"
        return f"VirtualClock(now={self.now().isoformat()}, jumps={self._jumps}, {state})"


class _VirtualTimer:
    """One loop timer set for the virtual wall clock's ``end``; re-armed after a step."""

    __slots__ = ("_callback", "_clock", "_end", "_handle", "_loop")

    def __init__(
        self,
        clock: VirtualClock,
        loop: asyncio.AbstractEventLoop,
        end: float,
        callback: Callable[[], object],
    ) -> None:
        self._clock = clock
        self._loop = loop
        self._end = end
        self._callback = callback
        self._handle = loop.call_later(max(0.0, end - clock.time()), self._due)
        clock._wall_timers[self] = None

    def arm(self) -> None:
        """Set the loop timer again for what is left of the wall clock's wait."""
        self._handle.cancel()
        self._handle = self._loop.call_later(max(0.0, self._end - self._clock.time()), self._due)

    def _due(self) -> None:
        # No second look at the wall clock: every step re-arms, so the loop timer is
        # due exactly when the wall clock reaches the end (a look could find it an ulp
        # short, and re-arm for a delay too small to move the loop's time).
        self._clock._wall_timers.pop(self, None)
        self._callback()

    def cancel(self) -> None:
        self._handle.cancel()
        self._clock._wall_timers.pop(self, None)

    def cancelled(self) -> bool:
        return self._handle.cancelled()


def _shift_timers(loop: asyncio.AbstractEventLoop, by: float) -> None:
    """Move every pending timer of ``loop`` by ``by`` seconds onto another timeline.

    A uniform shift keeps the loop's heap ordered, and each timer its delay.
    """
    for handle in getattr(loop, "_scheduled", ()):
        handle._when += by


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
