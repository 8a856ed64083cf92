"""Deciding, request by request, which configured fault (if any) strikes.

Every fault kind draws from its own RNG seeded from the sandbox seed, so enabling
one fault never shifts the dice of another, and a run with the same seed and the
same sequence of requests misbehaves in exactly the same places.
"""

from __future__ import annotations

import enum
import random

from ._config import FaultConfig

__all__ = ["FaultInjector", "TriggerFault"]


class TriggerFault(enum.Enum):
    NONE = "none"
    ERROR_502 = "502"
    """Not placed: "outbound calling service unavailable"."""
    ERROR_500 = "500"
    """Not placed: "failed to place the outbound call"."""
    CUT = "cut"
    """Placed, then the connection is dropped without a response."""


class FaultInjector:
    """The fault schedule of one sandbox run; ``reset()`` replays it from the start."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._seed = seed
        self.reset()

    def reset(self) -> None:
        self.triggers_seen = 0
        self.statuses_seen = 0
        self._rngs = {
            name: random.Random(f"{self._seed}/{name}")
            for name in ("502", "500", "cut", "status", "status-code", "latency")
        }

    def _strikes(self, name: str, rate: float, schedule: frozenset[int], count: int) -> bool:
        # Draw only for a non-zero rate, so that a scheduled fault alone consumes
        # no randomness.
        scheduled = count in schedule
        drawn = rate > 0.0 and self._rngs[name].random() < rate
        return scheduled or drawn

    def next_trigger(self) -> TriggerFault:
        """The fault for the next trigger that would otherwise be placed."""
        self.triggers_seen += 1
        n, c = self.triggers_seen, self.config
        # Every kind is drawn for every trigger (not short-circuited) so each
        # RNG advances once per trigger whatever the others decide.
        e502 = self._strikes("502", c.trigger_502_rate, c.trigger_502_on, n)
        e500 = self._strikes("500", c.trigger_500_rate, c.trigger_500_on, n)
        cut = self._strikes("cut", c.cut_rate, c.cut_on, n)
        if e502:
            return TriggerFault.ERROR_502
        if e500:
            return TriggerFault.ERROR_500
        if cut:
            return TriggerFault.CUT
        return TriggerFault.NONE

    def next_status(self) -> int | None:
        """The 5xx code for the next status request, or None to answer it normally."""
        self.statuses_seen += 1
        c = self.config
        if not self._strikes("status", c.status_error_rate, c.status_error_on, self.statuses_seen):
            return None
        return self._rngs["status-code"].choice(c.status_error_codes)

    def trigger_latency(self) -> float:
        return self._latency(self.config.trigger_latency)

    def status_latency(self) -> float:
        return self._latency(self.config.status_latency)

    def _latency(self, bounds: tuple[float, float]) -> float:
        low, high = bounds
        if low == high:
            return low
        return self._rngs["latency"].uniform(low, high)

    def __repr__(self) -> str:
        return (
            f"FaultInjector(triggers_seen={self.triggers_seen}, statuses_seen={self.statuses_seen})"
        )
