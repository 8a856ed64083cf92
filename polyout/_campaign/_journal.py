"""The campaign journal: one SQLite database (WAL) holding everything a campaign knows.

The journal is the campaign's memory, so that a crash, Ctrl-C or SIGKILL loses no
result and never makes the runner dial anyone twice. Its parts:

* ``_journal_schema``: the tables and the rules they enforce; building and checking a file;
* ``_journal_core``: atomic steps, batched commits, and what a failed write means;
* ``_journal_writes`` and ``_journal_reads``: what the runner and the reports do with it;
* here: creating, opening and closing it, and moving it safely (:func:`export_journal`).

A journal is a set of files (``JOURNAL``, ``JOURNAL-wal``, ``JOURNAL-shm``) while it is
in use or after a crash; the main file alone may be behind. A runner records in the main
file that it has the journal open (``writer_open``) and clears it when it closes, so a
main file that says "open" with no ``-wal`` beside it was copied without it, and is
refused: resumed, it would dial again everyone whose calls only the ``-wal`` recorded.

Times are POSIX seconds (UTC) from the campaign's clock.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from polyout._campaign._errors import JournalError
from polyout._campaign._fingerprint import EMPTY_DIGEST
from polyout._campaign._journal_migrate import campaign_id, upgraded
from polyout._campaign._journal_reads import ContactRow, JournalReads, OpenCall
from polyout._campaign._journal_schema import (
    ACTIVE_STATES,
    DEFAULT_CAMPAIGN,
    FINAL_STATES,
    RETRYABLE_OUTCOMES,
    SCHEMA_VERSION,
    TRANSITION_ROWS,
    NewCampaign,
    base_meta,
    build,
    check_schema,
    connect,
    remove_with_sidecars,
    sidecars,
    storage_error,
    sync_folder,
)
from polyout._campaign._journal_writes import DuplicateCallSid, JournalWrites
from polyout._campaign._lock import JournalLock

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "RETRYABLE_OUTCOMES",
    "SCHEMA_VERSION",
    "ContactRow",
    "DuplicateCallSid",
    "Journal",
    "JournalError",
    "OpenCall",
    "export_journal",
]

#: How long a runner waits for readers to let its "open" mark reach the main file.
CLAIM_SECONDS = 10.0


class Journal(JournalWrites, JournalReads):
    """The SQLite journal of one campaign. Not thread-safe: one owner, on one thread."""

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        config: Mapping[str, Any],
        now: float,
        *,
        suppressed: Iterable[str] = (),
        connection: Mapping[str, str] | None = None,
        name: str = DEFAULT_CAMPAIGN,
    ) -> Journal:
        """Create a new journal; refuses a file that already holds a campaign.

        The journal appears at ``path`` complete or not at all, with everything that
        defines the campaign: its ``config``, its do-not-call list (``suppressed``) and
        the ``connection`` it runs through. It is built beside ``path`` and linked into
        place, so a crash or a full disk while creating it never leaves a file that
        ``run`` refuses and ``resume`` would read as a campaign without its list.
        """
        target = Path(path)
        _refuse_existing(target)
        meta = base_meta(config, now, connection)
        meta["source_digest"] = EMPTY_DIGEST
        return cls._created(target, NewCampaign(name, now, meta, tuple(suppressed)))

    @classmethod
    def create_store(cls, path: str | os.PathLike[str]) -> Journal:
        """Create a new, empty store file (whole, as :meth:`create`); opened for writing,
        on no campaign yet."""
        return cls._created(Path(path), None)

    @classmethod
    def _created(cls, target: Path, campaign: NewCampaign | None) -> Journal:
        _refuse_existing(target)
        partial = build(target, campaign)
        try:
            lock = JournalLock(partial, name=target)
        except BaseException:
            remove_with_sidecars(partial)
            raise
        try:
            _put_in_place(partial, target)
        except BaseException:
            lock.release()
            remove_with_sidecars(partial)
            raise
        return cls._opened(target, lock, store=campaign is None)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, owner: bool = True, campaign: str | None = None
    ) -> Journal:
        """Open an existing journal, refusing one this polyout cannot read safely.

        ``owner`` takes the journal's lock: only one process may run a campaign from
        it at a time. Readers (reports, exporting results) pass ``owner=False``: they
        read through a read-only connection, which never rewrites the file. A 0.1.0
        journal is upgraded first (``_journal_migrate``). ``campaign`` names the
        campaign of a file holding several; by default, its only one.
        """
        target = Path(path)
        if not target.is_file():
            raise JournalError(f"no campaign journal at {target}")
        return cls._opened(target, JournalLock(target) if owner else None, campaign=campaign)

    @classmethod
    def _opened(
        cls,
        target: Path,
        lock: JournalLock | None,
        *,
        locked: bool = False,
        campaign: str | None = None,
        store: bool = False,
    ) -> Journal:
        """Open ``target``: a runner's if ``lock`` is given, else read-only (``locked``:
        the caller holds the lock, so no runner can be writing it meanwhile). ``store``:
        on no campaign yet (the caller sets :attr:`campaign` before any campaign work)."""
        try:
            # Checked before any connection: a read-only one creates an empty -wal, and a
            # second try would then pass the check the first one failed.
            if not sidecars(target)[0].exists() and _main_file_says_open(target):
                _refuse_without_wal(target, locked=locked or lock is not None)
            connection = connect(target, read_only=lock is None)
            try:
                if check_schema(connection, target) < SCHEMA_VERSION:
                    connection = upgraded(
                        connection,
                        target,
                        writable=lock is not None,
                        locked=locked or lock is not None,
                    )
                journal = cls(connection, target, lock)
                if not store:
                    journal.campaign = campaign_id(connection, target, campaign)
                    journal._source_digest = journal._meta("source_digest")
                if lock is not None:
                    journal._claim()
            except BaseException:
                connection.close()
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return journal

    def _claim(self) -> None:
        """Record in the main file itself that a runner has the journal open, before
        anything else is written: a copy of the main file alone, made at any moment
        after this, is then refused instead of resumed from before its calls.

        A reader (a report, a backup, an sqlite3 shell) can hold the copy into the main
        file back: wait for it, within :data:`CLAIM_SECONDS`, else refuse to run.
        """
        with self._atomic():
            self._set_file_meta("writer_open", "1")
            # The file's triggers check moves against this table: it follows the state
            # machine of the polyout that writes (a move is only ever added).
            self._db.executemany("INSERT OR IGNORE INTO transitions VALUES (?, ?)", TRANSITION_ROWS)
        self.commit()
        deadline = time.monotonic() + CLAIM_SECONDS
        while not self._checkpointed_whole():
            if time.monotonic() >= deadline:
                with self._atomic():  # else closing would copy the mark in, with no -wal
                    self._set_file_meta("writer_open", "0")
                self.commit()
                raise JournalError(
                    f"{self.path} is being read by another process that does not let go "
                    "(a report, a backup, an sqlite3 shell): close it and try again"
                )
            time.sleep(0.05)

    def _checkpointed_whole(self) -> bool:
        """Copy the whole WAL into the main file (FULL: waiting for readers up to the
        busy timeout); whether it all went. A write the disk refuses poisons the journal."""
        try:
            busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return False
            raise self._poisoned(exc) from exc
        return bool(busy == 0 and frames == copied)

    def close(self) -> None:
        """Commit what is pending, close and release the lock. Safe to call twice.

        Raises :class:`JournalError` (after closing) when a write was lost: the disk
        refused it, now or earlier.

        A runner records that it closed cleanly, then copies the WAL into the main file.
        When it cannot (the disk refused a write), the WAL must stay beside the file:
        a read-only connection held across the close keeps SQLite from deleting it.
        """
        error: JournalError | None = None
        clean = self._lock is None
        if self._failed is None and not clean:
            try:
                self.commit()
                with self._atomic():
                    self._set_file_meta("writer_open", "0")
                self.commit()
                clean = True
                self.checkpoint("TRUNCATE")
            except JournalError as exc:
                error = exc
        keep_wal: sqlite3.Connection | None = None
        if not clean:
            with contextlib.suppress(JournalError, sqlite3.Error):
                keep_wal = connect(self.path, read_only=True)
                keep_wal.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        try:
            self._db.close()
        finally:
            if keep_wal is not None:
                keep_wal.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None
        if error is None:
            error = self._failed  # a close never reports success after lost writes
        if error is not None:
            raise error

    def abandon(self) -> None:
        """Let go of the file as a killed process would: what is not committed is lost,
        nothing is recorded or cleaned up (a store abandoned after a failure, or a
        crash in a test). The WAL stays beside the file, as after SIGKILL."""
        keep_wal: sqlite3.Connection | None = None
        with contextlib.suppress(JournalError, sqlite3.Error):
            keep_wal = connect(self.path, read_only=True)
            keep_wal.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        try:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()  # uncommitted writes are rolled back, as by a crash
        finally:
            if keep_wal is not None:
                keep_wal.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def export_journal(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> Path:
    """Copy the journal at ``source`` into one self-contained file at ``destination``.

    The safe way to move or back up a journal: a consistent snapshot that includes what
    only the ``-wal`` file holds (``VACUUM INTO``), so the copy resumes exactly where the
    campaign is. Refused while a runner has the journal open, and onto an existing file.
    Resume the copy *or* the original, never both: each would dial the contacts left.
    Returns the destination's path.
    """
    src, dest = Path(source), Path(destination)
    if not src.is_file():
        raise JournalError(f"no campaign journal at {src}")
    _refuse_existing(dest, what="a file")
    lock = JournalLock(src)  # no runner may write while the snapshot is taken
    try:
        journal = Journal._opened(src, None, locked=True)
        partial = dest.with_name(f"{dest.name}.{os.getpid()}.partial")
        remove_with_sidecars(partial)
        try:
            try:
                journal._db.execute("VACUUM INTO ?", (str(partial),))
            finally:
                journal.close()
            copy = connect(partial)  # a WAL journal, like any other
            try:
                copy.execute("INSERT OR REPLACE INTO meta VALUES ('writer_open', '0')")
            finally:
                copy.close()
            _put_in_place(partial, dest)
        except sqlite3.Error as exc:
            raise storage_error(dest, exc) from exc
        finally:
            remove_with_sidecars(partial)
    finally:
        lock.release()
    return dest


def _main_file_says_open(target: Path) -> bool:
    """Whether the main file, read alone (``immutable``: no WAL, no side files created),
    records a runner that has not closed it."""
    try:
        uri = target.resolve().as_uri() + "?immutable=1"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'writer_open'").fetchone()
    except sqlite3.Error:
        return False  # not a journal, or damaged: the full check says which
    return row is not None and row[0] == "1"


def _refuse_without_wal(target: Path, *, locked: bool) -> None:
    """Refuse a main file that a runner left open, found without its ``-wal``."""
    if not locked and JournalLock.is_held(target):
        return  # a runner opened it meanwhile: its WAL holds the truth
    raise JournalError(
        f"{target} was not closed cleanly and its -wal file is missing (copied or moved "
        "without it, or it was deleted): the calls recorded only there would be dialled "
        f"again; put {target.name}-wal back beside it, and move journals with "
        "export_journal (polyout campaign export), which makes one self-contained file"
    )


def _refuse_existing(target: Path, what: str = "a campaign") -> None:
    if target.exists() and target.stat().st_size > 0:
        if what != "a campaign":
            raise JournalError(f"{target} already exists: choose another file")
        raise JournalError(
            f"{target} already holds a campaign: resume it with Campaign.resume(), "
            "or choose another journal file"
        )


def _put_in_place(partial: Path, target: Path) -> None:
    """Give ``partial`` the name ``target``, never replacing a journal made meanwhile."""
    try:
        os.link(partial, target)
    except FileExistsError:
        _refuse_existing(target)  # another process created it first
        os.replace(partial, target)  # an empty file: ``run`` starts afresh over it
    except OSError:  # a file system without hard links
        _refuse_existing(target)
        os.replace(partial, target)
    else:
        partial.unlink()
    sync_folder(target.parent)
