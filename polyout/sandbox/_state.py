"""Everything one running sandbox knows, shared by its request handlers."""

from __future__ import annotations

import random
import uuid

from ._calls import Api, CallRecord, CallStore
from ._clock import Clock
from ._config import SandboxConfig
from ._faults import FaultInjector
from ._ledger import Ledger
from ._lifecycle import Timeline
from ._outcomes import pick_outcome
from ._ratelimit import SlidingWindow

__all__ = ["SandboxState"]


class SandboxState:
    """Config, clock, calls, ledger, faults and rate windows of one sandbox."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        # Without a configured seed, pick one and show it (in /_sandbox/config) so
        # that a surprising run can be replayed.
        self.seed = (
            config.seed if config.seed is not None else random.SystemRandom().randrange(2**32)
        )
        self.ledger = Ledger(config.ledger_file)
        self.calls = CallStore()
        self.faults = FaultInjector(config.faults, self.seed)
        limits = config.faults
        self.trigger_window = SlidingWindow(limits.rate_limit) if limits.rate_limit else None
        self.status_window = (
            SlidingWindow(limits.status_rate_limit) if limits.status_rate_limit else None
        )
        self._outcome_rng = random.Random(f"{self.seed}/outcomes")

    def place_call(
        self, api: Api, scope: tuple[str, ...], number: str, connector_id: str = ""
    ) -> CallRecord:
        """Create a call: pick its outcome now, plan its timeline, remember it."""
        config = self.config
        outcome = pick_outcome(config.outcomes, number, self._outcome_rng)
        timeline = Timeline.plan(
            outcome,
            self.clock.now(),
            queue=config.queue_duration,
            ring=config.ring_duration,
            talk=config.call_duration,
            retention=config.retention,
        )
        call = CallRecord(f"OUT-{uuid.uuid4()}", api, scope, number, timeline, connector_id)
        self.calls.add(call)
        return call

    def reset(self) -> None:
        """Forget every call, record and rate window; replay faults and outcomes from the seed."""
        self.calls.clear()
        self.ledger.clear()
        self.faults.reset()
        for window in (self.trigger_window, self.status_window):
            if window is not None:
                window.clear()
        self._outcome_rng = random.Random(f"{self.seed}/outcomes")

    def close(self) -> None:
        self.ledger.close()
