"""Live control in the PostgreSQL store (``_store_control`` is the contract).

Commands come from any process, workers from any machine: each command is one durable
transaction that reads the control row ``FOR UPDATE`` (two commands at once are
serialised, and the phase table is judged on the row as it is), and a contact held by
a live worker (``held_session`` of a live store session) is left to its holder.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_rows import REOPENABLE, UNHELD
from polyout._campaign._pg_steps import PgCampaignSteps
from polyout._campaign._states import ContactState
from polyout._campaign._store import checked_time
from polyout._campaign._store_control import (
    RETRY_ROUND_STATES,
    WAKING_KINDS,
    CampaignLogEntry,
    CampaignPhase,
    Command,
    ControlState,
    next_phase,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PgControl"]

S = ContactState
_REOPENABLE = list(REOPENABLE)
_SUPPRESSED_REASON = "on the do-not-call list (added while the campaign ran)"


class PgControl(PgCampaignSteps):
    """The control methods of a ``PostgresCampaign`` (mixed into it)."""

    async def control(self) -> ControlState:
        rows = await self._rows(
            "SELECT phase, reason, by, since, revision FROM polyout_control WHERE campaign = %(c)s"
        )
        if not rows:
            return ControlState()
        phase, reason, by, since, revision = rows[0]
        return ControlState(CampaignPhase(phase), reason, by, since, int(revision))

    async def command(
        self, command: Command, *, reason: str | None, by: str, now: float
    ) -> ControlState:
        checked_time(now, "now")

        async def job(conn: AsyncConnection[Any]) -> ControlState:
            await self._all(
                conn,
                "INSERT INTO polyout_control (campaign, phase, revision)"
                " VALUES (%(c)s, 'running', 0) ON CONFLICT (campaign) DO NOTHING",
            )
            phase, revision = await self._one(
                conn,
                "SELECT phase, revision FROM polyout_control WHERE campaign = %(c)s FOR UPDATE",
            )
            moved = next_phase(CampaignPhase(phase), command)
            if moved is None:
                return await self.control_in(conn)
            await self._all(
                conn,
                "UPDATE polyout_control SET phase = %(p)s, reason = %(why)s, by = %(by)s,"
                " since = %(now)s, revision = revision + 1 WHERE campaign = %(c)s",
                {"p": moved.value, "why": reason, "by": by, "now": now},
            )
            await self._campaign_log(conn, command.value, by, reason, now)
            return ControlState(moved, reason, by, now, int(revision) + 1, True)

        return await self._op(job, "durable")

    async def control_in(self, conn: AsyncConnection[Any]) -> ControlState:
        row = await self._one(
            conn,
            "SELECT phase, reason, by, since, revision FROM polyout_control WHERE campaign = %(c)s",
        )
        phase, reason, by, since, revision = row
        return ControlState(CampaignPhase(phase), reason, by, since, int(revision))

    async def log_campaign_event(
        self, kind: str, *, detail: str | None = None, by: str | None = None, now: float
    ) -> None:
        checked_time(now, "now")

        async def job(conn: AsyncConnection[Any]) -> None:
            await self._campaign_log(conn, kind, by, detail, now)
            if kind in WAKING_KINDS:
                await self._bump(conn)

        await self._op(job, "batched")

    async def campaign_log(self, kinds: Collection[str] | None = None) -> list[CampaignLogEntry]:
        rows = await self._rows(
            "SELECT at, kind, by, detail FROM polyout_campaign_log WHERE campaign = %(c)s"
            " ORDER BY id"
        )
        return [
            CampaignLogEntry(float(at), str(kind), by, detail)
            for at, kind, by, detail in rows
            if kinds is None or kind in kinds
        ]

    async def cancel_pending(self, reason: str, now: float) -> int:
        checked_time(now, "now")
        return await self._withdraw_unheld(S.CANCELLED, reason, now, None)

    async def suppress(self, numbers: Collection[str], now: float) -> int:
        checked_time(now, "now")
        wanted = sorted(set(numbers))

        async def job(conn: AsyncConnection[Any]) -> None:
            await self._all(
                conn,
                "INSERT INTO polyout_suppressed (campaign, number)"
                " SELECT %(c)s, unnest(%(n)s::text[]) ON CONFLICT DO NOTHING",
                {"n": wanted},
            )
            await self._bump(conn)

        await self._op(job, "durable")
        return await self._withdraw_unheld(S.SUPPRESSED, _SUPPRESSED_REASON, now, wanted)

    async def _withdraw_unheld(
        self, state: ContactState, reason: str, now: float, numbers: list[str] | None
    ) -> int:
        async def job(conn: AsyncConnection[Any]) -> int:
            [count] = await self._one(
                conn,
                "WITH w AS (UPDATE polyout_contacts SET state = %(state)s, due = NULL,"
                " reason = %(why)s, finished_at = %(now)s, held_by = NULL, held_session = NULL"
                f" WHERE campaign = %(c)s AND state = 'scheduled' AND {UNHELD}"
                " AND (%(n)s::text[] IS NULL OR to_number = ANY(%(n)s::text[])) RETURNING seq),"
                " l AS (INSERT INTO polyout_log (campaign, seq, at, event, status, detail)"
                " SELECT %(c)s, seq, %(now)s, 'final', %(state)s, %(why)s FROM w ORDER BY seq)"
                " SELECT count(*) FROM w",
                {"state": state.value, "why": reason, "now": now, "n": numbers},
            )
            return int(count)

        return await self._op(job, "durable")

    def _round(self, states: Collection[ContactState], include_unknown: bool) -> list[str]:
        taken = {state.value for state in frozenset(states) & RETRY_ROUND_STATES}
        if include_unknown:
            taken.add(S.UNKNOWN.value)
        return sorted(taken)

    _CHOSEN = (
        " FROM polyout_contacts c WHERE c.campaign = %(c)s AND c.entry_state = 'scheduled'"
        " AND c.state = ANY(%(st)s) AND (%(max)s::int IS NULL OR c.attempts < %(max)s::int)"
        " AND NOT EXISTS (SELECT 1 FROM polyout_suppressed s"
        "  WHERE s.campaign = c.campaign AND s.number = c.to_number)"
    )

    async def retry_candidates(
        self, states: Collection[ContactState], *, max_attempts: int | None, include_unknown: bool
    ) -> dict[ContactState, int]:
        rows = await self._rows(
            "SELECT c.state, count(*)" + self._CHOSEN + " GROUP BY c.state",
            {"st": self._round(states, include_unknown), "max": max_attempts},
        )
        return {S(state): int(count) for state, count in rows}

    async def retry_round(
        self,
        states: Collection[ContactState],
        *,
        max_attempts: int | None,
        include_unknown: bool,
        now: float,
    ) -> int:
        checked_time(now, "now")

        async def job(conn: AsyncConnection[Any]) -> int:
            [count] = await self._one(
                conn,
                "WITH chosen AS (SELECT c.seq, c.state, c.intents" + self._CHOSEN + " FOR UPDATE),"
                " u AS (UPDATE polyout_contacts t SET state = 'scheduled', due = %(now)s,"
                " finished_at = NULL, held_by = NULL, held_session = NULL FROM chosen"
                " WHERE t.campaign = %(c)s AND t.seq = chosen.seq RETURNING t.seq),"
                # The operator asked for this round: the last call's end no longer forbids
                # a new intent (clause 6 lifted, as requeue_unknown lifts it).
                " i AS (UPDATE polyout_intents i SET outcome = 'requeued' FROM chosen"
                " WHERE i.campaign = %(c)s AND i.seq = chosen.seq AND i.n = chosen.intents"
                " AND i.outcome IS NOT NULL AND i.outcome <> ALL(%(ok)s)),"
                " l AS (INSERT INTO polyout_log (campaign, seq, intent, at, event, detail)"
                " SELECT %(c)s, seq, nullif(intents, 0), %(now)s, 'retry_round',"
                " 'was ' || state FROM chosen ORDER BY seq)"
                " SELECT count(*) FROM u",
                {
                    "st": self._round(states, include_unknown),
                    "max": max_attempts,
                    "now": now,
                    "ok": _REOPENABLE,
                },
            )
            return int(count)

        return await self._op(job, "durable")

    async def _campaign_log(
        self, conn: AsyncConnection[Any], kind: str, by: str | None, detail: str | None, now: float
    ) -> None:
        await self._all(
            conn,
            "INSERT INTO polyout_campaign_log (campaign, at, kind, by, detail)"
            " VALUES (%(c)s, %(at)s, %(kind)s, %(by)s, %(detail)s)",
            {"at": now, "kind": kind, "by": by, "detail": detail},
        )

    async def _bump(self, conn: AsyncConnection[Any]) -> None:
        await self._all(
            conn,
            "INSERT INTO polyout_control (campaign, phase, revision) VALUES (%(c)s, 'running', 1)"
            " ON CONFLICT (campaign) DO UPDATE SET revision = polyout_control.revision + 1",
        )
