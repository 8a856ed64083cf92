"""The journal's file: its schema, how it is built whole, opened and checked.

A journal is an SQLite file in WAL mode, so it is a *set* of files: ``JOURNAL``,
``JOURNAL-wal`` (commits not yet copied into the main file) and ``JOURNAL-shm``. The
main file alone can be behind; :func:`polyout.export_journal` makes one file that is not.

Tables:

``meta``
    the campaign's config (JSON), the connection it runs through (never a key), when it
    was created and by which polyout version, whether the contact source has been read to
    its end, and the fingerprint of the items read so far (see ``_fingerprint``).
``contacts``
    one row per input item, in input order (``seq``): refused rows are final at once;
    the others go ``scheduled -> dialing -> in_flight -> ...`` until a final state.
``attempts``
    one row per trigger intent, unique per (contact, n), with the sid it got and how
    it ended.
``log``
    every trigger, sid, status change, retry and error, with its time.
``suppressed``
    the do-not-call numbers, so a resumed feed refuses the same numbers.

The journal enforces the exactly-once rules itself, with triggers, so that a bug in
the runner fails loudly instead of ringing someone twice:

* a contact changes state only along the allowed transitions (``transitions`` table);
* a new attempt is refused while an earlier attempt of the same contact may have
  placed a call that did not end in a retryable outcome;
* a number is dialable in at most one contact row (a partial unique index).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from polyout._campaign._errors import JournalError
from polyout._version import __version__

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "RETRYABLE_OUTCOMES",
    "SCHEMA_VERSION",
    "build",
    "check_schema",
    "connect",
    "sidecars",
    "storage_error",
    "sync_folder",
]

#: Bumped whenever the schema changes; a journal from a newer polyout is refused.
SCHEMA_VERSION = 1
_APPLICATION_ID = 0x706F6C79  # "poly": marks the file as a polyout journal

#: States a contact ends in; each contact has exactly one of them once it is done.
FINAL_STATES = frozenset(
    {
        "success",
        "failure",
        "no_answer",
        "busy",
        "cancelled",
        "expired",
        "unknown",
        "invalid",
        "duplicate",
        "suppressed",
    }
)
#: A call may be under way for a contact in these states.
ACTIVE_STATES = frozenset({"dialing", "in_flight"})
#: Outcomes of a placed call that may be dialled again later.
RETRYABLE_OUTCOMES = frozenset({"no_answer", "busy", "failure"})

_CALL_OUTCOMES = ("success", "failure", "no_answer", "busy", "cancelled", "expired")
_TRANSITIONS: tuple[tuple[str, str], ...] = (
    ("scheduled", "scheduled"),  # moved to a later time (calling window)
    ("scheduled", "dialing"),  # intent to dial committed
    ("dialing", "scheduled"),  # provably not placed: try again later
    ("dialing", "in_flight"),  # placed, sid known
    ("dialing", "unknown"),  # may have been placed, cannot be followed
    ("dialing", "failure"),  # refused for good, or not placed too many times
    ("dialing", "invalid"),  # the server refused the request's content (400)
    ("in_flight", "scheduled"),  # retryable outcome, attempts left
    *(("in_flight", outcome) for outcome in _CALL_OUTCOMES),
    ("unknown", "scheduled"),  # explicit opt-in: requeue_unknown
)

_SCHEMA = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE transitions (
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    PRIMARY KEY (from_state, to_state)
) WITHOUT ROWID;

CREATE TABLE contacts (
    seq INTEGER PRIMARY KEY,        -- position in the input, from 0
    contact_id TEXT,
    row INTEGER,                    -- line or row number in the source file
    to_number TEXT,                 -- E.164; the raw text for an invalid row
    dialable INTEGER NOT NULL,      -- 1 when the contact was planned for dialling
    request TEXT,                   -- JSON: metadata, encryption, variant_id
    zones TEXT,                     -- JSON list of IANA zones for the calling window
    state TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,       -- trigger intents, placed or not
    attempts INTEGER NOT NULL DEFAULT 0,    -- intents that placed (or may have placed) a call
    not_placed INTEGER NOT NULL DEFAULT 0,  -- consecutive triggers that placed nothing
    next_due REAL,                  -- when a scheduled contact may be dialled
    call_sid TEXT,
    call_status TEXT,               -- the server's last status word for the current call
    poll_deadline REAL,             -- give up following the current call then
    reason TEXT,
    error TEXT,
    correlation_id TEXT,
    created_at REAL NOT NULL,
    first_attempt_at REAL,
    last_attempt_at REAL,
    finished_at REAL
);
CREATE INDEX contacts_due ON contacts (next_due, seq) WHERE state = 'scheduled';
CREATE INDEX contacts_active ON contacts (state) WHERE state IN ('dialing', 'in_flight');
CREATE INDEX contacts_number ON contacts (to_number);
CREATE INDEX contacts_id ON contacts (contact_id);
CREATE UNIQUE INDEX contacts_dialable_number ON contacts (to_number) WHERE dialable = 1;

CREATE TABLE attempts (
    contact INTEGER NOT NULL REFERENCES contacts (seq),
    n INTEGER NOT NULL,
    started_at REAL NOT NULL,
    call_sid TEXT UNIQUE,
    correlation_id TEXT,
    outcome TEXT,                   -- NULL while open; a call outcome, unknown or not_placed
    reason TEXT,
    error TEXT,
    ended_at REAL,
    PRIMARY KEY (contact, n)
) WITHOUT ROWID;

CREATE TABLE log (
    id INTEGER PRIMARY KEY,
    contact INTEGER NOT NULL,
    attempt INTEGER,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    call_sid TEXT,
    status TEXT,
    detail TEXT
);
CREATE INDEX log_contact ON log (contact);

CREATE TABLE suppressed (number TEXT PRIMARY KEY) WITHOUT ROWID;

CREATE TRIGGER contacts_checked_transition
BEFORE UPDATE OF state ON contacts
WHEN NOT EXISTS (
    SELECT 1 FROM transitions WHERE from_state = OLD.state AND to_state = NEW.state
)
BEGIN
    SELECT RAISE(ABORT, 'polyout journal: illegal contact state transition');
END;

CREATE TRIGGER attempts_exactly_once
BEFORE INSERT ON attempts
WHEN EXISTS (
    SELECT 1 FROM attempts
    WHERE contact = NEW.contact
      AND (outcome IS NULL
           OR outcome NOT IN ('not_placed', 'requeued', 'no_answer', 'busy', 'failure'))
)
BEGIN
    SELECT RAISE(ABORT, 'polyout journal: a previous attempt may have placed a call');
END;

PRAGMA user_version = {SCHEMA_VERSION};
PRAGMA application_id = {_APPLICATION_ID};
"""

#: What a journal must contain; the triggers and the unique index enforce exactly-once.
_REQUIRED_OBJECTS = frozenset(
    {
        *(("table", name) for name in ("meta", "transitions", "contacts", "attempts", "log")),
        ("table", "suppressed"),
        ("trigger", "contacts_checked_transition"),
        ("trigger", "attempts_exactly_once"),
        ("index", "contacts_dialable_number"),
    }
)

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


def build(
    target: Path,
    meta: Mapping[str, str],
    suppressed: Iterable[str],
) -> Path:
    """Write a complete new journal beside ``target``; returns the file, not yet in place.

    Everything that defines the campaign (its meta rows and do-not-call list) goes in
    one transaction, before the file can be seen under ``target``: a crash or a full
    disk part-way leaves no journal at all, never one that dials suppressed numbers.
    The name is unique to this process, so two creators cannot write the same file.
    """
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    remove_with_sidecars(partial)  # from a creation that crashed with our pid
    try:
        connection = connect(partial)
        try:
            connection.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO transitions VALUES (?, ?)", _TRANSITIONS)
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.executemany(
                "INSERT OR IGNORE INTO suppressed VALUES (?)",
                ((number,) for number in suppressed),
            )
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


def base_meta(config: Mapping[str, object], now: float) -> dict[str, str]:
    return {
        "config": json.dumps(dict(config), sort_keys=True),
        "created_at": repr(now),
        "polyout_version": __version__,
        "feed_done": "0",
    }


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
    ``Journal._check_not_behind``).
    """
    try:
        # isolation_level=None: transactions are begun and committed explicitly, so
        # the moment an intent becomes durable is visible in the code.
        if read_only:
            uri = path.resolve().as_uri() + "?mode=ro"
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
        raise JournalError(f"{path} is not a usable SQLite journal: {exc}") from None
    return connection


def _is_storage(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("disk is full", "readonly", "disk i/o error"))


def check_schema(connection: sqlite3.Connection, path: Path) -> None:
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        application = connection.execute("PRAGMA application_id").fetchone()[0]
        integrity = connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a readable campaign journal: {exc}") from None
    if application != _APPLICATION_ID:
        raise JournalError(f"{path} is not a polyout campaign journal")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer polyout (journal schema {version}; this one "
            f"reads up to {SCHEMA_VERSION}): upgrade polyout to resume it"
        )
    if version < 1:
        raise JournalError(f"{path} has no journal schema (version {version})")
    if integrity != "ok":
        first = " ".join(str(integrity).replace("*** in database main ***", "").split())
        raise JournalError(f"{path} is damaged ({first[:200]}): it cannot be resumed safely")
    found = {
        (kind, name) for kind, name in connection.execute("SELECT type, name FROM sqlite_master")
    }
    missing = sorted(name for _, name in _REQUIRED_OBJECTS - found)
    if missing:
        # Without its triggers the journal would no longer refuse a second dial.
        raise JournalError(f"{path} is damaged: it has no {', '.join(missing)}")
    try:
        config = connection.execute("SELECT 1 FROM meta WHERE key = 'config'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a readable campaign journal: {exc}") from None
    if config is None:
        # Journals are created whole (see Journal.create), so this one was damaged, or
        # half-made by a polyout from before that.
        raise JournalError(
            f"{path} holds no campaign settings: it was never completely created, or it is damaged"
        )
