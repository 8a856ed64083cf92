"""What the runner writes to the journal: contacts fed in, and each attempt's life.

Every method is one atomic step (see ``_journal_core``). The intent and the sid are
committed before the method returns; the rest waits for the next batched commit.
"""

from __future__ import annotations

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_feed import JournalFeed
from polyout._campaign._journal_schema import RETRYABLE_OUTCOMES
from polyout._campaign._store import DuplicateCallSid as StoreDuplicateCallSid
from polyout._campaign._store import StaleTransition

__all__ = ["DuplicateCallSid", "JournalWrites"]


class DuplicateCallSid(StoreDuplicateCallSid):
    """The server gave a sid that another attempt already has: the contact is now unknown.

    The trigger may well have placed a call, but it cannot be followed: its status would
    be the other call's. The journal records the contact ``unknown`` with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JournalWrites(JournalFeed):
    # -- moving a scheduled contact ---------------------------------------------------------
    def reschedule(self, seq: int, due: float, *, event: str, detail: str, now: float) -> None:
        """Move a scheduled contact to a later time (its calling window is closed)."""
        with self._atomic():
            self._update(seq, "scheduled", "UPDATE contacts SET next_due = ?", (due,))
            self._log(seq, None, now, event, detail=detail)

    def withdraw(self, seq: int, state: str, *, reason: str, now: float) -> None:
        """A scheduled contact ends ``state`` without any dial (batched)."""
        with self._atomic():
            self._update(
                seq,
                "scheduled",
                "UPDATE contacts SET state = ?, reason = ?, finished_at = ?, next_due = NULL",
                (state, reason, now),
            )
            self._log(seq, None, now, "final", status=state, detail=reason)

    # -- one attempt's life --------------------------------------------------------------
    def begin_attempt(self, seq: int, now: float) -> int:
        """Commit the intent to dial, BEFORE the request is sent. Returns the attempt number."""
        with self._atomic():
            tries = self._db.execute(
                "SELECT tries FROM contacts WHERE campaign = ? AND seq = ? AND state = 'scheduled'",
                (self.campaign, seq),
            ).fetchone()
            if tries is None:
                raise StaleTransition(f"contact #{seq} is not scheduled: refusing to dial it")
            attempt = int(tries[0]) + 1
            self._update(
                seq,
                "scheduled",
                "UPDATE contacts SET state = 'dialing', tries = ?, last_attempt_at = ?,"
                " first_attempt_at = COALESCE(first_attempt_at, ?), next_due = NULL",
                (attempt, now, now),
            )
            self._db.execute(
                "INSERT INTO attempts (campaign, contact, n, started_at) VALUES (?, ?, ?, ?)",
                (self.campaign, seq, attempt, now),
            )
            self._log(seq, attempt, now, "intent")
        self.commit()
        return attempt

    def begin_retry(self, seq: int, previous: int, now: float) -> int:
        """Commit the intent of the client's next try, after try ``previous`` was closed
        as not placed (:meth:`close_try`). The contact stays ``dialing``."""
        with self._atomic():
            closed = self._db.execute(
                "SELECT 1 FROM contacts c JOIN attempts a"
                " ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
                " WHERE c.campaign = ? AND c.seq = ? AND c.state = 'dialing' AND c.tries = ?"
                " AND a.outcome = 'not_placed'",
                (self.campaign, seq, previous),
            ).fetchone()
            if closed is None:
                raise StaleTransition(
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
                "INSERT INTO attempts (campaign, contact, n, started_at) VALUES (?, ?, ?, ?)",
                (self.campaign, seq, attempt, now),
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
        late: bool = False,
    ) -> None:
        """Commit the sid at once: without it the call could not be followed after a crash.

        A sid another attempt already has raises :class:`DuplicateCallSid`, once the
        contact is recorded ``unknown`` (committed too). ``late``: the sid of an
        ``unknown`` contact's attempt, learned late (store clause 3b): in flight after
        all, the attempt not counted again; a duplicate leaves it as it is.
        """
        owner = self._sid_owner(call_sid)
        if owner is not None:
            if late:
                raise DuplicateCallSid(f"call sid {call_sid} is another contact's")
            reason = (
                f"the server returned call sid {call_sid}, already used by contact {owner}: "
                "the call may have been placed"
            )
            self.record_unknown(seq, attempt, reason=reason, error="duplicate call sid", now=now)
            self.commit()
            raise DuplicateCallSid(reason)
        # An unknown's attempt and end are undone; an open attempt has neither to undo.
        counted, undone = (
            ("", ", finished_at = NULL") if late else (", attempts = attempts + 1", "")
        )
        reopened = ", outcome = NULL, reason = NULL, error = NULL, ended_at = NULL" if late else ""
        with self._atomic():
            self._update(
                seq,
                "unknown" if late else "dialing",
                f"UPDATE contacts SET state = 'in_flight'{counted}{undone},"
                " not_placed = 0, call_sid = ?, call_status = ?, correlation_id = ?,"
                " poll_deadline = ?, reason = NULL, error = NULL",
                (call_sid, call_status, correlation_id, poll_deadline),
            )
            self._db.execute(
                f"UPDATE attempts SET call_sid = ?, correlation_id = ?{reopened}"
                " WHERE campaign = ? AND contact = ? AND n = ?",
                (call_sid, correlation_id, self.campaign, seq, attempt),
            )
            self._log(seq, attempt, now, "placed", call_sid=call_sid, status=call_status)
        self.commit()

    def _sid_owner(self, call_sid: str) -> str | None:
        row = self._db.execute(
            "SELECT c.seq, c.contact_id FROM attempts a"
            " JOIN contacts c ON c.campaign = a.campaign AND c.seq = a.contact"
            " WHERE a.campaign = ? AND a.call_sid = ?",
            (self.campaign, call_sid),
        ).fetchone()
        if row is None:
            return None
        return repr(row[1]) if row[1] is not None else f"#{row[0]}"

    def record_not_placed(
        self, seq: int, attempt: int, *, error: str | None, due: float | None, now: float
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
        self,
        seq: int,
        attempt: int,
        *,
        state: str,
        reason: str | None,
        error: str | None,
        now: float,
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
        self, seq: int, attempt: int, *, reason: str, error: str | None, now: float
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
            " WHERE campaign = ? AND contact = ? AND n = ? AND outcome IS NULL",
            (outcome, reason, error, now, self.campaign, seq, attempt),
        )
        if cursor.rowcount == 1:
            return
        if outcome == "not_placed" and not_placed_ok:
            # Closed already by close_try: the try placed nothing, as this says too.
            cursor = self._db.execute(
                "UPDATE attempts SET reason = COALESCE(?, reason), error = ?"
                " WHERE campaign = ? AND contact = ? AND n = ? AND outcome = 'not_placed'",
                (reason, error, self.campaign, seq, attempt),
            )
            if cursor.rowcount == 1:
                return
        raise StaleTransition(f"attempt {attempt} of contact #{seq} is not open")

    # -- resuming ------------------------------------------------------------------------
    def settle_interrupted_intents(self, now: float) -> int:
        """Intents with no sid (the run stopped between intent and answer) become unknown.

        A contact whose last try was closed as not placed (the run stopped while the
        client waited to try again) placed nothing: it is scheduled again, now.
        Returns how many became unknown.
        """
        unknown = 0
        for seq, attempt, outcome in self.interrupted():
            unknown += self.settle_interrupted(seq, attempt, outcome, now)
        self.commit()
        return unknown

    def interrupted(self) -> list[tuple[int, int, str | None]]:
        """Every ``dialing`` contact: its seq, its last intent and how that ended."""
        with self._reading():
            rows = self._db.execute(
                "SELECT c.seq, c.tries, a.outcome FROM contacts c"
                " LEFT JOIN attempts a"
                " ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
                " WHERE c.campaign = ? AND c.state = 'dialing' ORDER BY c.seq",
                (self.campaign,),
            ).fetchall()
        return [(int(seq), int(attempt), outcome) for seq, attempt, outcome in rows]

    def settle_interrupted(self, seq: int, attempt: int, outcome: str | None, now: float) -> bool:
        """Settle one contact :meth:`interrupted` found; whether it became unknown."""
        if outcome == "not_placed":
            with self._atomic():
                self._update(
                    seq, "dialing", "UPDATE contacts SET state = 'scheduled', next_due = ?", (now,)
                )
                self._log(seq, attempt, now, "not_placed", detail="the run stopped")
            return False
        reason = "the run stopped after deciding to dial, before the answer was recorded"
        self.record_unknown(seq, attempt, reason=reason, error="interrupted trigger", now=now)
        return True

    def requeue_unknown(self, now: float) -> int:
        """Explicit opt-in: schedule every ``unknown`` contact again."""
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, tries FROM contacts WHERE campaign = ? AND state = 'unknown'",
                (self.campaign,),
            ).fetchall()
        for seq, attempt in rows:
            with self._atomic():
                self._db.execute(
                    "UPDATE attempts SET outcome = 'requeued'"
                    " WHERE campaign = ? AND contact = ? AND n = ? AND outcome = 'unknown'",
                    (self.campaign, seq, attempt),
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
