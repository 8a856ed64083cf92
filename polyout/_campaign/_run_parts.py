"""What the engine's parts share in one run: who they work as, its settings, and slots.

The dispatcher and the follower each take one :class:`RunParts` rather than the same
nine arguments: the recorder (the funnel to the store), the placer, the worker's name,
the settings and calling window, the clock, the trigger pacer, the concurrency
:class:`Slots` they share, where a campaign-wide failure is reported, whether the run is
paused (:class:`RunControl`), and the admissions each contact passes before its intent.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence

import attrs

from polyout._campaign._admission import Admission
from polyout._campaign._clock import Clock
from polyout._campaign._config import CampaignConfig
from polyout._campaign._errors import CampaignError
from polyout._campaign._placer import Placer
from polyout._campaign._recorder import Recorder
from polyout._campaign._schedule import CallingWindow
from polyout._errors import PolyOutError
from polyout._pacing import Pacer

__all__ = ["RunControl", "RunParts", "Slots"]


class Slots:
    """The concurrency: calls in flight (dialling or placed) at most ``limit``.

    A freed slot goes to the worker that waited longest, and wakes only it: waking every
    waiter for each freed slot costs a loop turn per worker per call.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def take(self, stopping: Callable[[], bool]) -> None:
        if self.taken < self.limit or stopping():
            self.taken += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the slot is handed over with the wake-up
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; ``taken`` stays
                return
        self.taken -= 1

    def wake(self) -> None:
        """Let every waiter through now (the run is stopping: none will dial)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.taken += 1
                waiter.set_result(None)


class RunControl:
    """Whether the run is paused, and why: read by the dispatcher before each send."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self.paused: str | None = None
        self._wake = wake

    def pause(self, reason: str) -> None:
        self.paused = reason
        self._wake()

    def unpause(self) -> None:
        self.paused = None
        self._wake()


@attrs.frozen
class RunParts:
    """One run's shared pieces (see the module docstring)."""

    recorder: Recorder
    placer: Placer
    worker: str
    config: CampaignConfig
    window: CallingWindow | None
    clock: Clock
    pacer: Pacer
    slots: Slots
    on_fatal: Callable[[PolyOutError], None]
    on_trouble: Callable[[CampaignError], None]
    """A campaign-wide refusal (401/403, a run of 400s): paused if a handler (auto-pause)
    takes it, else fatal. The error's ``__cause__`` is the API's answer."""
    control: RunControl
    admissions: Sequence[Admission] = ()
