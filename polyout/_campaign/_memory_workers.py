"""The workers capability (``_store_workers``) for stores one process holds: memory, SQLite.

Heartbeats live in the process, on the wall clock (``worker_clock``, which a test may
replace): the workers of such a store all die with it, so nothing needs to outlive it.
Reaping is still exactly ``recover(now, worker=dead)``, so an engine behaves the same
over every store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from polyout._campaign._states import ContactState
from polyout._campaign._store import Recovery
from polyout._campaign._store_workers import DEFAULT_REAP_TIMEOUT, WorkerInfo

__all__ = ["ProcessWorkers"]


class ProcessWorkers:
    """Heartbeats kept in the process; mixed into a campaign that has ``recover``."""

    #: The store's clock for liveness (seconds).
    worker_clock: Callable[[], float] = staticmethod(time.time)

    if TYPE_CHECKING:  # the campaign class this is mixed into has them

        async def recover(self, now: float, *, worker: str | None = None) -> Recovery: ...

        async def counts(self) -> dict[ContactState, int]: ...

        async def flush(self) -> None: ...

    @property
    def _heartbeats(self) -> dict[str, float]:
        beats: dict[str, float] | None = self.__dict__.get("_worker_beats")
        if beats is None:
            beats = self.__dict__["_worker_beats"] = {}
        return beats

    async def heartbeat(self, worker: str) -> None:
        # Durable as on every store: it commits the batched writes before it.
        await self.flush()
        self._heartbeats[worker] = self.worker_clock()

    async def reap(
        self, worker: str, *, timeout: float = DEFAULT_REAP_TIMEOUT, now: float
    ) -> list[str]:
        await self.heartbeat(worker)
        clock = self.worker_clock()
        dead = sorted(
            name
            for name, beat in self._heartbeats.items()
            if name != worker and clock - beat > timeout
        )
        for name in dead:
            await self.recover(now, worker=name)
            del self._heartbeats[name]
        return dead  # durable: heartbeat committed, and so does every recover

    async def leave(self, worker: str) -> None:
        await self.flush()
        self._heartbeats.pop(worker, None)

    async def workers(self, *, timeout: float = DEFAULT_REAP_TIMEOUT) -> list[WorkerInfo]:
        await self._check_workers()
        clock = self.worker_clock()
        return [
            WorkerInfo(name=name, age=max(clock - beat, 0.0), live=clock - beat <= timeout)
            for name, beat in sorted(self._heartbeats.items())
        ]

    async def _check_workers(self) -> None:
        """Raise as every call of the store does when it cannot be used (a cheap read)."""
        await self.counts()
