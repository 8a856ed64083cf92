"""The simulated API a rehearsal dials: calls placed in process, answered by a model.

Why not ``polyout.testing.FakePlacer``, whose rules could express the same mix and
durations: a rehearsal of 20,000 contacts makes some 300,000 status reads, and the
fake's per-request machinery (the client's retry policy, fault rules, a ledger entry
per send) made the whole rehearsal 1.7x slower (2.45 ms against 1.45 ms per contact,
measured). Nothing here fails, so none of that is needed; the pacer protocol is kept
exactly as ``polyout.Client`` keeps it, so pacing is the run's own.

A call is ``calling`` from its placement until it ends, then its outcome: one status
change, so the poller follows it at its growing interval as it would a real call that
rings and is answered.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from polyout._campaign._clock import Clock
from polyout._campaign._schedule import zones_for
from polyout._models import Call, CallRequest, CallState, CallStatus
from polyout._pacing import RequestPacer
from polyout._rehearsal._model import CallModel

__all__ = ["SimulatedCall", "SimulatedPlacer", "local_hour"]


class SimulatedCall:
    __slots__ = ("ends_at", "final", "number", "outcome", "placed_at")

    def __init__(self, number: str, placed_at: float, outcome: CallState, ends_at: float) -> None:
        self.number = number
        self.placed_at = placed_at
        self.outcome = outcome
        self.ends_at = ends_at
        self.final: CallStatus | None = None


class SimulatedPlacer:
    """A ``Placer`` that never touches the network: outcomes and durations from ``model``."""

    api = "agents"
    environment: str | None = "live"
    base_url = "rehearsal://simulated"

    def __init__(
        self,
        clock: Clock,
        model: CallModel,
        *,
        seed: int,
        default_timezone: str | None = None,
    ) -> None:
        self._clock = clock
        self._model = model
        self._seed = seed
        self._default_timezone = default_timezone
        self._sids = itertools.count(1)
        self._placed: Counter[str] = Counter()
        self.calls: dict[str, SimulatedCall] = {}
        """Every call placed, by sid, in the order placed."""

    async def place(self, request: CallRequest, *, pacer: RequestPacer) -> Call:
        await pacer.acquire()
        number = request.to_number
        now = self._clock.time()
        self._placed[number] += 1
        hour = local_hour(number, now, self._default_timezone) if self._model.by_hour else None
        outcome, duration = self._model.draw(self._seed, number, self._placed[number], hour)
        sid = f"REHEARSAL-{next(self._sids):07d}"
        self.calls[sid] = SimulatedCall(number, now, outcome, now + duration)
        pacer.on_success()
        return Call(sid, number, CallState.QUEUED)

    async def get_status(self, call_sid: str, *, pacer: RequestPacer) -> CallStatus:
        await pacer.acquire()
        call = self.calls[call_sid]
        pacer.on_success()
        if self._clock.time() < call.ends_at:
            return _calling(call_sid)
        if call.final is None:
            state = call.outcome
            reason = None if state is CallState.SUCCESS else state.value
            call.final = CallStatus(call_sid, state, raw_status=state.value, reason=reason)
        return call.final


@lru_cache(maxsize=65536)
def _calling(call_sid: str) -> CallStatus:
    return CallStatus(call_sid, CallState.CALLING, raw_status="calling")


def local_hour(number: str, at: float, default_timezone: str | None) -> int | None:
    """The callee's local hour (0-23) at ``at``, in the first zone of the number."""
    zone = _zone(number, default_timezone)
    return None if zone is None else datetime.fromtimestamp(at, zone).hour


@lru_cache(maxsize=65536)
def _zone(number: str, default_timezone: str | None) -> ZoneInfo | None:
    zones = zones_for(number, None, default_timezone)
    return ZoneInfo(zones[0]) if zones else None
