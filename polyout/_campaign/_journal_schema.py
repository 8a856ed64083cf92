"""The journal's file: its schema, how it is built whole, opened and checked.

A journal is an SQLite file in WAL mode, so it is a *set* of files: ``JOURNAL``,
``JOURNAL-wal`` (commits not yet copied into the main file) and ``JOURNAL-shm``. The
main file alone can be behind; :func:`polyout.export_journal` makes one file that is not.

One file is one *store*, holding any number of named campaigns (schema 2; a 0.1.0
journal, schema 1, held one campaign and is migrated on open: ``_journal_migrate``).
Every table but ``meta`` and ``transitions`` is keyed by campaign:

``meta``
    the file's own state: whether a writer has it open (``writer_open``).
``campaigns``
    one row per campaign: its id, unique name and creation time.
``campaign_meta``
    each campaign's definition: its config (JSON), the connection it runs through
    (never a key), the polyout version that created it, whether the contact source has
    been read to its end, and the fingerprint of the items read so far.
``contacts``
    one row per input item, in input order (``seq``): refused rows are final at once;
    the others go ``scheduled -> dialing -> in_flight -> ...`` until a final state.
``attempts``
    one row per *intent* (the vocabulary of ``_states``; the table keeps its 0.1 name),
    unique per (contact, n), with the sid it got and how it ended.
``log``
    every intent, sid, status change, retry and error, with its time.
``suppressed``
    the do-not-call numbers, so a resumed feed refuses the same numbers.

The journal enforces the exactly-once rules itself, with triggers, so that a bug in
the runner fails loudly instead of ringing someone twice:

* a contact changes state only along the allowed transitions (``transitions`` table,
  filled from :data:`polyout._campaign._states.TRANSITIONS`);
* a new intent is refused while an earlier intent of the same contact may have
  placed a call that did not end in a retryable outcome;
* a number is dialable in at most one contact of a campaign (a partial unique index).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_tables import (
    ACTIVE_STATES,
    APPLICATION_ID,
    DEFAULT_CAMPAIGN,
    FINAL_STATES,
    REQUIRED_OBJECTS,
    RETRYABLE_OUTCOMES,
    SCHEMA,
    SCHEMA_VERSION,
    TABLES,
    TRANSITION_ROWS,
)
from polyout._version import __version__

__all__ = [
    "ACTIVE_STATES",
    "APPLICATION_ID",
    "DEFAULT_CAMPAIGN",
    "FINAL_STATES",
    "RETRYABLE_OUTCOMES",
    "SCHEMA_VERSION",
    "TABLES",
    "TRANSITION_ROWS",
    "NewCampaign",
    "build",
    "check_schema",
    "connect",
    "refuse_damage",
    "sidecars",
    "storage_error",
    "sync_folder",
]

# Frames in the WAL before SQLite copies them into the main file on its own (its default
# is 1000): the main file, which is what gets copied by mistake, stays close behind.
_AUTOCHECKPOINT_PAGES = 256


def storage_error(path: Path, exc: BaseException) -> JournalError:
    """The journal could not be written (disk full, read-only, I/O error), said plainly.

    The SQLite or OS error stays the ``__cause__``: the CLI reads it to tell "cannot
    write" (fix the disk, resume) from a journal it refuses.
    """
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    error = JournalError(f"cannot write the journal {path}: {reason}")
    error.__cause__ = exc
    return error


def build(target: Path, campaign: NewCampaign | None = None) -> Path:
    """Write a complete new journal beside ``target``; returns the file, not yet in place.

    Everything that defines the ``campaign`` (its meta rows and do-not-call list) goes
    in one transaction, before the file can be seen under ``target``: a crash or a full
    disk part-way leaves no journal at all, never one that dials suppressed numbers.
    Without a campaign, the file is an empty store. The name is unique to this process,
    so two creators cannot write the same file.
    """
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    remove_with_sidecars(partial)  # from a creation that crashed with our pid
    try:
        # Made by the OS first: a read-only or full disk then says so with an errno,
        # where SQLite would only say "unable to open database file".
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        connection = connect(partial)
        try:
            connection.executescript("BEGIN;" + SCHEMA + "COMMIT;")
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO transitions VALUES (?, ?)", TRANSITION_ROWS)
            connection.execute("INSERT INTO meta VALUES ('writer_open', '0')")
            if campaign is not None:
                campaign.insert(connection)
            connection.execute("COMMIT")
        finally:
            connection.close()  # the last connection checkpoints the WAL into the file
    except (sqlite3.DatabaseError, OSError) as exc:
        remove_with_sidecars(partial)
        if isinstance(exc, JournalError):
            raise
        raise storage_error(target, exc) from exc
    except BaseException:
        remove_with_sidecars(partial)
        raise
    return partial


@attrs.frozen
class NewCampaign:
    """A campaign's definition as its rows: inserted whole, in the caller's transaction."""

    name: str
    created_at: float
    meta: Mapping[str, str]
    suppressed: Iterable[str]

    def insert(self, connection: sqlite3.Connection) -> int:
        """Insert the campaign; its id. A name already taken raises IntegrityError."""
        cursor = connection.execute(
            "INSERT INTO campaigns (name, created_at) VALUES (?, ?)", (self.name, self.created_at)
        )
        campaign = int(cursor.lastrowid or 0)
        connection.executemany(
            "INSERT INTO campaign_meta VALUES (?, ?, ?)",
            ((campaign, key, value) for key, value in self.meta.items()),
        )
        connection.executemany(
            "INSERT OR IGNORE INTO suppressed VALUES (?, ?)",
            ((campaign, number) for number in self.suppressed),
        )
        return campaign


def base_meta(
    config: Mapping[str, object], now: float, connection: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A new campaign's meta rows (``campaign_meta``)."""
    meta = {
        "config": json.dumps(dict(config), sort_keys=True),
        "created_at": repr(now),
        "polyout_version": __version__,
        "feed_done": "0",
    }
    if connection is not None:
        meta["connection"] = json.dumps(dict(connection), sort_keys=True)
    return meta


def sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def remove_with_sidecars(path: Path) -> None:
    for leftover in (path, *sidecars(path)):
        with contextlib.suppress(OSError):
            leftover.unlink(missing_ok=True)


def sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform can open a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames are journaled anyway
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection set up as every journal connection must be.

    ``read_only`` connections never copy the WAL into the main file, nor delete it:
    only a runner does that, after recording that it closed cleanly (see
    ``_journal._refuse_without_wal``).
    """
    try:
        # isolation_level=None: transactions are begun and committed explicitly, so
        # the moment an intent becomes durable is visible in the code.
        if read_only:
            # On read-only media no writer can make a -wal, and SQLite cannot make the
            # -shm a WAL reader needs: read the file as it is (immutable). With a -wal
            # present, read through it (it holds commits the main file lacks).
            immutable = _folder_unwritable(path) is not None and not sidecars(path)[0].exists()
            uri = path.resolve().as_uri() + ("?immutable=1" if immutable else "?mode=ro")
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
        # FULL: a commit survives a power cut, not only a killed process. Commits are
        # few (two per trigger, one per batch), so the fsyncs are affordable.
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA busy_timeout = 5000")
    except sqlite3.DatabaseError as exc:
        if _is_storage(exc):
            raise storage_error(path, exc) from exc
        refused = _folder_unwritable(path) if "unable to open" in str(exc) else None
        if refused and not read_only:  # a folder we cannot write, not a damaged file
            reason = OSError(refused, os.strerror(refused), str(path.parent))
            raise storage_error(path, reason) from reason  # the errno: told as storage
        raise JournalError(f"{path} is not a usable SQLite journal: {exc}") from None
    return connection


def _folder_unwritable(path: Path) -> int | None:
    """EROFS or EACCES when the journal's folder cannot be written, else None."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return errno.EROFS
    except OSError:
        return None  # a missing folder: bad input, said as such
    return None if os.access(folder, os.W_OK) else errno.EACCES


def _is_storage(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("disk is full", "readonly", "disk i/o error"))


def refuse_damage(path: Path, integrity: object) -> None:
    """Refuse the journal at ``path`` unless SQLite's integrity check said "ok"."""
    if integrity != "ok":
        first = " ".join(str(integrity).replace("*** in database main ***", "").split())
        raise JournalError(f"{path} is damaged ({first[:200]}): it cannot be resumed safely")


def check_schema(connection: sqlite3.Connection, path: Path) -> int:
    """Refuse a file that is not a whole, undamaged journal; its schema version.

    A schema 1 file (polyout 0.1.0) passes the checks that hold for every version and
    is returned as 1: the caller migrates it (``_journal_migrate``) and checks again.
    """
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        application = connection.execute("PRAGMA application_id").fetchone()[0]
        integrity = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a readable campaign journal: {exc}") from None
    if application != APPLICATION_ID:
        raise JournalError(f"{path} is not a polyout campaign journal")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer polyout (journal schema {version}; this one "
            f"reads up to {SCHEMA_VERSION}): upgrade polyout to resume it"
        )
    if version < 1:
        raise JournalError(f"{path} has no journal schema (version {version})")
    refuse_damage(path, integrity)
    if version < SCHEMA_VERSION:
        return int(version)
    found = {
        (kind, name) for kind, name in connection.execute("SELECT type, name FROM sqlite_master")
    }
    missing = sorted(name for _, name in REQUIRED_OBJECTS - found)
    if missing:
        # Without its triggers the journal would no longer refuse a second dial.
        raise JournalError(f"{path} is damaged: it has no {', '.join(missing)}")
    try:
        unset = connection.execute(
            "SELECT name FROM campaigns WHERE id NOT IN"
            " (SELECT campaign FROM campaign_meta WHERE key = 'config')"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a readable campaign journal: {exc}") from None
    if unset is not None:
        # Campaigns are created whole (see Journal.create), so this one was damaged, or
        # half-made by a polyout from before that.
        raise JournalError(
            f"{path} holds no campaign settings: it was never completely created, or it is damaged"
        )
    return int(version)
