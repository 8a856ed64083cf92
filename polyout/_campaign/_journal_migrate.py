"""An older journal made a store of this schema, in place.

Schema 1 (polyout 0.1.0, one campaign per file) becomes a multi-campaign store; schema 2
gains the tables of schema 3 (``_journal_tables_v3``), and nothing else changes.

The migration runs in one transaction when the file is opened for writing: it is
migrated whole, or (a crash, a full disk) left exactly as 0.1.0 wrote it, and opened
again next time. Its one campaign becomes the store's campaign ``default``
(``DEFAULT_CAMPAIGN``), with every contact, intent, log line and do-not-call number
kept as it was: a resume after the upgrade dials no one the 0.1 run may have rung.

A file that cannot be written (read-only, or a 0.1 runner has it open) is refused with
what to do, never read through the old schema's eyes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_schema import (
    DEFAULT_CAMPAIGN,
    SCHEMA_VERSION,
    TABLES,
    TRANSITION_ROWS,
    check_schema,
    connect,
    storage_error,
)
from polyout._campaign._journal_tables_v3 import ADDED_IN_3
from polyout._campaign._lock import JournalLock

__all__ = ["campaign_id", "migrate", "upgraded"]

#: The tables of schema 1, and the columns each kept (all of them move).
_V1_TABLES = ("meta", "transitions", "contacts", "suppressed", "attempts", "log")
_CONTACT_COLUMNS = (
    "seq, contact_id, row, to_number, dialable, request, zones, state, tries, attempts,"
    " not_placed, next_due, call_sid, call_status, poll_deadline, reason, error,"
    " correlation_id, created_at, first_attempt_at, last_attempt_at, finished_at"
)
_ATTEMPT_COLUMNS = (
    "contact, n, started_at, call_sid, correlation_id, outcome, reason, error, ended_at"
)
_LOG_COLUMNS = "id, contact, attempt, at, event, call_sid, status, detail"
#: Schema 1 meta keys that belong to the file, not to its campaign.
_FILE_KEYS = ("writer_open",)

_STEPS = f"""
DROP TRIGGER IF EXISTS contacts_checked_transition;
DROP TRIGGER IF EXISTS attempts_exactly_once;
{"".join(f"ALTER TABLE {table} RENAME TO v1_{table};" for table in _V1_TABLES)}
{
    "".join(
        f"DROP INDEX IF EXISTS {index};"
        for index in (
            "contacts_due",
            "contacts_active",
            "contacts_number",
            "contacts_id",
            "contacts_dialable_number",
            "log_contact",
        )
    )
}
{TABLES}
INSERT INTO campaigns (id, name, created_at)
    SELECT 1, '{DEFAULT_CAMPAIGN}',
           COALESCE((SELECT CAST(value AS REAL) FROM v1_meta WHERE key = 'created_at'), 0.0);
INSERT INTO meta SELECT key, value FROM v1_meta WHERE key IN ({
    ", ".join(f"'{key}'" for key in _FILE_KEYS)
});
INSERT INTO campaign_meta SELECT 1, key, value FROM v1_meta WHERE key NOT IN ({
    ", ".join(f"'{key}'" for key in _FILE_KEYS)
});
INSERT INTO contacts (campaign, first_due, {_CONTACT_COLUMNS})
    SELECT 1, CASE WHEN dialable = 1 AND tries = 0 THEN next_due END, {_CONTACT_COLUMNS}
    FROM v1_contacts;
INSERT INTO attempts (campaign, {_ATTEMPT_COLUMNS})
    SELECT 1, {_ATTEMPT_COLUMNS} FROM v1_attempts;
INSERT INTO log (campaign, {_LOG_COLUMNS}) SELECT 1, {_LOG_COLUMNS} FROM v1_log;
INSERT INTO suppressed SELECT 1, number FROM v1_suppressed;
INSERT INTO transitions VALUES {", ".join(f"('{a}', '{b}')" for a, b in TRANSITION_ROWS)};
{"".join(f"DROP TABLE v1_{table};" for table in reversed(_V1_TABLES))}
PRAGMA user_version = {SCHEMA_VERSION};
"""

#: Schema 2 (polyout 0.2 before live control, webhooks and policy) to schema 3.
_V2_STEPS = f"""
{ADDED_IN_3}
PRAGMA user_version = {SCHEMA_VERSION};
"""


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Make the older journal on ``connection`` a store of this schema, in one transaction.

    The caller holds the journal's lock (no 0.1 runner is writing it) and has checked
    the file (``check_schema``); the caller checks it again after.
    """
    try:
        # One script, one transaction: BEGIN and COMMIT are part of it, so a failure
        # anywhere leaves the transaction open here, to be rolled back whole.
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        steps = _STEPS if version == 1 else _V2_STEPS
        connection.executescript("BEGIN IMMEDIATE;" + steps + "COMMIT;")
    except sqlite3.Error as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError) and _is_storage(exc):
            raise JournalError(
                f"{storage_error(path, exc)}: it is a polyout 0.1.0 journal, which must be "
                "upgraded in place; make room (or copy it somewhere writable) and open it again"
            ) from exc
        raise JournalError(
            f"{path} is a polyout 0.1.0 journal that could not be upgraded ({exc}): it was left "
            "as it was; resume it with polyout 0.1.0, or report this"
        ) from exc


def _is_storage(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("disk is full", "readonly", "disk i/o error", "read-only"))


def upgraded(
    connection: sqlite3.Connection, path: Path, *, writable: bool, locked: bool
) -> sqlite3.Connection:
    """The journal on ``connection`` migrated; a connection of the same kind on it.

    ``writable``: ``connection`` can write (a runner's, which holds the lock).
    ``locked``: the caller holds the journal's lock. A reader that does not takes it
    for the migration, and is refused while a 0.1 runner has the file.
    """
    if writable:
        migrate(connection, path)
        check_schema(connection, path)
        return connection
    connection.close()
    lock = None if locked else _lock_to_upgrade(path)
    try:
        writer = connect(path)
        try:
            migrate(writer, path)
        finally:
            writer.close()
    finally:
        if lock is not None:
            lock.release()
    reader = connect(path, read_only=True)
    try:
        check_schema(reader, path)
    except BaseException:
        reader.close()
        raise
    return reader


def _lock_to_upgrade(path: Path) -> JournalLock:
    try:
        return JournalLock(path)
    except JournalError:
        raise JournalError(
            f"{path} is a polyout 0.1.0 journal in use by a running campaign: it is upgraded "
            "the first time this polyout opens it; wait for that run to end, then try again"
        ) from None


def campaign_id(connection: sqlite3.Connection, path: Path, name: str | None) -> int:
    """The id of campaign ``name`` in the store at ``path``; by default its only one."""
    rows = connection.execute("SELECT id, name FROM campaigns ORDER BY id").fetchall()
    if name is not None:
        for campaign, stored in rows:
            if stored == name:
                return int(campaign)
        raise JournalError(f"{path} holds no campaign named {name!r}")
    if len(rows) == 1:
        return int(rows[0][0])
    if not rows:
        raise JournalError(f"{path} holds no campaign")
    names = ", ".join(repr(stored) for _, stored in rows)
    raise JournalError(f"{path} holds several campaigns ({names}): name the one to open")
