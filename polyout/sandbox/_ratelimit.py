"""A sliding one-second window per credential, on the real clock.

Unlike a token bucket, a sliding window never lets more than ``limit`` requests
through in ANY one-second span, including one straddling two calendar seconds:
that is the strictest reading of "N per second", the one clients must pace for.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable

__all__ = ["SlidingWindow", "retry_after_headers"]

WINDOW = 1.0


class SlidingWindow:
    """At most ``limit`` recorded events per key in any ``WINDOW`` seconds."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._events: dict[Hashable, deque[float]] = {}

    def wait(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may have one more event; 0 when it may now."""
        events = self._events.get(key)
        if events is None:
            return 0.0
        while events and events[0] <= now - WINDOW:
            events.popleft()
        if len(events) < self.limit:
            return 0.0
        # The oldest event in the window leaves it WINDOW seconds after it happened.
        return events[0] + WINDOW - now

    def record(self, key: Hashable, now: float) -> None:
        self._events.setdefault(key, deque()).append(now)

    def clear(self) -> None:
        self._events.clear()

    def __repr__(self) -> str:
        return f"SlidingWindow(limit={self.limit}/{WINDOW:g}s, keys={len(self._events)})"


def retry_after_headers(wait: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds (rounded up, at least 1) and exact ``retry-after-ms``."""
    # Rounding to the microsecond first keeps float noise (0.5000000001) from
    # adding a millisecond that is not really there.
    millis = max(1, math.ceil(round(wait * 1000.0, 3)))
    seconds = max(1, math.ceil(millis / 1000.0))
    return {"Retry-After": str(seconds), "retry-after-ms": str(millis)}
