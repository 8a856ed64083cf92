"""The sandbox's two clocks: simulated time for calls, real time for rate limits.

A call's lifecycle and its status retention run on *simulated* time, which may run
faster than real time (``time_scale``) and which tests may push forward with
``advance()``, so that a two-hour retention can be exercised in milliseconds.
Rate limits and latency, on the other hand, are about the client's real pacing, so
they read a *real* monotonic clock that the time scale never touches.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "ScaledClock"]


@runtime_checkable
class Clock(Protocol):
    """What the sandbox needs to know about time."""

    def now(self) -> float:
        """Simulated time, as POSIX seconds (UTC): drives call lifecycles and retention."""
        ...

    def monotonic(self) -> float:
        """Real, unscaled seconds from an arbitrary origin: drives rate-limit windows."""
        ...

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` (never backward)."""
        ...


def _check_step(seconds: float) -> float:
    # Time only moves forward: the call store prunes in placement order and
    # relies on simulated time never decreasing.
    if not seconds >= 0:
        raise ValueError(f"time can only move forward, got {seconds!r} seconds")
    return float(seconds)


class ScaledClock:
    """Simulated time that runs ``time_scale`` times faster than the wall clock.

    Simulated time starts at the real wall-clock time of construction, so early
    timestamps look real, then runs ``time_scale`` simulated seconds per real second
    (measured on the monotonic clock, immune to wall-clock jumps), plus whatever
    ``advance()`` added.
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale!r}")
        self.time_scale = float(time_scale)
        self._origin_wall = time.time()
        self._origin_mono = time.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        elapsed = time.monotonic() - self._origin_mono
        return self._origin_wall + elapsed * self.time_scale + self._offset

    def monotonic(self) -> float:
        return time.monotonic()

    def advance(self, seconds: float) -> None:
        self._offset += _check_step(seconds)

    def __repr__(self) -> str:
        return f"ScaledClock(time_scale={self.time_scale:g}, advanced={self._offset:g}s)"


class ManualClock:
    """A clock that moves only when told to: for tests that must be exact.

    ``advance()`` moves simulated time (lifecycles, retention); ``advance_real()``
    moves the real clock that rate-limit windows read. The two are independent so a
    test can age calls by hours without refilling a rate limit, or the reverse.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        # The default start (2027-01-15) is an arbitrary fixed instant: timestamps
        # in test assertions are then reproducible.
        self._now = float(start)
        self._mono = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += _check_step(seconds)

    def advance_real(self, seconds: float) -> None:
        """Move the real (rate-limit) clock forward by ``seconds``."""
        self._mono += _check_step(seconds)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now:.3f}, monotonic={self._mono:.3f})"
