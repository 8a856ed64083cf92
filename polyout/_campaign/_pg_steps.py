"""The PostgreSQL campaign's steps: the fast path's call (``_move``), the slow way's checks
and steps (through them a move that applied nothing says why; an intent under a policy and
crash recovery are made of them), and the feed.

``append`` stores a batch with one binary ``COPY`` (a million contacts load at tens of
thousands a second in flat memory): first it checks the batch whole (a replay of what is
stored, the next ``seq``, one dialable contact per number within the batch), then the
unique index refuses a number dialable in a stored contact while the rows go in; either
way the savepoint is rolled back, so nothing of a refused batch is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from polyout._campaign._memory_backing import check_entry
from polyout._campaign._pg_base import Kind, Statement
from polyout._campaign._pg_moves import LOCK
from polyout._campaign._pg_reads import PgReads
from polyout._campaign._pg_rows import (
    COPY_ENTRIES,
    ENTRY_TYPES,
    NOT_PLACED,
    entry_row,
    stale,
    stored_entry,
)
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    ContactEntry,
    FeedPosition,
    Recovery,
    StaleTransition,
    checked_time,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PgCampaignSteps"]

S = ContactState
#: ``append`` formats this many rows between turns of the event loop.
_TURN = 256
_INTERRUPTED = "the run stopped after deciding to dial, before the answer was recorded"


class PgCampaignSteps(PgReads):
    # -- statements ----------------------------------------------------------------------
    async def _all(
        self, conn: AsyncConnection[Any], sql: str, params: dict[str, Any] | None = None
    ) -> list[Any]:
        cursor = await conn.execute(sql.encode(), self._params(params))
        return list(await cursor.fetchall()) if cursor.description else []

    async def _one(
        self, conn: AsyncConnection[Any], sql: str, params: dict[str, Any] | None = None
    ) -> Any:
        rows = await self._all(conn, sql, params)
        return rows[0] if rows else None

    async def _log(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        at: float,
        event: str,
        *,
        intent: int | None = None,
        call_sid: str | None = None,
        status: str | None = None,
        detail: str | None = None,
    ) -> None:
        await self._all(
            conn,
            "INSERT INTO polyout_log (campaign, seq, intent, at, event, call_sid, status, detail)"
            " VALUES (%(c)s, %(q)s, %(n)s, %(at)s, %(event)s, %(sid)s, %(status)s, %(detail)s)",
            {
                "q": seq,
                "n": intent,
                "at": at,
                "event": event,
                "sid": call_sid,
                "status": status,
                "detail": detail,
            },
        )

    # -- the fast path (``_pg_moves``) ---------------------------------------------------
    async def _move(
        self, sql: str, params: dict[str, Any], kind: Kind, *, lock: bool = False
    ) -> Any:
        """Run one move's statement (after :data:`LOCK` on its contact); its one row."""
        statements: list[Statement] = [(LOCK, params)] if lock else []
        rows = await self._write([*statements, (sql, params)], kind)
        return rows[0]

    async def _refuse(
        self, seq: int, check: Callable[[AsyncConnection[Any]], Awaitable[object]]
    ) -> NoReturn:
        """A move's statement applied nothing: ``check`` says why (it raises); if it finds
        nothing amiss now, the contact moved while the move was made."""
        await self._op(check, "read")
        raise stale(seq, "moved while this move was being made")

    # -- checks --------------------------------------------------------------------------
    async def _sending(
        self, conn: AsyncConnection[Any], seq: int, intent: int, *, closed_ok: bool
    ) -> str | None:
        """The contact ``dialing`` with ``intent`` its latest, open (or closed not placed);
        the intent's outcome (None: open)."""
        row = await self._one(
            conn,
            "SELECT c.state, c.intents, i.outcome FROM polyout_contacts c"
            " LEFT JOIN polyout_intents i"
            " ON i.campaign = c.campaign AND i.seq = c.seq AND i.n = c.intents"
            " WHERE c.campaign = %(c)s AND c.seq = %(q)s FOR UPDATE OF c",
            {"q": seq},
        )
        if row is None:
            raise stale(seq, "does not exist")
        state, intents, outcome = row
        if state != S.DIALING.value or intents != intent:
            raise stale(seq, f"is not dialling intent {intent}")
        if outcome is not None and not (closed_ok and outcome == NOT_PLACED):
            raise stale(seq, f"has intent {intent} closed")
        return str(outcome) if outcome is not None else None

    async def _placing(
        self, conn: AsyncConnection[Any], seq: int, intent: int, call_sid: str
    ) -> str:
        """Which placement this is (clause 3, 3b): ``"dialing"`` (``intent`` open),
        ``"late"`` (the contact ``unknown``, ``intent`` its latest, ended ``unknown``
        without a sid) or ``"again"`` (``call_sid`` already recorded for ``intent``, in
        flight). Anything else is another worker's decision: stale."""
        row = await self._one(
            conn,
            "SELECT c.state, c.intents, i.outcome, i.call_sid FROM polyout_contacts c"
            " LEFT JOIN polyout_intents i"
            " ON i.campaign = c.campaign AND i.seq = c.seq AND i.n = c.intents"
            " WHERE c.campaign = %(c)s AND c.seq = %(q)s FOR UPDATE OF c",
            {"q": seq},
        )
        if row is None:
            raise stale(seq, "does not exist")
        state, intents, outcome, sid = row
        if intents == intent:
            if state == S.DIALING.value and outcome is None and sid is None:
                return "dialing"
            if state == S.UNKNOWN.value and outcome == S.UNKNOWN.value and sid is None:
                return "late"
            if state == S.IN_FLIGHT.value and outcome is None and sid == call_sid:
                return "again"
        raise stale(seq, f"is not dialling intent {intent}, nor unknown without its sid")

    # -- moves ---------------------------------------------------------------------------
    async def _end_intent(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        intent: int,
        outcome: str,
        now: float,
        error: str | None,
    ) -> None:
        await self._all(
            conn,
            "UPDATE polyout_intents SET outcome = %(outcome)s, ended_at = %(now)s,"
            " error = %(error)s WHERE campaign = %(c)s AND seq = %(q)s AND n = %(n)s",
            {"q": seq, "n": intent, "outcome": outcome, "now": now, "error": error},
        )

    async def _to_scheduled(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        due: float,
        now: float,
        event: str,
        intent: int | None,
        *,
        detail: str | None = None,
        status: str | None = None,
    ) -> None:
        await self._all(
            conn,
            "UPDATE polyout_contacts SET state = 'scheduled', due = %(due)s,"
            " held_by = NULL, held_session = NULL WHERE campaign = %(c)s AND seq = %(q)s",
            {"q": seq, "due": due},
        )
        await self._log(conn, seq, now, event, intent=intent, status=status, detail=detail)

    async def _to_final(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        state: ContactState,
        now: float,
        *,
        intent: int | None,
        detail: str | None,
    ) -> None:
        await self._all(
            conn,
            "UPDATE polyout_contacts SET state = %(state)s, finished_at = %(now)s,"
            " held_by = NULL, held_session = NULL WHERE campaign = %(c)s AND seq = %(q)s",
            {"q": seq, "state": state.value, "now": now},
        )
        await self._log(conn, seq, now, "final", intent=intent, status=state.value, detail=detail)

    async def _to_unknown(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        intent: int,
        reason: str,
        error: str | None,
        now: float,
    ) -> None:
        await self._end_intent(conn, seq, intent, S.UNKNOWN.value, now, error)
        await self._all(
            conn,
            "UPDATE polyout_contacts SET attempts = attempts + 1, reason = %(why)s,"
            " error = %(error)s WHERE campaign = %(c)s AND seq = %(q)s",
            {"q": seq, "why": reason, "error": error},
        )
        await self._to_final(conn, seq, S.UNKNOWN, now, intent=intent, detail=error)

    # -- the feed ------------------------------------------------------------------------
    async def append(
        self, entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
    ) -> None:
        checked_time(now, "now")
        entries = list(entries)

        async def job(conn: AsyncConnection[Any]) -> None:
            [count] = await self._one(
                conn, "SELECT feed_count FROM polyout_campaigns WHERE id = %(c)s FOR UPDATE"
            )
            replayed = [entry.seq for entry in entries if entry.seq < count]
            stored = (
                {
                    int(row[0]): stored_entry(row)
                    for row in await self._all(
                        conn,
                        "SELECT seq, contact_id, source_row, to_number, entry_state, first_due,"
                        " request, zones, entry_reason FROM polyout_contacts"
                        " WHERE campaign = %(c)s AND seq = ANY(%(seqs)s)",
                        {"seqs": replayed},
                    )
                }
                if replayed
                else {}
            )
            fresh: list[ContactEntry] = []
            numbers: set[str] = set()
            for entry in entries:
                if entry.seq in stored and not fresh:
                    if stored[entry.seq] != entry:
                        raise stale(entry.seq, "is stored with other content")
                    continue  # a feeder replaying its last batch
                if entry.seq != count + len(fresh):
                    raise stale(entry.seq, f"is not the next one (#{count + len(fresh)})")
                check_entry(entry)
                if entry.state is S.SCHEDULED:
                    assert entry.to_number is not None
                    if entry.to_number in numbers:
                        raise stale(entry.seq, "has a number dialable in another contact")
                    numbers.add(entry.to_number)
                fresh.append(entry)
            if position.count != count + len(fresh):
                raise StaleTransition(
                    f"the feed position ({position.count}) does not follow the contacts stored"
                )
            if fresh:
                await self._copy(conn, fresh, now)
            await self._all(
                conn,
                "UPDATE polyout_campaigns SET feed_count = %(n)s, feed_digest = %(digest)s,"
                " feed_done = %(done)s WHERE id = %(c)s",
                {"n": position.count, "digest": position.digest, "done": position.done},
            )

        await self._op(job, "batched")

    async def _copy(
        self, conn: AsyncConnection[Any], fresh: list[ContactEntry], now: float
    ) -> None:
        """Store ``fresh`` with one binary ``COPY``. A number already dialable in a stored
        contact is refused by the unique index ``polyout_contacts_dialable_number`` as the
        rows go in: exact, and cheaper than asking first (a query per batch whose plan,
        cached while the table was empty, scanned it whole: a load slowed as it grew)."""
        import psycopg

        try:
            async with conn.cursor().copy(COPY_ENTRIES) as copy:
                copy.set_types(ENTRY_TYPES)
                for done, entry in enumerate(fresh, 1):
                    await copy.write_row(entry_row(self._id, entry, now))
                    if done % _TURN == 0:
                        await asyncio.sleep(0)  # rows are CPU: let the loop's tasks run
        except psycopg.errors.UniqueViolation:
            # The server's message names the number: never shown (masked, or not at all).
            raise StaleTransition("a number of the batch is dialable in another contact") from None

    # -- crashes -------------------------------------------------------------------------
    async def recover(self, now: float, *, worker: str | None = None) -> Recovery:
        async def job(conn: AsyncConnection[Any]) -> Recovery:
            return await self._settle_crash(conn, now, worker)

        return await self._op(job, "durable")

    async def _settle_crash(
        self, conn: AsyncConnection[Any], now: float, worker: str | None
    ) -> Recovery:
        """What ``recover`` does, inside a call (a reap settles several workers in one)."""
        mine = "" if worker is None else " AND c.held_by = %(w)s"
        unknown = rescheduled = 0
        rows = await self._all(
            conn,
            "SELECT c.seq, c.intents, i.outcome FROM polyout_contacts c"
            " LEFT JOIN polyout_intents i"
            " ON i.campaign = c.campaign AND i.seq = c.seq AND i.n = c.intents"
            f" WHERE c.campaign = %(c)s AND c.state = 'dialing'{mine}"
            " ORDER BY c.seq FOR UPDATE OF c",
            {"w": worker},
        )
        for seq, intent, outcome in rows:
            if outcome == NOT_PLACED:
                await self._to_scheduled(
                    conn, seq, now, now, "not_placed", intent, detail="the run stopped"
                )
                rescheduled += 1
            else:
                await self._to_unknown(conn, seq, intent, _INTERRUPTED, "interrupted trigger", now)
                unknown += 1
        await self._all(
            conn,
            "UPDATE polyout_contacts c SET held_by = NULL, held_session = NULL"
            f" WHERE c.campaign = %(c)s AND c.held_by IS NOT NULL{mine}",
            {"w": worker},
        )
        return Recovery(unknown=unknown, rescheduled=rescheduled)

    async def requeue_unknown(self, now: float) -> int:
        async def job(conn: AsyncConnection[Any]) -> int:
            [count] = await self._one(
                conn,
                "WITH u AS (UPDATE polyout_contacts SET state = 'scheduled', due = %(now)s,"
                " finished_at = NULL, held_by = NULL, held_session = NULL"
                " WHERE campaign = %(c)s AND state = 'unknown' RETURNING seq, intents),"
                " i AS (UPDATE polyout_intents t SET outcome = 'requeued' FROM u"
                " WHERE t.campaign = %(c)s AND t.seq = u.seq AND t.n = u.intents),"
                " l AS (INSERT INTO polyout_log (campaign, seq, intent, at, event)"
                " SELECT %(c)s, seq, intents, %(now)s, 'requeued' FROM u ORDER BY seq)"
                " SELECT count(*) FROM u",
                {"now": now},
            )
            return int(count)

        return await self._op(job, "durable")
