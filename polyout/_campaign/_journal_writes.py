"""What the runner writes to the journal: contacts fed in, and each attempt's life.

Every method is one atomic step (see ``_journal_core``). The intent and the sid are
committed before the method returns; the rest waits for the next batched commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_core import JournalCore
from polyout._campaign._journal_schema import FINAL_STATES, RETRYABLE_OUTCOMES

__all__ = ["DuplicateCallSid", "JournalWrites"]


class DuplicateCallSid(JournalError):
    """The server gave a sid that another attempt already has: the contact is now unknown.

    The trigger may well have placed a call, but it cannot be followed: its status would
    be the other call's. The journal records the contact ``unknown`` with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JournalWrites(JournalCore):
    # -- meta ----------------------------------------------------------------------------
    def mark_feed_done(self) -> None:
        with self._atomic():
            self._set_meta("feed_done", "1")
        self.commit()

    def note_source_digest(self, digest: str) -> None:
        """The fingerprint of the items journaled so far (committed with their rows)."""
        self._source_digest = digest
        self._source_dirty = True

    # -- feeding -------------------------------------------------------------------------
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
        with self._atomic():
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
        with self._atomic():
            self._write(
                "INSERT INTO contacts (seq, contact_id, row, to_number, dialable, request,"
                " zones, state, next_due, created_at)"
                " VALUES (?, ?, ?, ?, 1, ?, ?, 'scheduled', ?, ?)",
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

    def reschedule(self, seq: int, due: float, *, event: str, detail: str, now: float) -> None:
        """Move a scheduled contact to a later time (its calling window is closed)."""
        with self._atomic():
            self._update(seq, "scheduled", "UPDATE contacts SET next_due = ?", (due,))
            self._log(seq, None, now, event, detail=detail)

    # -- one attempt's life --------------------------------------------------------------
    def begin_attempt(self, seq: int, now: float) -> int:
        """Commit the intent to dial, BEFORE the request is sent. Returns the attempt number."""
        with self._atomic():
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
                "INSERT INTO attempts (contact, n, started_at) VALUES (?, ?, ?)",
                (seq, attempt, now),
            )
            self._log(seq, attempt, now, "intent")
        self.commit()
        return attempt

    def begin_retry(self, seq: int, previous: int, now: float) -> int:
        """Commit the intent of the client's next try, after try ``previous`` was closed
        as not placed (:meth:`close_try`). The contact stays ``dialing``."""
        with self._atomic():
            closed = self._db.execute(
                "SELECT 1 FROM contacts c JOIN attempts a ON a.contact = c.seq AND a.n = c.tries"
                " WHERE c.seq = ? AND c.state = 'dialing' AND c.tries = ?"
                " AND a.outcome = 'not_placed'",
                (seq, previous),
            ).fetchone()
            if closed is None:
                raise JournalError(
                    f"try {previous} of contact #{seq} is not closed as not placed: "
                    "refusing to dial it again"
                )
            attempt = previous + 1
            self._update(
                seq,
                "dialing",
                "UPDATE contacts SET tries = ?, last_attempt_at = ?",
                (attempt, now),
            )
            self._db.execute(
                "INSERT INTO attempts (contact, n, started_at) VALUES (?, ?, ?)",
                (seq, attempt, now),
            )
            self._log(seq, attempt, now, "intent")
        self.commit()
        return attempt

    def close_try(self, seq: int, attempt: int, *, error: str, now: float) -> None:
        """The try just sent provably placed nothing: end its intent durably, now.

        The contact stays ``dialing`` (the runner still holds it, and may try again);
        a crash from here on leaves nothing ambiguous about it.
        """
        with self._atomic():
            self._end_attempt(seq, attempt, "not_placed", None, error, now)
            self._log(seq, attempt, now, "not_placed", detail=error)
        self.commit()

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
        """Commit the sid at once: without it the call could not be followed after a crash.

        A sid another attempt already has raises :class:`DuplicateCallSid`, once the
        contact is recorded ``unknown`` (committed too).
        """
        owner = self._sid_owner(call_sid)
        if owner is not None:
            reason = (
                f"the server returned call sid {call_sid}, already used by contact {owner}: "
                "the call may have been placed"
            )
            self.record_unknown(seq, attempt, reason=reason, error="duplicate call sid", now=now)
            self.commit()
            raise DuplicateCallSid(reason)
        with self._atomic():
            self._update(
                seq,
                "dialing",
                "UPDATE contacts SET state = 'in_flight', attempts = attempts + 1,"
                " not_placed = 0, call_sid = ?, call_status = ?, correlation_id = ?,"
                " poll_deadline = ?, reason = NULL, error = NULL",
                (call_sid, call_status, correlation_id, poll_deadline),
            )
            self._db.execute(
                "UPDATE attempts SET call_sid = ?, correlation_id = ? WHERE contact = ? AND n = ?",
                (call_sid, correlation_id, seq, attempt),
            )
            self._log(seq, attempt, now, "placed", call_sid=call_sid, status=call_status)
        self.commit()

    def _sid_owner(self, call_sid: str) -> str | None:
        row = self._db.execute(
            "SELECT c.seq, c.contact_id FROM attempts a JOIN contacts c ON c.seq = a.contact"
            " WHERE a.call_sid = ?",
            (call_sid,),
        ).fetchone()
        if row is None:
            return None
        return repr(row[1]) if row[1] is not None else f"#{row[0]}"

    def record_not_placed(
        self, seq: int, attempt: int, *, error: str, due: float | None, now: float
    ) -> None:
        """The trigger provably placed no call: reschedule at ``due``, or fail when None."""
        with self._atomic():
            self._end_attempt(seq, attempt, "not_placed", None, error, now, not_placed_ok=True)
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
        with self._atomic():
            self._end_attempt(seq, attempt, "not_placed", reason, error, now, not_placed_ok=True)
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
        with self._atomic():
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
        with self._atomic():
            self._update(seq, "in_flight", "UPDATE contacts SET call_status = ?", (status,))
            self._log(seq, attempt, now, "status", call_sid=call_sid, status=status)

    def record_poll_error(
        self, seq: int, attempt: int, *, call_sid: str, error: str, now: float
    ) -> None:
        with self._atomic():
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
        with self._atomic():
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
        *,
        not_placed_ok: bool = False,
    ) -> None:
        cursor = self._db.execute(
            "UPDATE attempts SET outcome = ?, reason = ?, error = ?, ended_at = ?"
            " WHERE contact = ? AND n = ? AND outcome IS NULL",
            (outcome, reason, error, now, seq, attempt),
        )
        if cursor.rowcount == 1:
            return
        if outcome == "not_placed" and not_placed_ok:
            # Closed already by close_try: the try placed nothing, as this says too.
            cursor = self._db.execute(
                "UPDATE attempts SET reason = COALESCE(?, reason), error = ?"
                " WHERE contact = ? AND n = ? AND outcome = 'not_placed'",
                (reason, error, seq, attempt),
            )
            if cursor.rowcount == 1:
                return
        raise JournalError(f"attempt {attempt} of contact #{seq} is not open")

    # -- resuming ------------------------------------------------------------------------
    def settle_interrupted_intents(self, now: float) -> int:
        """Intents with no sid (the run stopped between intent and answer) become unknown.

        A contact whose last try was closed as not placed (the run stopped while the
        client waited to try again) placed nothing: it is scheduled again, now.
        Returns how many became unknown.
        """
        with self._reading():
            rows = self._db.execute(
                "SELECT c.seq, c.tries, a.outcome FROM contacts c"
                " LEFT JOIN attempts a ON a.contact = c.seq AND a.n = c.tries"
                " WHERE c.state = 'dialing'"
            ).fetchall()
        reason = "the run stopped after deciding to dial, before the answer was recorded"
        unknown = 0
        for seq, attempt, outcome in rows:
            if outcome == "not_placed":
                with self._atomic():
                    self._update(
                        seq,
                        "dialing",
                        "UPDATE contacts SET state = 'scheduled', next_due = ?",
                        (now,),
                    )
                    self._log(seq, attempt, now, "not_placed", detail="the run stopped")
                continue
            self.record_unknown(seq, attempt, reason=reason, error="interrupted trigger", now=now)
            unknown += 1
        self.commit()
        return unknown

    def requeue_unknown(self, now: float) -> int:
        """Explicit opt-in: schedule every ``unknown`` contact again."""
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, tries FROM contacts WHERE state = 'unknown'"
            ).fetchall()
        for seq, attempt in rows:
            with self._atomic():
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
