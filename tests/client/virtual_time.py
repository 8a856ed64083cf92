"""An event loop on a virtual clock, for the pacer's timing promises.

On a shared, loaded machine a real loop wakes timers milliseconds late at random, so a
test of "never two releases closer than the interval" either allows slack that hides a
broken pacer or fails by chance. Here time only moves when the loop would sleep, and it
moves exactly as epoll would: a timeout rounded up to the next whole millisecond (the
lateness that once turned 100/s into 89/s). ``stall`` jumps the clock the way a blocking
call would. Nothing here does I/O, so seconds of pacing run in microseconds.
"""

from __future__ import annotations

import asyncio
import math
import selectors
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class _ClockSelector(selectors.SelectSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("the loop would wait for ever: nothing is scheduled")
        if timeout > 0:
            # epoll_wait takes whole milliseconds, and asyncio rounds up.
            self._loop.now += math.ceil(timeout * 1000) / 1000
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 1000.0
        super().__init__(selector=_ClockSelector(self))

    def time(self) -> float:
        return self.now

    def stall(self, seconds: float) -> None:
        """The loop is blocked for ``seconds`` (a slow synchronous call, say)."""
        self.now += seconds


def run_virtual(main: Callable[[VirtualTimeLoop], Awaitable[T]]) -> T:
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()
