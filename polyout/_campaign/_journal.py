"""The campaign journal: one SQLite file (WAL) holding everything a campaign knows.

The journal is the campaign's memory, so that a crash, Ctrl-C or SIGKILL loses no
result and never makes the runner dial anyone twice. It holds:

``meta``
    the campaign's config (JSON), when it was created, by which polyout version, and
    whether the contact source has been read to its end.
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

Durability: the intent to dial and the sid are committed at once (synchronous=FULL,
so not even a power cut loses them); everything else is batched and committed by
:meth:`Journal.commit` every few hundred milliseconds. One connection does all the
writing, in order, so a batch committed with an intent can never be newer than it.

The journal enforces the exactly-once rules itself, with triggers, so that a bug in
the runner fails loudly instead of ringing someone twice:

* a contact changes state only along the allowed transitions (``transitions`` table);
* a new attempt is refused while an earlier attempt of the same contact may have
  placed a call that did not end in a retryable outcome;
* a number is dialable in at most one contact row (a partial unique index).

Times are POSIX seconds (UTC) from the campaign's clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._lock import JournalLock
from polyout._version import __version__

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "RETRYABLE_OUTCOMES",
    "SCHEMA_VERSION",
    "ContactRow",
    "Journal",
    "JournalError",
    "OpenCall",
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


@attrs.frozen
class ContactRow:
    """A scheduled contact as the dispatcher needs it."""

    seq: int
    contact_id: str | None
    to_number: str
    request: Mapping[str, Any]
    zones: tuple[str, ...]
    attempts: int
    tries: int
    not_placed: int


@attrs.frozen
class OpenCall:
    """A placed call not yet followed to its end (for resuming)."""

    seq: int
    contact_id: str | None
    attempt: int
    placed: int
    """Calls placed for the contact so far, this one included."""
    call_sid: str
    call_status: str | None
    placed_at: float
    poll_deadline: float


class Journal:
    """The SQLite journal of one campaign. Not thread-safe: one owner, on one thread."""

    def __init__(
        self, connection: sqlite3.Connection, path: Path, lock: JournalLock | None = None
    ) -> None:
        self._db = connection
        self.path = path
        self._lock = lock
        self.pending_writes = 0

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], config: Mapping[str, Any], now: float) -> Journal:
        """Create a new journal; refuses a file that already holds a campaign.

        The journal appears at ``path`` complete or not at all: it is built beside it and
        renamed into place, so a crash while creating it (even SIGKILL) never leaves a
        file that ``run`` takes for a campaign and ``resume`` cannot read.
        """
        target = Path(path)
        _refuse_existing(target)
        lock = JournalLock(target)
        try:
            _refuse_existing(target)  # another process may have created it meanwhile
            _build(target, config, now)
            journal = cls(_connect(target), target, lock)
        except BaseException:
            lock.release()
            raise
        return journal

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, owner: bool = True) -> Journal:
        """Open an existing journal, refusing one this polyout cannot read safely.

        ``owner`` takes the journal's lock: only one process may run a campaign from
        it at a time. Readers (exporting results) pass ``owner=False``.
        """
        target = Path(path)
        if not target.is_file():
            raise JournalError(f"no campaign journal at {target}")
        lock = JournalLock(target) if owner else None
        try:
            connection = _connect(target)
            try:
                _check_schema(connection, target)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls(connection, target, lock)

    def close(self) -> None:
        """Commit what is pending, close and release the lock. Safe to call twice."""
        try:
            self.commit()
        finally:
            self._db.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    # -- meta ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        with self._reading():
            value = json.loads(self._meta("config") or "{}")
        if not isinstance(value, dict):
            raise JournalError(f"{self.path}: the stored config is not a JSON object")
        return value

    @property
    def created_at(self) -> float:
        with self._reading():
            return float(self._meta("created_at") or 0.0)

    @property
    def feed_done(self) -> bool:
        with self._reading():
            return self._meta("feed_done") == "1"

    def mark_feed_done(self) -> None:
        self._begin()
        self._set_meta("feed_done", "1")
        self.commit()

    # -- feeding -------------------------------------------------------------------------
    def contact_count(self) -> int:
        """How many input items the journal holds (the feed resumes after them)."""
        with self._reading():
            return int(self._db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0])

    def add_suppressed(self, numbers: Iterable[str]) -> None:
        self._begin()
        self._db.executemany(
            "INSERT OR IGNORE INTO suppressed VALUES (?)", ((number,) for number in numbers)
        )
        self.commit()

    def suppressed_numbers(self) -> frozenset[str]:
        with self._reading():
            return frozenset(row[0] for row in self._db.execute("SELECT number FROM suppressed"))

    # A contact takes its number and id when it is planned (dialable) or suppressed; an
    # invalid or duplicate row leaves both free. Lookups see uncommitted rows too.
    _TAKEN = "(dialable = 1 OR state = 'suppressed')"

    def has_taken_number(self, e164: str) -> bool:
        """Whether an earlier contact of the campaign took the number ``e164``."""
        sql = f"SELECT 1 FROM contacts WHERE to_number = ? AND {self._TAKEN} LIMIT 1"
        return self._db.execute(sql, (e164,)).fetchone() is not None

    def has_taken_id(self, contact_id: str) -> bool:
        """Whether an earlier contact of the campaign took the id ``contact_id``."""
        sql = f"SELECT 1 FROM contacts WHERE contact_id = ? AND {self._TAKEN} LIMIT 1"
        return self._db.execute(sql, (contact_id,)).fetchone() is not None

    def add_refused(
        self,
        seq: int,
        *,
        contact_id: str | None,
        row: int | None,
        to_number: str | None,
        state: str,
        reason: str,
        now: float,
    ) -> None:
        if state not in FINAL_STATES:
            raise JournalError(f"a refused contact must be final, not {state!r}")
        self._write(
            "INSERT INTO contacts (seq, contact_id, row, to_number, dialable, state, reason,"
            " created_at, finished_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (seq, contact_id, row, to_number, state, reason, now, now),
        )

    def add_planned(
        self,
        seq: int,
        *,
        contact_id: str | None,
        row: int | None,
        to_number: str,
        request: Mapping[str, Any],
        zones: tuple[str, ...],
        due: float,
        now: float,
    ) -> None:
        self._write(
            "INSERT INTO contacts (seq, contact_id, row, to_number, dialable, request, zones,"
            " state, next_due, created_at) VALUES (?, ?, ?, ?, 1, ?, ?, 'scheduled', ?, ?)",
            (
                seq,
                contact_id,
                row,
                to_number,
                json.dumps(dict(request), separators=(",", ":")),
                json.dumps(list(zones)),
                due,
                now,
            ),
        )

    # -- dispatching ---------------------------------------------------------------------
    def due_contacts(self, now: float, limit: int, skip: Iterable[int] = ()) -> list[ContactRow]:
        """Scheduled contacts due by ``now``, earliest first, leaving out ``skip``."""
        skipped = set(skip)
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, contact_id, to_number, request, zones, attempts, tries, not_placed"
                " FROM contacts WHERE state = 'scheduled' AND next_due <= ?"
                " ORDER BY next_due, seq LIMIT ?",
                (now, limit + len(skipped)),
            ).fetchall()
            return [
                ContactRow(
                    seq=row[0],
                    contact_id=row[1],
                    to_number=row[2],
                    request=json.loads(row[3]),
                    zones=tuple(json.loads(row[4])),
                    attempts=row[5],
                    tries=row[6],
                    not_placed=row[7],
                )
                for row in rows
                if row[0] not in skipped
            ][:limit]

    def next_due(self, skip: Iterable[int] = ()) -> float | None:
        """The earliest time a scheduled contact (other than ``skip``) becomes due."""
        skipped = set(skip)
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, next_due FROM contacts WHERE state = 'scheduled'"
                " ORDER BY next_due, seq LIMIT ?",
                (len(skipped) + 1,),
            ).fetchall()
        for seq, due in rows:
            if seq not in skipped:
                return float(due)
        return None

    def reschedule(self, seq: int, due: float, *, event: str, detail: str, now: float) -> None:
        """Move a scheduled contact to a later time (its calling window is closed)."""
        self._update(seq, "scheduled", "UPDATE contacts SET next_due = ?", (due,))
        self._log(seq, None, now, event, detail=detail)

    # -- one attempt's life --------------------------------------------------------------
    def begin_attempt(self, seq: int, now: float) -> int:
        """Commit the intent to dial, BEFORE the request is sent. Returns the attempt number."""
        self._begin()
        tries = self._db.execute(
            "SELECT tries FROM contacts WHERE seq = ? AND state = 'scheduled'", (seq,)
        ).fetchone()
        if tries is None:
            raise JournalError(f"contact #{seq} is not scheduled: refusing to dial it")
        attempt = int(tries[0]) + 1
        self._update(
            seq,
            "scheduled",
            "UPDATE contacts SET state = 'dialing', tries = ?, last_attempt_at = ?,"
            " first_attempt_at = COALESCE(first_attempt_at, ?), next_due = NULL",
            (attempt, now, now),
        )
        self._db.execute(
            "INSERT INTO attempts (contact, n, started_at) VALUES (?, ?, ?)", (seq, attempt, now)
        )
        self._log(seq, attempt, now, "intent")
        self.commit()
        return attempt

    def record_placed(
        self,
        seq: int,
        attempt: int,
        *,
        call_sid: str,
        call_status: str | None,
        correlation_id: str | None,
        poll_deadline: float,
        now: float,
    ) -> None:
        """Commit the sid at once: without it the call could not be followed after a crash."""
        self._begin()
        self._update(
            seq,
            "dialing",
            "UPDATE contacts SET state = 'in_flight', attempts = attempts + 1, not_placed = 0,"
            " call_sid = ?, call_status = ?, correlation_id = ?, poll_deadline = ?,"
            " reason = NULL, error = NULL",
            (call_sid, call_status, correlation_id, poll_deadline),
        )
        self._db.execute(
            "UPDATE attempts SET call_sid = ?, correlation_id = ? WHERE contact = ? AND n = ?",
            (call_sid, correlation_id, seq, attempt),
        )
        self._log(seq, attempt, now, "placed", call_sid=call_sid, status=call_status)
        self.commit()

    def record_not_placed(
        self, seq: int, attempt: int, *, error: str, due: float | None, now: float
    ) -> None:
        """The trigger provably placed no call: reschedule at ``due``, or fail when None."""
        self._end_attempt(seq, attempt, "not_placed", None, error, now)
        if due is None:
            self._update(
                seq,
                "dialing",
                "UPDATE contacts SET state = 'failure', not_placed = not_placed + 1,"
                " error = ?, finished_at = ?",
                (error, now),
            )
            self._log(seq, attempt, now, "final", status="failure", detail=error)
        else:
            self._update(
                seq,
                "dialing",
                "UPDATE contacts SET state = 'scheduled', not_placed = not_placed + 1,"
                " next_due = ?, error = ?",
                (due, error),
            )
            self._log(seq, attempt, now, "not_placed", detail=error)

    def record_refused(
        self, seq: int, attempt: int, *, state: str, reason: str, error: str, now: float
    ) -> None:
        """The server refused this contact's request for good (a 400, say)."""
        self._end_attempt(seq, attempt, "not_placed", reason, error, now)
        self._update(
            seq,
            "dialing",
            "UPDATE contacts SET state = ?, reason = ?, error = ?, finished_at = ?",
            (state, reason, error, now),
        )
        self._log(seq, attempt, now, "final", status=state, detail=error)

    def record_unknown(
        self, seq: int, attempt: int, *, reason: str, error: str, now: float
    ) -> None:
        """The trigger may have placed a call that cannot be followed: never redialled."""
        self._end_attempt(seq, attempt, "unknown", reason, error, now)
        self._update(
            seq,
            "dialing",
            "UPDATE contacts SET state = 'unknown', attempts = attempts + 1, reason = ?,"
            " error = ?, finished_at = ?",
            (reason, error, now),
        )
        self._log(seq, attempt, now, "final", status="unknown", detail=error)

    def record_status(
        self, seq: int, attempt: int, *, call_sid: str, status: str | None, now: float
    ) -> None:
        """A followed call changed status (batched)."""
        self._update(seq, "in_flight", "UPDATE contacts SET call_status = ?", (status,))
        self._log(seq, attempt, now, "status", call_sid=call_sid, status=status)

    def record_poll_error(
        self, seq: int, attempt: int, *, call_sid: str, error: str, now: float
    ) -> None:
        self._log(seq, attempt, now, "poll_error", call_sid=call_sid, detail=error)

    def record_outcome(
        self,
        seq: int,
        attempt: int,
        *,
        outcome: str,
        call_status: str | None,
        reason: str | None,
        error: str | None,
        retry_at: float | None,
        now: float,
    ) -> None:
        """A followed call ended: final, or scheduled again at ``retry_at``."""
        if retry_at is not None and outcome not in RETRYABLE_OUTCOMES:
            raise JournalError(f"a {outcome!r} call is never dialled again")
        self._end_attempt(seq, attempt, outcome, reason, error, now)
        if retry_at is None:
            self._update(
                seq,
                "in_flight",
                "UPDATE contacts SET state = ?, call_status = ?, reason = ?, error = ?,"
                " finished_at = ?, poll_deadline = NULL",
                (outcome, call_status, reason, error, now),
            )
            self._log(seq, attempt, now, "final", status=outcome, detail=reason)
        else:
            self._update(
                seq,
                "in_flight",
                "UPDATE contacts SET state = 'scheduled', call_status = ?, reason = ?,"
                " error = ?, next_due = ?, poll_deadline = NULL",
                (call_status, reason, error, retry_at),
            )
            self._log(seq, attempt, now, "retry", status=outcome, detail=reason)

    def _end_attempt(
        self,
        seq: int,
        attempt: int,
        outcome: str,
        reason: str | None,
        error: str | None,
        now: float,
    ) -> None:
        self._begin()
        cursor = self._db.execute(
            "UPDATE attempts SET outcome = ?, reason = ?, error = ?, ended_at = ?"
            " WHERE contact = ? AND n = ? AND outcome IS NULL",
            (outcome, reason, error, now, seq, attempt),
        )
        if cursor.rowcount != 1:
            raise JournalError(f"attempt {attempt} of contact #{seq} is not open")

    # -- resuming ------------------------------------------------------------------------
    def settle_interrupted_intents(self, now: float) -> int:
        """Intents with no sid (the run stopped between intent and answer) become unknown."""
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, tries FROM contacts WHERE state = 'dialing'"
            ).fetchall()
        reason = "the run stopped after deciding to dial, before the answer was recorded"
        for seq, attempt in rows:
            self.record_unknown(seq, attempt, reason=reason, error="interrupted trigger", now=now)
        self.commit()
        return len(rows)

    def requeue_unknown(self, now: float) -> int:
        """Explicit opt-in: schedule every ``unknown`` contact again."""
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, tries FROM contacts WHERE state = 'unknown'"
            ).fetchall()
        self._begin()
        for seq, attempt in rows:
            self._db.execute(
                "UPDATE attempts SET outcome = 'requeued' WHERE contact = ? AND n = ?"
                " AND outcome = 'unknown'",
                (seq, attempt),
            )
            self._update(
                seq,
                "unknown",
                "UPDATE contacts SET state = 'scheduled', next_due = ?, finished_at = NULL",
                (now,),
            )
            self._log(seq, attempt, now, "requeued")
        self.commit()
        return len(rows)

    def open_calls(self) -> Iterator[OpenCall]:
        """Placed calls not followed to their end, oldest first."""
        query = (
            "SELECT c.seq, c.contact_id, c.tries, c.attempts, c.call_sid, c.call_status,"
            " a.started_at, c.poll_deadline FROM contacts c"
            " JOIN attempts a ON a.contact = c.seq AND a.n = c.tries"
            " WHERE c.state = 'in_flight' ORDER BY a.started_at"
        )
        with self._reading():
            for row in self._db.execute(query):
                yield OpenCall(
                    seq=row[0],
                    contact_id=row[1],
                    attempt=row[2],
                    placed=row[3],
                    call_sid=row[4],
                    call_status=row[5],
                    placed_at=row[6],
                    poll_deadline=row[7],
                )

    def counts_by_state(self) -> dict[str, int]:
        with self._reading():
            rows = self._db.execute("SELECT state, COUNT(*) FROM contacts GROUP BY state")
            return {str(state): int(count) for state, count in rows}

    def contact_zones(self, seq: int) -> tuple[str, ...]:
        """The time zones a contact's calling window is checked in."""
        with self._reading():
            row = self._db.execute("SELECT zones FROM contacts WHERE seq = ?", (seq,)).fetchone()
            return tuple(json.loads(row[0])) if row is not None and row[0] else ()

    # -- reading results -----------------------------------------------------------------
    def result_rows(self) -> Iterator[sqlite3.Row]:
        """Every contact with its outcome, in input order (streamed)."""
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        with self._reading():
            yield from cursor.execute(
                "SELECT seq, contact_id, row, to_number, state, call_sid, attempts, reason,"
                " error, correlation_id, first_attempt_at, last_attempt_at, finished_at,"
                " next_due FROM contacts ORDER BY seq"
            )

    def check_rows(self) -> None:
        """Read every contact once, so damage inside a value surfaces now as a JournalError
        rather than halfway through a run (a page check cannot see a scribbled value)."""
        with self._reading():
            for _ in self._db.execute("SELECT * FROM contacts"):
                pass

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
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise JournalError(
                f"{self.path} is damaged ({exc}): it cannot be read safely"
            ) from None

    # -- transactions --------------------------------------------------------------------
    def commit(self) -> None:
        """Make every write so far durable."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self.pending_writes = 0

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        self._begin()
        self._db.execute(sql, params)
        self.pending_writes += 1

    def _update(self, seq: int, expected: str, sql: str, params: tuple[Any, ...]) -> None:
        """Update one contact that must be in state ``expected`` (else JournalError)."""
        self._begin()
        cursor = self._db.execute(f"{sql} WHERE seq = ? AND state = ?", (*params, seq, expected))
        if cursor.rowcount != 1:
            raise JournalError(f"contact #{seq} is not {expected}: refusing the change")
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
        self._begin()
        self._db.execute(
            "INSERT INTO log (contact, attempt, at, event, call_sid, status, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, attempt, now, event, call_sid, status, detail),
        )

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def __repr__(self) -> str:
        return f"<Journal {str(self.path)!r}>"


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


def _refuse_existing(target: Path) -> None:
    if target.exists() and target.stat().st_size > 0:
        raise JournalError(
            f"{target} already holds a campaign: resume it with Campaign.resume(), "
            "or choose another journal file"
        )


def _build(target: Path, config: Mapping[str, Any], now: float) -> None:
    """Write a complete new journal to ``target`` through a file beside it, then rename."""
    partial = target.with_name(target.name + ".partial")
    for leftover in (partial, *_sidecars(partial)):  # from a creation that crashed
        leftover.unlink(missing_ok=True)
    connection = _connect(partial)
    try:
        connection.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO transitions VALUES (?, ?)", _TRANSITIONS)
        meta = {
            "config": json.dumps(dict(config), sort_keys=True),
            "created_at": repr(now),
            "polyout_version": __version__,
            "feed_done": "0",
        }
        connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        connection.execute("COMMIT")
    finally:
        connection.close()  # the last connection checkpoints the WAL into the file
    os.replace(partial, target)
    _sync_folder(target.parent)


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _sync_folder(folder: Path) -> None:
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


def _connect(path: Path) -> sqlite3.Connection:
    try:
        # isolation_level=None: transactions are begun and committed explicitly, so
        # the moment an intent becomes durable is visible in the code.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        connection.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit survives a power cut, not only a killed process. Commits are
        # few (two per trigger, one per batch), so the fsyncs are affordable.
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA busy_timeout = 5000")
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path} is not a usable SQLite journal: {exc}") from None
    return connection


def _check_schema(connection: sqlite3.Connection, path: Path) -> None:
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
