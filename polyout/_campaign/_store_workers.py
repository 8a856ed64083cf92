"""The workers capability of the store: heartbeats, reaping a dead worker, a clean leave.

This docstring is its contract, continuing the numbered clauses of
:mod:`polyout._campaign._store`; ``tests/store/test_workers.py`` keeps each one over
every store.

Liveness is judged on the *store's* clock: the database's clock for PostgreSQL (so the
workers' own clocks may disagree by any amount), the wall clock of the one process for
the in-memory and SQLite stores (one process holds those, so a worker there dies with
the process, but the methods work the same).

15. ``heartbeat(worker)`` records that ``worker`` is alive now; it is durable where the
    store outlives its processes (PostgreSQL: a reaper elsewhere judges it), while a store
    one process holds forgets its workers with that process. A worker
    that left, or was reaped, and heartbeats again is alive again (its holds are gone:
    every move it makes on a contact it no longer holds is stale, clause 8).
16. ``reap(worker, timeout=, now=)``: the live ``worker`` (it heartbeats by reaping)
    settles every *other* worker whose last heartbeat is more than ``timeout`` seconds
    old on the store's clock: exactly ``recover(now, worker=dead)`` for each (clause 9:
    its open intents become ``unknown``, its closed ones are scheduled again, its holds
    are dropped, its calls in flight wait for ``calls_in_flight`` to adopt them). It
    returns the names it settled, sorted. It is durable and idempotent: a dead worker
    is settled once, and only one worker reaps at a time.
17. ``leave(worker)`` is a clean exit (the worker handed its claims back first): it is
    durable, and a worker that left is never reaped.
18. ``workers(timeout=)`` lists the workers that heartbeat and did not leave or get
    reaped, by name: each with the age of its last heartbeat in seconds (store clock)
    and whether it is live (that age is at most ``timeout``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:  # _store imports this module
    from polyout._campaign._store import Recovery

__all__ = ["DEFAULT_REAP_TIMEOUT", "StoreWorkers", "WorkerInfo"]

#: A worker whose last heartbeat is older than this (seconds) is dead by default.
DEFAULT_REAP_TIMEOUT = 30.0


@attrs.frozen
class WorkerInfo:
    """One worker of a campaign, as the store last heard of it."""

    name: str
    age: float
    """Seconds since its last heartbeat, on the store's clock."""
    live: bool


class StoreWorkers(Protocol):
    """The workers capability of a ``StoredCampaign``."""

    async def recover(self, now: float, *, worker: str | None = None) -> Recovery: ...

    async def heartbeat(self, worker: str) -> None:
        """``worker`` is alive now (durable; clause 15)."""

    async def reap(
        self, worker: str, *, timeout: float = DEFAULT_REAP_TIMEOUT, now: float
    ) -> list[str]:
        """Settle every other worker silent for more than ``timeout`` s (clause 16)."""

    async def leave(self, worker: str) -> None:
        """A clean exit: never reaped (clause 17)."""

    async def workers(self, *, timeout: float = DEFAULT_REAP_TIMEOUT) -> list[WorkerInfo]:
        """The workers, by name, with their heartbeat's age (clause 18)."""
