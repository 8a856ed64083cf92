"""What a strict rate means, checked on a list of send times: never more than R in a second."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["busiest_second"]


def busiest_second(times: Iterable[float]) -> int:
    """The most sends inside any one-second window (half-open, as a sliding window counts)."""
    ordered = sorted(times)
    busiest, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest
