"""One campaign of the PostgreSQL store: the store contract's moves, in SQL.

Every move first reads the contact ``FOR UPDATE`` (or is one compare-and-set
``UPDATE``), checks what the contract asks (clause 5: before anything changes) and
raises :class:`StaleTransition` with nothing changed; then it writes the contact, its
intent and its log line in the one savepoint ``_op`` gives it (``_pg_base``). The
database's own unique indexes refuse a second open intent, a second dialable contact
for a number and a reused call sid, whatever a caller does.

Claims are ``SELECT ... FOR UPDATE SKIP LOCKED``: two workers never take one contact,
and neither waits for the other. The feed (``append``), crash recovery and the
steps every move is made of are in ``_pg_steps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_answers import PgAnswers
from polyout._campaign._pg_control import PgControl
from polyout._campaign._pg_outbox import PgOutbox
from polyout._campaign._pg_policy import PgPolicy
from polyout._campaign._pg_rows import (
    DUE_COLUMNS,
    FOLLOWED_COLUMNS,
    NOT_PLACED,
    REOPENABLE,
    UNHELD,
    due_contact,
    followed_call,
    stale,
)
from polyout._campaign._pg_workers import PgWorkers
from polyout._campaign._states import CALL_OUTCOMES, RETRYABLE, WITHDRAWALS, ContactState, can_move
from polyout._campaign._store import (
    DueContact,
    DuplicateCallSid,
    FollowedCall,
    StaleTransition,
    checked_time,
)
from polyout._campaign._store_policy import IntentPolicy

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PostgresCampaign"]

S = ContactState
_MINE = "held_by = %(w)s AND held_session = %(s)s"


class PostgresCampaign(PgAnswers, PgControl, PgOutbox, PgPolicy, PgWorkers):
    """A ``StoredCampaign`` in a PostgreSQL store (see ``PostgresStore.open``)."""

    # -- dispatch ------------------------------------------------------------------------
    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        async def job(conn: AsyncConnection[Any]) -> list[DueContact]:
            columns = ", ".join(f"t.{name.strip()}" for name in DUE_COLUMNS.split(","))
            rows = await self._all(
                conn,
                "WITH picked AS (SELECT seq FROM polyout_contacts WHERE campaign = %(c)s"
                f" AND state = 'scheduled' AND due <= %(now)s AND {UNHELD}"
                " ORDER BY due, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                " UPDATE polyout_contacts t SET held_by = %(w)s, held_session = %(s)s"
                " FROM picked WHERE t.campaign = %(c)s AND t.seq = picked.seq"
                f" RETURNING t.due, {columns}",
                {"now": now, "limit": limit, "w": worker},
            )
            rows.sort(key=lambda row: (row[0], row[1]))
            return [due_contact(row[1:]) for row in rows]

        return await self._op(job, "claim")

    async def release(self, worker: str, seqs: Sequence[int]) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            await self._all(
                conn,
                "UPDATE polyout_contacts SET held_by = NULL, held_session = NULL"
                f" WHERE campaign = %(c)s AND seq = ANY(%(seqs)s) AND {_MINE}"
                " AND state = 'scheduled'",
                {"seqs": list(seqs), "w": worker},
            )

        await self._op(job, "claim")

    async def reschedule(self, worker: str, seq: int, due: float, *, why: str, now: float) -> None:
        checked_time(due, "due")

        async def job(conn: AsyncConnection[Any]) -> None:
            moved = await self._all(
                conn,
                "UPDATE polyout_contacts SET due = %(due)s, held_by = NULL, held_session = NULL"
                f" WHERE campaign = %(c)s AND seq = %(q)s AND state = 'scheduled' AND {_MINE}"
                " RETURNING seq",
                {"q": seq, "due": due, "w": worker},
            )
            if not moved:
                raise stale(seq, f"is not a scheduled contact held by worker {worker!r}")
            await self._log(conn, seq, now, "rescheduled", detail=why)

        await self._op(job, "batched")

    async def withdraw(
        self, worker: str | None, seq: int, *, state: ContactState, reason: str, now: float
    ) -> None:
        checked_time(now, "now")
        if state not in WITHDRAWALS:
            raise StaleTransition(f"contact #{seq} cannot be withdrawn as {state}")
        holder = UNHELD if worker is None else _MINE

        async def job(conn: AsyncConnection[Any]) -> None:
            moved = await self._all(
                conn,
                "UPDATE polyout_contacts SET state = %(state)s, due = NULL, reason = %(why)s,"
                " finished_at = %(now)s, held_by = NULL, held_session = NULL"
                f" WHERE campaign = %(c)s AND seq = %(q)s AND state = 'scheduled' AND {holder}"
                " RETURNING seq",
                {"q": seq, "state": state.value, "why": reason, "now": now, "w": worker},
            )
            if not moved:
                raise stale(seq, f"is not a scheduled contact held by worker {worker!r}")
            await self._log(conn, seq, now, "final", status=state.value, detail=reason)

        await self._op(job, "batched")

    async def open_intent(
        self, worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
    ) -> int:
        checked_time(now, "now")

        async def job(conn: AsyncConnection[Any]) -> int:
            row = await self._one(
                conn,
                f"SELECT c.state, c.intents, coalesce(c.{_MINE}, false),"
                " (SELECT outcome FROM polyout_intents i WHERE i.campaign = c.campaign"
                "  AND i.seq = c.seq ORDER BY n DESC LIMIT 1),"
                " EXISTS (SELECT 1 FROM polyout_intents i WHERE i.campaign = c.campaign"
                "  AND i.seq = c.seq AND (i.outcome IS NULL OR i.outcome <> ALL(%(ok)s)))"
                " FROM polyout_contacts c WHERE c.campaign = %(c)s AND c.seq = %(q)s FOR UPDATE",
                {"q": seq, "w": worker, "ok": list(REOPENABLE)},
            )
            if row is None:
                raise stale(seq, "does not exist")
            state, intents, held, last, blocked = row
            if not held:
                raise stale(seq, f"is not held by worker {worker!r}")
            if intents != after:
                raise stale(seq, f"has {intents} intents, not {after}")
            between_sends = state == S.DIALING.value and last == NOT_PLACED
            if state != S.SCHEDULED.value and not between_sends:
                raise stale(seq, f"is {state}: no intent may be opened")
            if blocked:
                raise stale(seq, "has an earlier intent that may have placed a call")
            await self._seal_receipt(conn, seq, after + 1, now, policy)  # caps, receipt
            await self._all(
                conn,
                "INSERT INTO polyout_intents (campaign, seq, n, started_at)"
                " VALUES (%(c)s, %(q)s, %(n)s, %(now)s)",
                {"q": seq, "n": after + 1, "now": now},
            )
            await self._all(
                conn,
                "UPDATE polyout_contacts SET state = 'dialing', due = NULL, intents = %(n)s,"
                " first_at = coalesce(first_at, %(now)s), last_at = %(now)s"
                " WHERE campaign = %(c)s AND seq = %(q)s",
                {"q": seq, "n": after + 1, "now": now},
            )
            await self._log(conn, seq, now, "intent", intent=after + 1)
            return after + 1

        return await self._op(job, "durable")

    async def close_intent(self, seq: int, intent: int, *, error: str, now: float) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            await self._sending(conn, seq, intent, closed_ok=False)
            await self._end_intent(conn, seq, intent, NOT_PLACED, now, error)
            await self._log(conn, seq, now, "not_placed", intent=intent, detail=error)

        await self._op(job, "durable")

    async def record_placement(
        self,
        seq: int,
        intent: int,
        *,
        call_sid: str,
        call_status: str | None,
        correlation_id: str | None,
        deadline: float,
        now: float,
    ) -> None:
        checked_time(deadline, "deadline")

        async def job(conn: AsyncConnection[Any]) -> str | None:
            placing = await self._placing(conn, seq, intent, call_sid)
            if placing == "again":
                return None  # a retry whose first answer was lost
            late = placing == "late"
            owner = await self._one(
                conn,
                "SELECT c.seq, c.contact_id FROM polyout_intents i JOIN polyout_contacts c"
                " ON c.campaign = i.campaign AND c.seq = i.seq"
                " WHERE i.campaign = %(c)s AND i.call_sid = %(sid)s",
                {"sid": call_sid},
            )
            if owner is not None:
                shown = repr(owner[1]) if owner[1] is not None else f"#{owner[0]}"
                reason = (
                    f"the server returned call sid {call_sid}, already used by contact "
                    f"{shown}: the call may have been placed"
                )
                if not late:  # a late one is unknown already, and stays so
                    await self._to_unknown(conn, seq, intent, reason, "duplicate call sid", now)
                return reason
            # A late sid (clause 3b) reopens the intent as an in-flight one looks, counts
            # no attempt again (the unknown did), and leaves the call to calls_in_flight.
            await self._all(
                conn,
                "UPDATE polyout_intents SET call_sid = %(sid)s, outcome = NULL,"
                " ended_at = NULL, error = NULL"
                " WHERE campaign = %(c)s AND seq = %(q)s AND n = %(n)s",
                {"q": seq, "n": intent, "sid": call_sid},
            )
            await self._all(
                conn,
                "UPDATE polyout_contacts SET state = 'in_flight',"
                " attempts = attempts + %(counted)s, not_placed = 0, call_sid = %(sid)s,"
                " call_status = %(status)s, correlation_id = %(corr)s,"
                " deadline = %(deadline)s, placed_at = %(now)s, reason = NULL, error = NULL,"
                " finished_at = NULL,"
                " held_by = CASE WHEN %(late)s THEN NULL ELSE held_by END,"
                " held_session = CASE WHEN %(late)s THEN NULL ELSE held_session END"
                " WHERE campaign = %(c)s AND seq = %(q)s",
                {
                    "q": seq,
                    "late": late,
                    "counted": 0 if late else 1,
                    "sid": call_sid,
                    "status": call_status,
                    "corr": correlation_id,
                    "deadline": deadline,
                    "now": now,
                },
            )
            await self._log(
                conn, seq, now, "placed", intent=intent, call_sid=call_sid, status=call_status
            )
            return None

        duplicate = await self._op(job, "durable")
        if duplicate is not None:
            raise DuplicateCallSid(duplicate)

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            await self._sending(conn, seq, intent, closed_ok=False)
            await self._to_unknown(conn, seq, intent, reason, error, now)

        await self._op(job, "durable")

    async def record_not_placed(
        self,
        seq: int,
        intent: int,
        *,
        state: ContactState,
        due: float | None,
        reason: str | None,
        error: str | None,
        now: float,
    ) -> None:
        if state is S.SCHEDULED:
            if due is None:
                raise ValueError("a contact scheduled again needs a due time")
            checked_time(due, "due")
        elif state is S.UNKNOWN or state is S.IN_FLIGHT or not can_move(S.DIALING, state):
            raise StaleTransition(f"contact #{seq}: a send that placed nothing cannot end {state}")

        async def job(conn: AsyncConnection[Any]) -> None:
            last = await self._sending(conn, seq, intent, closed_ok=True)
            if last is None:
                await self._end_intent(conn, seq, intent, NOT_PLACED, now, error)
            await self._all(
                conn,
                "UPDATE polyout_contacts SET not_placed = not_placed + 1, error = %(error)s,"
                " reason = coalesce(%(why)s, reason) WHERE campaign = %(c)s AND seq = %(q)s",
                {"q": seq, "error": error, "why": reason},
            )
            if state is S.SCHEDULED:
                assert due is not None
                await self._to_scheduled(conn, seq, due, now, "not_placed", intent, detail=error)
            else:
                await self._to_final(conn, seq, state, now, intent=intent, detail=error)

        await self._op(job, "batched")

    # -- following ----------------------------------------------------------------------
    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        async def job(conn: AsyncConnection[Any]) -> list[FollowedCall]:
            columns = ", ".join(f"t.{name.strip()}" for name in FOLLOWED_COLUMNS.split(","))
            rows = await self._all(
                conn,
                "WITH mine AS (SELECT seq FROM polyout_contacts WHERE campaign = %(c)s"
                f" AND state = 'in_flight' AND (({_MINE}) OR {UNHELD}) FOR UPDATE SKIP LOCKED)"
                " UPDATE polyout_contacts t SET held_by = %(w)s, held_session = %(s)s"
                f" FROM mine WHERE t.campaign = %(c)s AND t.seq = mine.seq RETURNING {columns}",
                {"w": worker},
            )
            calls = [followed_call(row) for row in rows]
            calls.sort(key=lambda call: (call.placed_at, call.seq))
            return calls

        return await self._op(job, "claim")

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            current, call_sid = await self._placed(conn, seq, intent)
            if current == status:
                return
            await self._all(
                conn,
                "UPDATE polyout_contacts SET call_status = %(status)s"
                " WHERE campaign = %(c)s AND seq = %(q)s",
                {"q": seq, "status": status},
            )
            await self._log(
                conn, seq, now, "status", intent=intent, call_sid=call_sid, status=status
            )

        await self._op(job, "batched")

    async def record_poll_error(self, seq: int, intent: int, *, error: str, now: float) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            _, call_sid = await self._placed(conn, seq, intent)
            await self._log(
                conn, seq, now, "poll_error", intent=intent, call_sid=call_sid, detail=error
            )

        await self._op(job, "batched")

    async def record_outcome(
        self,
        seq: int,
        intent: int,
        *,
        outcome: ContactState,
        retry_due: float | None,
        reason: str | None,
        now: float,
        call_status: str | None = None,
    ) -> None:
        if outcome not in CALL_OUTCOMES:
            raise StaleTransition(f"contact #{seq}: {outcome} is not an outcome of a call")
        if retry_due is not None:
            checked_time(retry_due, "retry_due")
            if outcome not in RETRYABLE:
                raise StaleTransition(f"contact #{seq}: a {outcome} call is never dialled again")

        async def job(conn: AsyncConnection[Any]) -> None:
            await self._placed(conn, seq, intent)
            await self._end_intent(conn, seq, intent, outcome.value, now, None)
            await self._all(
                conn,
                "UPDATE polyout_contacts SET call_status = coalesce(%(status)s, call_status),"
                " reason = %(why)s, error = NULL, deadline = NULL"
                " WHERE campaign = %(c)s AND seq = %(q)s",
                {"q": seq, "status": call_status, "why": reason},
            )
            if retry_due is not None:
                await self._to_scheduled(
                    conn, seq, retry_due, now, "retry", intent, detail=reason, status=outcome.value
                )
            else:
                await self._to_final(conn, seq, outcome, now, intent=intent, detail=reason)

        await self._op(job, "batched")
