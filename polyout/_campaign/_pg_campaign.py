"""One campaign of the PostgreSQL store: the store contract's moves, in SQL.

Every move is one statement (``_pg_moves``): its compare-and-set (clause 5) inside, the
contact, its intent and its log line written only when it holds, sent in one round trip
(``_pg_base``). When it applies nothing, the move is explained the slow way: the contact
is read ``FOR UPDATE`` and what stood in the way raises :class:`StaleTransition`. The
database's own unique indexes refuse a second open intent, a second dialable contact for
a number and a reused call sid, whatever a caller does.

Claims are ``SELECT ... FOR UPDATE SKIP LOCKED``: two workers never take one contact,
and neither waits for the other. Following calls in flight is in ``_pg_follow``; the
feed (``append``), crash recovery and the steps of the slow way are in ``_pg_steps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_answers import PgAnswers
from polyout._campaign._pg_control import PgControl
from polyout._campaign._pg_follow import PgFollow
from polyout._campaign._pg_moves import (
    CLAIM,
    CLOSE_INTENT,
    MINE,
    NOT_PLACED_FINAL,
    NOT_PLACED_SCHEDULED,
    OPEN_INTENT,
    PLACEMENT,
    RELEASE,
    RESCHEDULE,
    UNKNOWN,
    WITHDRAW_MINE,
    WITHDRAW_UNHELD,
)
from polyout._campaign._pg_outbox import PgOutbox
from polyout._campaign._pg_policy import PgPolicy
from polyout._campaign._pg_rows import NOT_PLACED, REOPENABLE, due_contact, stale
from polyout._campaign._pg_workers import PgWorkers
from polyout._campaign._states import WITHDRAWALS, ContactState, can_move
from polyout._campaign._store import (
    DueContact,
    DuplicateCallSid,
    StaleTransition,
    checked_time,
)
from polyout._campaign._store_policy import IntentPolicy

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PostgresCampaign"]

S = ContactState


class PostgresCampaign(PgAnswers, PgControl, PgFollow, PgOutbox, PgPolicy, PgWorkers):
    """A ``StoredCampaign`` in a PostgreSQL store (see ``PostgresStore.open``)."""

    # -- dispatch ------------------------------------------------------------------------
    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        rows = await self._write([(CLAIM, {"now": now, "limit": limit, "w": worker})], "claim")
        rows.sort(key=lambda row: (row[0], row[1]))
        return [due_contact(row[1:]) for row in rows]

    async def release(self, worker: str, seqs: Sequence[int]) -> None:
        await self._write([(RELEASE, {"seqs": list(seqs), "w": worker})], "claim")

    async def reschedule(self, worker: str, seq: int, due: float, *, why: str, now: float) -> None:
        checked_time(due, "due")
        params = {"q": seq, "due": due, "w": worker, "why": why, "now": now}
        if not (await self._move(RESCHEDULE, params, "batched"))[0]:
            raise stale(seq, f"is not a scheduled contact held by worker {worker!r}")

    async def withdraw(
        self, worker: str | None, seq: int, *, state: ContactState, reason: str, now: float
    ) -> None:
        checked_time(now, "now")
        if state not in WITHDRAWALS:
            raise StaleTransition(f"contact #{seq} cannot be withdrawn as {state}")
        sql = WITHDRAW_UNHELD if worker is None else WITHDRAW_MINE
        params = {"q": seq, "state": state.value, "why": reason, "now": now, "w": worker}
        if not (await self._move(sql, params, "batched"))[0]:
            raise stale(seq, f"is not a scheduled contact held by worker {worker!r}")

    async def open_intent(
        self, worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
    ) -> int:
        checked_time(now, "now")
        if policy is None:
            params = {
                "q": seq,
                "w": worker,
                "after": after,
                "n": after + 1,
                "now": now,
                "ok": list(REOPENABLE),
            }
            if (await self._move(OPEN_INTENT, params, "durable", lock=True))[0]:
                return after + 1

        async def job(conn: AsyncConnection[Any]) -> int:
            """The slow way: with a policy (its caps and receipt), or to say why not."""
            row = await self._one(
                conn,
                f"SELECT c.state, c.intents, coalesce(c.{MINE}, false),"
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
            if policy is None:
                raise stale(seq, "moved while this move was being made")
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
        params = {"q": seq, "n": intent, "error": error, "now": now}
        if not (await self._move(CLOSE_INTENT, params, "durable", lock=True))[0]:
            await self._refuse(seq, lambda conn: self._sending(conn, seq, intent, closed_ok=False))

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
        params = {
            "q": seq,
            "n": intent,
            "sid": call_sid,
            "status": call_status,
            "corr": correlation_id,
            "deadline": deadline,
            "now": now,
        }
        placing, placed = await self._move(PLACEMENT, params, "durable", lock=True)
        if placed or placing == "again":  # "again": a retry whose first answer was lost
            return

        async def job(conn: AsyncConnection[Any]) -> str:
            """The slow way: a sid another contact has (the call may have been placed:
            this contact becomes ``unknown``), or why nothing applied."""
            late = await self._placing(conn, seq, intent, call_sid) == "late"
            owner = await self._one(
                conn,
                "SELECT c.seq, c.contact_id FROM polyout_intents i JOIN polyout_contacts c"
                " ON c.campaign = i.campaign AND c.seq = i.seq"
                " WHERE i.campaign = %(c)s AND i.call_sid = %(sid)s",
                {"sid": call_sid},
            )
            if owner is None:
                raise stale(seq, "moved while this move was being made")
            shown = repr(owner[1]) if owner[1] is not None else f"#{owner[0]}"
            reason = (
                f"the server returned call sid {call_sid}, already used by contact "
                f"{shown}: the call may have been placed"
            )
            if not late:  # a late one is unknown already, and stays so
                await self._to_unknown(conn, seq, intent, reason, "duplicate call sid", now)
            return reason

        raise DuplicateCallSid(await self._op(job, "durable"))

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        params = {"q": seq, "n": intent, "why": reason, "error": error, "now": now}
        if not (await self._move(UNKNOWN, params, "durable", lock=True))[0]:
            await self._refuse(seq, lambda conn: self._sending(conn, seq, intent, closed_ok=False))

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
        sql = NOT_PLACED_SCHEDULED if state is S.SCHEDULED else NOT_PLACED_FINAL
        params = {
            "q": seq,
            "n": intent,
            "state": state.value,
            "due": due,
            "why": reason,
            "error": error,
            "now": now,
        }
        if not (await self._move(sql, params, "batched", lock=True))[0]:
            await self._refuse(seq, lambda conn: self._sending(conn, seq, intent, closed_ok=True))
