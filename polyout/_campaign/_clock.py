"""The campaign's clock: wall time for calling windows and the journal, sleeps for scheduling.

Every delay a campaign schedules (poll intervals, retry delays, poll deadlines, waits
for a calling window to open, the stop grace) is in *clock seconds*, read from one
injectable clock. Request rates are not: they are about what the server counts, so
the pacers run on the event loop's real time whatever the clock says.

``ScaledClock`` runs faster than real time from a chosen instant, so a test can
start a campaign at 01:30 on the night a time zone changes to summer time and
watch it wait for a window hours away in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

__all__ = ["Clock", "ScaledClock", "SystemClock", "sleep_or_wake", "utc_datetime"]


@runtime_checkable
class Clock(Protocol):
    """What a campaign needs to know about time."""

    def time(self) -> float:
        """POSIX seconds (UTC), never going backwards while a campaign runs."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Wall time anchored once, then advanced by the monotonic clock.

    Anchoring keeps scheduled times meaningful across processes (they are stored in
    the journal as POSIX times) while a wall-clock step (NTP, a laptop waking up)
    cannot reorder what one run scheduled.
    """

    def __init__(self) -> None:
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()

    def time(self) -> float:
        return self._origin_wall + (time.monotonic() - self._origin_mono)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


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
        await asyncio.sleep(max(seconds, 0.0) / self.scale)

    def __repr__(self) -> str:
        return f"ScaledClock(now={utc_datetime(self.time()).isoformat()}, scale={self.scale:g})"


def utc_datetime(posix: float) -> datetime:
    """An aware UTC datetime from POSIX seconds."""
    return datetime.fromtimestamp(posix, tz=timezone.utc)


async def sleep_or_wake(clock: Clock, seconds: float | None, wake: asyncio.Event) -> None:
    """Sleep ``seconds`` of clock time (forever when None), or until ``wake`` is set.

    The event is cleared on return, so the next wait starts fresh: whoever set it
    wanted the sleeper to look again at what changed.
    """
    if wake.is_set():
        wake.clear()
        return
    waiter = asyncio.ensure_future(wake.wait())
    waits: set[asyncio.Future[Any]] = {waiter}
    sleeper = None
    if seconds is not None:
        sleeper = asyncio.ensure_future(clock.sleep(seconds))
        waits.add(sleeper)
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waits:
            future.cancel()
    wake.clear()
