"""The journal's transactions: atomic steps, batched commits, and what a failed write means.

Durability: the intent to dial and the sid are committed at once (synchronous=FULL,
so not even a power cut loses them); everything else is batched and committed by
:meth:`JournalCore.commit` every few hundred milliseconds. One connection does all the
writing, in order, so a batch committed with an intent can never be newer than it.

Each write method is one step, inside a savepoint: it happens whole or not at all, so
a write refused half-way (a sid the server already gave, a trigger of the journal's own)
never leaves a contact ``in_flight`` with an attempt that has no sid.

A write the disk refuses (full, read-only, I/O error) rolls back to the last commit,
which is consistent, and *poisons* the journal: every later write raises the same
:class:`JournalError`. The runner then stops sending, and the campaign resumes from
what was committed once the disk is fixed. Going on after a lost batch would journal
contacts after a gap, or a sid for an intent the file never got.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_schema import storage_error
from polyout._campaign._lock import JournalLock
from polyout._campaign._store import StaleTransition

__all__ = ["JournalCore"]

_STORAGE_WORDS = ("disk is full", "readonly database", "disk i/o error", "unable to open")


class JournalCore:
    """A journal connection with its transaction rules. Not thread-safe: one owner."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, lock: JournalLock | None = None
    ) -> None:
        self._db = connection
        self.path = path
        #: The id of the campaign (in the ``campaigns`` table) every query is about: a
        #: journal file is a store of campaigns, and the journal works on one at a time.
        self.campaign = 1
        self._lock = lock
        self.pending_writes = 0
        #: Set by the SQLite store's writer thread while more jobs wait behind the one
        #: running: :meth:`commit` only notes that a commit is owed, and the writer
        #: commits once for the whole group before any of its jobs returns (group commit).
        self.defer_commits = False
        self.commit_owed = False
        self._failed: JournalError | None = None
        # The fingerprint of the input items journaled so far; written with the commit
        # that makes their rows durable, so the two never disagree.
        self._source_digest: str | None = None
        self._source_dirty = False

    # -- transactions --------------------------------------------------------------------
    def commit(self) -> None:
        """Make every write so far durable, or raise JournalError (and write no more)."""
        self._check_usable()
        if self.defer_commits:
            self.commit_owed = True
            return
        self.commit_owed = False
        if self._db.in_transaction:
            try:
                if self._source_dirty and self._source_digest is not None:
                    self._set_meta("source_digest", self._source_digest)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._poisoned(exc) from exc
            self._source_dirty = False
        self.pending_writes = 0

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """One write step of a caller's own (a store creating a campaign)."""
        return self._atomic()

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for a step inside :meth:`atomic` (on the owner's thread)."""
        return self._db

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """One write step: whole, or (on any error) as if it never began."""
        self._check_usable()
        try:
            self._begin()
            self._db.execute("SAVEPOINT step")
        except sqlite3.Error as exc:
            raise self._poisoned(exc) from exc
        try:
            yield
        except BaseException as exc:
            if exc is self._failed:
                raise  # a step inside poisoned the journal: the disk's error, as it was
            cause = _sqlite_cause(exc)
            if not self._db.in_transaction:
                # On a full disk or an I/O error SQLite may roll the WHOLE transaction
                # back by itself: the savepoint, and the batch before it, are gone. Say
                # the disk's error (not "no such savepoint"), and write no more.
                raise self._poisoned(cause or exc) from exc
            try:
                self._db.execute("ROLLBACK TO step")
                self._db.execute("RELEASE step")
            except sqlite3.Error as undo:
                storage = cause if cause is not None and _is_storage(cause) else None
                raise self._poisoned(storage or undo) from exc
            if isinstance(cause, sqlite3.OperationalError) and _is_storage(cause):
                raise self._poisoned(cause) from exc
            raise
        try:
            self._db.execute("RELEASE step")
        except sqlite3.Error as exc:
            raise self._poisoned(exc) from exc

    def _poisoned(self, exc: BaseException) -> JournalError:
        """The disk refused a write: back to the last commit, and no write after this."""
        if self._failed is None:
            with contextlib.suppress(sqlite3.Error):
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            self._failed = storage_error(self.path, exc)
            self._source_dirty = False
        return self._failed

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise self._failed

    @property
    def in_transaction(self) -> bool:
        """Whether writes are waiting for a commit (False once closed or poisoned)."""
        try:
            return self._failed is None and self._db.in_transaction
        except sqlite3.ProgrammingError:  # closed
            return False

    @property
    def failed(self) -> JournalError | None:
        """Why the journal takes no more writes, if a write failed."""
        return self._failed

    def _begin(self) -> None:
        if not self._db.in_transaction:
            # IMMEDIATE: the write lock is taken here, where the busy timeout applies. A
            # control command in another process may commit between a deferred BEGIN's
            # first read and its first write, and SQLite would then fail the write at once.
            self._db.execute("BEGIN IMMEDIATE")

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        self._db.execute(sql, params)
        self.pending_writes += 1

    def _update(self, seq: int, expected: str, sql: str, params: tuple[Any, ...]) -> None:
        """Update one contact that must be in state ``expected`` (else JournalError)."""
        cursor = self._db.execute(
            f"{sql} WHERE campaign = ? AND seq = ? AND state = ?",
            (*params, self.campaign, seq, expected),
        )
        if cursor.rowcount != 1:
            raise StaleTransition(f"contact #{seq} is not {expected}: refusing the change")
        self.pending_writes += 1

    def _log(
        self,
        seq: int,
        attempt: int | None,
        now: float,
        event: str,
        *,
        call_sid: str | None = None,
        status: str | None = None,
        detail: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO log (campaign, contact, attempt, at, event, call_sid, status, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (self.campaign, seq, attempt, now, event, call_sid, status, detail),
        )

    def _meta(self, key: str) -> str | None:
        """A meta value of the campaign."""
        row = self._db.execute(
            "SELECT value FROM campaign_meta WHERE campaign = ? AND key = ?", (self.campaign, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO campaign_meta VALUES (?, ?, ?)", (self.campaign, key, value)
        )

    def _file_meta(self, key: str) -> str | None:
        """A meta value of the file itself (``writer_open``)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_file_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def checkpoint(self, mode: str = "PASSIVE") -> bool:
        """Copy the WAL into the main file; whether all of it went (no reader held it back)."""
        if self._failed is not None or self._db.in_transaction:
            return False
        try:
            busy, frames, copied = self._db.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error:
            return False  # a checkpoint is an optimisation: the WAL still holds it all
        return bool(busy == 0 and frames == copied)

    # -- reading -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A read that SQLite (or JSON in a column) cannot complete: the file is damaged.

        The journal's own refusals (IntegrityError from its triggers) are not damage and
        pass through; anything else would otherwise surface as a bare sqlite3 error.
        """
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.DatabaseError, ValueError, TypeError, OverflowError) as exc:
            raise JournalError(
                f"{self.path} is damaged ({exc}): it cannot be read safely"
            ) from None

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}>"


def _is_storage(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(words in text for words in _STORAGE_WORDS)


def _sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The SQLite error behind ``exc`` (itself, or one it was raised from): a step may
    wrap the disk's refusal in its own error (a read told as damage)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, sqlite3.Error):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
