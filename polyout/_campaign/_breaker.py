"""The campaign's circuit breaker: when the API is plainly down, stop hammering it.

Each trigger that placed nothing because the server failed (500, 502, no connection)
is charged to its contact, who fails after a few. When failures come in a row across
the whole campaign, the server is down rather than one contact unlucky: the breaker
opens, triggers pause for a cooldown that doubles each time, then a single probe
goes through. A probe that works closes the breaker; an outage that outlasts
``outage_limit`` ends the run with a CampaignError, the journal resumable, rather than
failing every contact one probe at a time.
"""

from __future__ import annotations

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts consecutive server failures of triggers; times the pauses between probes."""

    def __init__(
        self,
        *,
        threshold: int = 3,
        first_cooldown: float = 2.0,
        max_cooldown: float = 120.0,
        outage_limit: float = 1800.0,
    ) -> None:
        self.threshold = threshold
        self.first_cooldown = first_cooldown
        self.max_cooldown = max_cooldown
        self.outage_limit = outage_limit
        self.failures = 0  #: consecutive failures
        self.opened_at: float | None = None
        self.closed_until = 0.0
        self.probing = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def on_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def on_failure(self, now: float) -> None:
        self.failures += 1
        self.probing = False
        if self.failures < self.threshold:
            return
        if self.opened_at is None:
            self.opened_at = now
        doublings = self.failures - self.threshold
        cooldown = min(self.first_cooldown * 2 ** min(doublings, 30), self.max_cooldown)
        self.closed_until = now + cooldown

    def on_neutral(self) -> None:
        """A probe ended without telling whether the server works (nothing was sent)."""
        self.probing = False

    def wait(self, now: float) -> float | None:
        """Seconds to wait before the next trigger: 0 to go now, None while a probe runs."""
        if self.opened_at is None:
            return 0.0
        if self.probing:
            return None
        return max(self.closed_until - now, 0.0)

    def outage_exceeded(self, now: float) -> bool:
        return self.opened_at is not None and now - self.opened_at >= self.outage_limit

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<CircuitBreaker {state} failures={self.failures}>"
