"""The workers capability (``_store_workers``) for the PostgreSQL store.

Heartbeats are rows of ``polyout_workers`` stamped with the database's clock
(``clock_timestamp()``), so workers whose own clocks disagree still agree on who is
silent. A reap takes a transaction-scoped advisory lock of the campaign first: two live
workers reaping at once settle each dead one once. A reaped worker's row is deleted, so
a second reap finds nothing to do; if that worker was alive after all, its next
heartbeat brings it back, holding nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_schema import LIFE_LOCK
from polyout._campaign._pg_steps import PgCampaignSteps
from polyout._campaign._store_workers import DEFAULT_REAP_TIMEOUT, WorkerInfo

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["PgWorkers"]

_BEAT = (
    "INSERT INTO polyout_workers (campaign, name, heartbeat, joined)"
    " VALUES (%(c)s, %(w)s, clock_timestamp(), clock_timestamp())"
    " ON CONFLICT (campaign, name) DO UPDATE SET heartbeat = excluded.heartbeat, left_at = NULL"
)


class PgWorkers(PgCampaignSteps):
    async def heartbeat(self, worker: str) -> None:
        await self._store.keep_alive()

        async def job(conn: AsyncConnection[Any]) -> None:
            await self._all(conn, _BEAT, {"w": worker})

        await self._op(job, "durable")

    async def reap(
        self, worker: str, *, timeout: float = DEFAULT_REAP_TIMEOUT, now: float
    ) -> list[str]:
        await self._store.keep_alive()

        async def job(conn: AsyncConnection[Any]) -> list[str]:
            # One reaper at a time per campaign (held until this call commits).
            await self._all(conn, "SELECT pg_advisory_xact_lock(%(key)s)", {"key": self._reap_key})
            await self._all(conn, _BEAT, {"w": worker})
            dead = [
                str(name)
                for (name,) in await self._all(
                    conn,
                    "DELETE FROM polyout_workers WHERE campaign = %(c)s AND name <> %(w)s"
                    " AND left_at IS NULL"
                    " AND heartbeat < clock_timestamp() - make_interval(secs => %(timeout)s)"
                    " RETURNING name",
                    {"w": worker, "timeout": float(timeout)},
                )
            ]
            dead.sort()
            for name in dead:
                await self._settle_crash(conn, now, name)
            return dead

        return await self._op(job, "durable")

    @property
    def _reap_key(self) -> int:
        return (LIFE_LOCK << 32) | (self._id & 0xFFFFFFFF)

    async def leave(self, worker: str) -> None:
        async def job(conn: AsyncConnection[Any]) -> None:
            await self._all(
                conn,
                "DELETE FROM polyout_workers WHERE campaign = %(c)s AND name = %(w)s",
                {"w": worker},
            )

        await self._op(job, "durable")

    async def workers(self, *, timeout: float = DEFAULT_REAP_TIMEOUT) -> list[WorkerInfo]:
        rows = await self._rows(
            "SELECT name, extract(epoch FROM clock_timestamp() - heartbeat)::float8"
            " FROM polyout_workers WHERE campaign = %(c)s AND left_at IS NULL ORDER BY name"
        )
        return [
            WorkerInfo(name=str(name), age=max(float(age), 0.0), live=float(age) <= timeout)
            for name, age in rows
        ]
