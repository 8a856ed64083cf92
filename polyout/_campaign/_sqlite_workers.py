"""The workers capability (``_store_workers``) for the SQLite store.

One process holds an SQLite store (its lock refuses a second), so its workers live and
die with that process: heartbeats are kept in the process, on the wall clock, exactly as
for the in-memory store (``_memory_workers``), and reaping is ``recover(now,
worker=dead)`` on the store's writer thread like any other move.
"""

from __future__ import annotations

from polyout._campaign._memory_workers import ProcessWorkers

__all__ = ["SQLiteWorkers"]


class SQLiteWorkers(ProcessWorkers):
    """Heartbeats of an SQLite campaign's workers (in the one process holding it)."""
