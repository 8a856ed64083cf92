"""The account-wide rate's slot row in PostgreSQL (``polyout_rate``, RATE_TABLES).

One row per account (the connection identity a campaign stores: API, server, agent or
account, environment). Every worker of every campaign of that account reserves each
trigger's send time in it, on the *database's* clock, with one ``UPDATE … RETURNING``
(the row lock orders them): a slot is the previous one plus the interval, or now,
whichever is later, and never inside a 429's pause. The worker then sleeps until it.

The row works on a connection of its own in autocommit mode, not a campaign's: a
reservation must be visible to the others at once, never wait in a batch. A lost
connection raises :class:`StoreUnavailable`; the next call makes a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from polyout._campaign._pg_store import PostgresStore

__all__ = ["PgRateRow", "Reservation"]

_MAKE = "INSERT INTO polyout_rate (account) VALUES (%(a)s) ON CONFLICT (account) DO NOTHING"
# The slot follows the latest one by the interval (slowed by ``factor`` after a 429),
# or is now, and never inside a pause; ``extra`` pushes the next slot back (a cold
# start). Each slot past a pause wins back ``step`` of the rate.
_RESERVE = (
    "UPDATE polyout_rate SET"
    " tat = greatest(tat + make_interval(secs => %(i)s / factor), clock_timestamp(),"
    " paused_until) + make_interval(secs => %(extra)s),"
    " factor = CASE WHEN clock_timestamp() >= paused_until"
    " THEN least(1.0, factor + %(step)s) ELSE factor END"
    " WHERE account = %(a)s"
    " RETURNING extract(epoch FROM tat - clock_timestamp())::float8 - %(extra)s,"
    " factor, rate_limited"
)
# One burst of 429s is one signal: the rate is halved at most once per pause.
_HALVE_NOW = "clock_timestamp() >= decreased_at + make_interval(secs => greatest(%(p)s, %(i)s))"
_RATE_LIMITED = (
    "UPDATE polyout_rate SET"
    " paused_until = greatest(paused_until, clock_timestamp() + make_interval(secs => %(p)s)),"
    f" factor = CASE WHEN {_HALVE_NOW} THEN greatest(%(floor)s, factor * 0.5) ELSE factor END,"
    f" decreased_at = CASE WHEN {_HALVE_NOW} THEN clock_timestamp() ELSE decreased_at END,"
    " rate_limited = rate_limited + 1"
    " WHERE account = %(a)s"
)


@attrs.frozen
class Reservation:
    """A slot: ``wait`` seconds from the database's now; the account's rate share and
    how many 429s its workers reported so far."""

    wait: float
    factor: float
    rate_limited: int


class PgRateRow:
    """The slot row of ``account`` in the store's database."""

    def __init__(self, store: PostgresStore, account: str) -> None:
        self._store = store
        self.account = account
        self._conn: AsyncConnection[Any] | None = None

    def __repr__(self) -> str:
        return f"<PgRateRow at {self._store.where}>"

    async def reserve(self, interval: float, *, extra: float, step: float) -> Reservation:
        params = {"a": self.account, "i": interval, "extra": extra, "step": step}
        rows = await self._run(_RESERVE, params)
        if not rows:  # the account's first slot: its row is made, then reserved
            await self._run(_MAKE, {"a": self.account})
            rows = await self._run(_RESERVE, params)
        wait, factor, rate_limited = rows[0]
        return Reservation(float(wait), float(factor), int(rate_limited))

    async def rate_limited(self, pause: float, *, interval: float, floor: float) -> None:
        """A 429: every worker of the account pauses ``pause`` s; the rate is halved."""
        params = {"a": self.account, "p": pause, "i": interval, "floor": floor}
        await self._run(_RATE_LIMITED, params)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        import psycopg

        conn = await self._connection()
        try:
            cursor = await conn.execute(sql.encode(), params)
            return list(await cursor.fetchall()) if cursor.description else []
        except psycopg.Error as error:
            await self.aclose()
            raise self._store.failure(error, "the account's rate row") from None

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        await self.aclose()
        await self._store.start()  # the schema, with its rate table
        # The store's own way to connect: its errors are one line, without the password.
        conn = await self._store._open_connection(autocommit=True)
        self._conn = conn
        return conn
