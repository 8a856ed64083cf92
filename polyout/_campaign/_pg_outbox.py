"""The webhook outbox of the PostgreSQL store (``_store_outbox`` is the contract).

The events are written by the triggers of ``OUTBOX_TABLES`` (``_pg_schema``), in each
transition's own transaction; these are the endpoint, a campaign's own events and the
delivery's bookkeeping, each a durable call of the campaign's connection. Several
workers may deliver at once: each event still goes out at least once, and a contact's
events in order (only its earliest undelivered one is ever handed out).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_base import PgCampaignBase
from polyout._campaign._store import checked_time
from polyout._campaign._store_outbox import FINISHED, OutboxEvent, WebhookEndpoint, event_id

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PgOutbox"]


class PgOutbox(PgCampaignBase):
    """The outbox methods of a ``PostgresCampaign`` (mixed into it)."""

    async def _outbox_write(self, sql: str, params: dict[str, Any]) -> int:
        async def job(conn: AsyncConnection[Any]) -> int:
            cursor = await conn.execute(sql.encode(), self._params(params))
            return int(cursor.rowcount)

        return await self._op(job, "durable")

    async def set_webhook(self, url: str | None, *, now: float) -> None:
        checked_time(now, "now")
        if url is None:
            await self._outbox_write(
                "DELETE FROM polyout_outbox_endpoints WHERE campaign = %(c)s", {}
            )
            return
        await self._outbox_write(
            "INSERT INTO polyout_outbox_endpoints (campaign, url, disabled, set_at)"
            " VALUES (%(c)s, %(url)s, NULL, %(now)s) ON CONFLICT (campaign) DO UPDATE"
            " SET url = excluded.url, disabled = NULL, set_at = excluded.set_at",
            {"url": url, "now": now},
        )

    async def webhook(self) -> WebhookEndpoint | None:
        rows = await self._rows(
            "SELECT url, disabled FROM polyout_outbox_endpoints WHERE campaign = %(c)s"
        )
        return None if not rows else WebhookEndpoint(str(rows[0][0]), rows[0][1])

    async def disable_webhook(self, reason: str, *, now: float) -> None:
        await self._outbox_write(
            "UPDATE polyout_outbox_endpoints SET disabled = %(why)s WHERE campaign = %(c)s",
            {"why": reason},
        )

    async def add_event(self, type: str, data: Mapping[str, Any], *, now: float) -> str | None:
        checked_time(now, "now")
        id = event_id(secrets.token_hex(12))
        written = await self._outbox_write(
            "INSERT INTO polyout_outbox (campaign, event_id, seq, type, created, data)"
            " SELECT %(c)s, %(id)s, NULL, %(type)s, %(now)s, %(data)s::jsonb"
            " WHERE EXISTS (SELECT 1 FROM polyout_outbox_endpoints WHERE campaign = %(c)s)"
            " AND (%(type)s <> %(finished)s OR NOT EXISTS (SELECT 1 FROM polyout_outbox f"
            "   WHERE f.campaign = %(c)s AND f.type = %(finished)s AND f.id >"
            "   (SELECT coalesce(max(o.id), 0) FROM polyout_outbox o"
            "    WHERE o.campaign = %(c)s AND o.seq IS NOT NULL)))",
            {
                "id": id,
                "type": type,
                "now": now,
                "data": json.dumps(dict(data)),
                "finished": FINISHED,
            },
        )
        return id if written else None

    async def pending(self, limit: int, *, now: float) -> list[OutboxEvent]:
        rows = await self._rows(
            "SELECT o.event_id, o.type, o.created, o.seq, o.data, o.attempts FROM polyout_outbox o"
            " WHERE o.campaign = %(c)s AND o.status = 'pending'"
            " AND (o.next_at IS NULL OR o.next_at <= %(now)s)"
            " AND NOT EXISTS (SELECT 1 FROM polyout_outbox e WHERE e.campaign = o.campaign"
            "   AND e.seq IS NOT DISTINCT FROM o.seq AND e.status = 'pending' AND e.id < o.id)"
            " ORDER BY o.id LIMIT %(limit)s",
            {"now": now, "limit": limit},
        )
        return [
            OutboxEvent(str(id), str(type), float(created), seq, data, int(attempts))
            for id, type, created, seq, data, attempts in rows
        ]

    async def delivered(self, ids: Sequence[str], *, now: float) -> None:
        await self._outbox_write(
            "UPDATE polyout_outbox SET status = 'delivered', ended_at = %(now)s, error = NULL"
            " WHERE campaign = %(c)s AND event_id = ANY(%(ids)s) AND status = 'pending'",
            {"now": now, "ids": list(ids)},
        )

    async def failed(self, id: str, *, attempt: int, next_at: float, error: str) -> None:
        checked_time(next_at, "next_at")
        await self._outbox_write(
            "UPDATE polyout_outbox SET attempts = %(n)s, next_at = %(at)s, error = %(error)s"
            " WHERE campaign = %(c)s AND event_id = %(id)s AND status = 'pending'",
            {"n": attempt, "at": next_at, "error": error, "id": id},
        )

    async def dead(self, id: str, *, response: str, now: float) -> None:
        await self._outbox_write(
            "UPDATE polyout_outbox SET status = 'dead', response = %(response)s,"
            " ended_at = %(now)s WHERE campaign = %(c)s AND event_id = %(id)s"
            " AND status = 'pending'",
            {"response": response, "now": now, "id": id},
        )

    async def outbox_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "delivered": 0, "dead": 0}
        rows = await self._rows(
            "SELECT status, count(*) FROM polyout_outbox WHERE campaign = %(c)s GROUP BY status"
        )
        counts.update({str(status): int(count) for status, count in rows})
        return counts
