"""A control command's way into an SQLite store that a runner may hold.

A runner holds its journal for its whole run (an OS lock, ``_lock``); a command from
another terminal (``polyout campaign pause``) must still write the campaign's commanded
phase there, and read it. It does so *beside* the runner, through SQLite's own locking:

* its own writable connection, with the journal's busy timeout (5 s);
* each of its steps one short transaction begun ``IMMEDIATE`` (the write lock first,
  so a runner's commit in between can never leave it a stale snapshot to write from),
  committed at once: the runner's batched writes wait a few milliseconds for it, and
  are never mixed with it (SQLite serialises the two transactions whole);
* it takes no lock and never marks the file open (``writer_open`` is the runner's), and
  it never lets SQLite copy and delete the ``-wal`` on closing: if the runner was
  killed meanwhile, the main file must keep saying "open" *with* its ``-wal`` beside it,
  exactly as the runner left it (the close keeps a read-only connection across).

What it may change beside a runner is what no runner keeps in memory: the phase and
the campaign log, the do-not-call list, contacts appended after the feed, and final
contacts of a retry round. Which contacts a runner holds lives in that runner's memory,
so this store withdraws none (``holds_known = False``): the runner's control watcher
cancels and suppresses them within a poll.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import Journal
from polyout._campaign._journal_schema import connect, storage_error
from polyout._campaign._lock import JournalLock
from polyout._campaign._sqlite_store import SQLiteCampaign, SQLiteStore
from polyout._campaign._sqlite_writer import Writer
from polyout._campaign._store import CampaignDefinition

__all__ = ["SQLiteControlDoor"]


class _DoorJournal(Journal):
    """A journal connection of a command beside a runner (see the module docstring)."""

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        error: JournalError | None = None
        if self._failed is None:
            try:
                self.commit()
            except JournalError as exc:
                error = exc
        keep_wal: sqlite3.Connection | None = None
        with contextlib.suppress(JournalError, sqlite3.Error):
            keep_wal = connect(self.path, read_only=True)
            keep_wal.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        try:
            self._db.close()
        finally:
            if keep_wal is not None:
                keep_wal.close()
        if error is not None:
            raise error


class SQLiteControlDoor(SQLiteStore):
    """The SQLite store at ``path``, for control commands, whether a runner holds it or
    not. ``runner_alive`` says which (seen when it was opened)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Not SQLiteStore.__init__: that opener takes the runner's lock.
        self.path = target = Path(path)
        # No runner: the command holds the lock for its few milliseconds, so that none
        # starts meanwhile holding contacts this door would not see.
        self._lock: JournalLock | None = None
        try:
            self._lock = JournalLock(target) if target.is_file() else None
        except JournalError as exc:
            if "in use" not in str(exc):
                raise
        self.runner_alive = target.is_file() and self._lock is None

        def opener() -> Journal:
            if not target.is_file():
                raise JournalError(f"no campaign journal at {target}")
            # Every check an opening makes (damage, a newer schema, a main file without
            # its -wal), and an older schema upgraded, through a reader first.
            Journal._opened(target, None, locked=self._lock is not None, store=True).close()
            try:
                connection = connect(target)
            except sqlite3.Error as exc:
                raise storage_error(target, exc) from exc
            return _DoorJournal(connection, target, None)

        self._writer = Writer(opener, target.name)
        self._campaigns: dict[str, SQLiteCampaign] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<SQLiteControlDoor {str(self.path)!r}>"

    async def create(self, name: str, definition: CampaignDefinition) -> SQLiteCampaign:
        raise JournalError(f"{self.path}: a control command creates no campaign")

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _campaign(self, name: str, campaign_id: int) -> SQLiteCampaign:
        campaign = super()._campaign(name, campaign_id)
        # Holds live in a runner's memory: only a door that holds the lock (no runner can
        # start meanwhile) knows them all: there are none.
        campaign.holds_known = not self.runner_alive
        return campaign
