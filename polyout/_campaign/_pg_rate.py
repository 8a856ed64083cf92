"""The account-wide rate's slot row in PostgreSQL (``polyout_rate``, RATE_TABLES).

One row per account (the connection identity a campaign stores: API, server, agent or
account, environment). Every worker of every campaign of that account reserves each
trigger's send time in it, on the *database's* clock, with one ``UPDATE … RETURNING``
(the row lock orders them): a slot is the previous one plus the interval, or now,
whichever is later, and never inside a 429's pause. One round trip reserves a block of
consecutive slots for one worker (``_shared_pacer``), which then sleeps until each.

The row works on a connection of its own in autocommit mode, not a campaign's: a
reservation must be visible to the others at once, never wait in a batch. A lost
connection raises :class:`StoreUnavailable`; the next call makes a new one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from polyout._campaign._pg_store import PostgresStore

__all__ = ["PgRateRow", "Reservation"]

_MAKE = "INSERT INTO polyout_rate (account) VALUES (%(a)s) ON CONFLICT (account) DO NOTHING"
# A block of ``n`` slots: the first follows the latest one by the interval (slowed by
# ``factor`` after a 429), or is now, and never inside a pause; the others follow it by
# the interval at the factor this block wins back (``step`` a slot once past a pause).
# ``tat`` keeps the block's last slot, pushed back by ``extra`` (a gap after the block).
# SET reads the row as it was, RETURNING as it is: the spacing comes from the new factor.
_NEW_FACTOR = (
    "CASE WHEN clock_timestamp() >= paused_until"
    " THEN least(1.0, factor + %(step)s * %(n)s) ELSE factor END"
)
_FIRST = "greatest(tat + make_interval(secs => %(i)s / factor), clock_timestamp(), paused_until)"
# The gap a cold block owes (``_shared_pacer``: ``cold_gap`` seconds before the R-th slot
# after ``cold_since``, which is at least 1.015 s later) is paid before the first block
# that starts half a second after the oldest unpaid one: all the cold blocks of that half
# second share one gap. A debt 1.1 s old is void: no later slot can share a second with
# those cold sends, and fewer than R slots did.
_VOID = f"{_FIRST} >= cold_since + interval '1.1 seconds'"
_PAY = (
    f"(cold_since < 'infinity' AND NOT {_VOID} AND {_FIRST} >= cold_since + interval '0.5 seconds')"
)
_START = f"({_FIRST} + make_interval(secs => CASE WHEN {_PAY} THEN %(cold_gap)s ELSE 0 END))"
_COLD_SINCE = (
    f"CASE WHEN %(cold)s AND (cold_since = 'infinity' OR {_PAY} OR {_VOID}) THEN {_START}"
    f" WHEN {_PAY} OR {_VOID} THEN 'infinity' ELSE cold_since END"
)
_RESERVE = (
    "UPDATE polyout_rate SET"
    f" tat = {_START} + make_interval(secs => (%(n)s - 1) * %(i)s / ({_NEW_FACTOR})"
    " + %(extra)s),"
    f" cold_since = {_COLD_SINCE},"
    f" factor = {_NEW_FACTOR}"
    " WHERE account = %(a)s"
    " RETURNING extract(epoch FROM tat)::float8 - (%(n)s - 1) * %(i)s / factor - %(extra)s,"
    " extract(epoch FROM clock_timestamp())::float8, %(i)s / factor, factor, rate_limited"
)
_CLOCK = "SELECT extract(epoch FROM clock_timestamp())::float8"
# A send that left late: every slot not yet handed out moves back by the gap.
_DELAY = "UPDATE polyout_rate SET tat = tat + make_interval(secs => %(g)s) WHERE account = %(a)s"
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
    """A block of slots: the first (``slot``) and the database's clock when it was made
    (``db_now``), both epoch seconds on that clock, and the ``spacing`` of the others;
    the account's rate share and how many 429s its workers reported so far; when the
    request left and its answer came, on the worker's loop clock (``asked``,
    ``answered``), which bound the offset between the two clocks."""

    slot: float
    db_now: float
    spacing: float
    factor: float
    rate_limited: int
    asked: float
    answered: float


class PgRateRow:
    """The slot row of ``account`` in the store's database."""

    def __init__(self, store: PostgresStore, account: str) -> None:
        self._store = store
        self.account = account
        self._conn: AsyncConnection[Any] | None = None

    def __repr__(self) -> str:
        return f"<PgRateRow at {self._store.where}>"

    async def reserve(
        self, interval: float, *, count: int, extra: float, cold: bool, cold_gap: float, step: float
    ) -> Reservation:
        """``count`` consecutive slots, then a gap of ``extra`` seconds. ``cold``: the
        block's first send may arrive up to ``cold_gap`` late, a gap the row owes within
        the second and shares among the cold blocks reserved together."""
        params = {
            "a": self.account,
            "i": interval,
            "n": count,
            "extra": extra,
            "cold": cold,
            "cold_gap": cold_gap,
            "step": step,
        }
        rows, asked, answered = await self._timed(_RESERVE, params)
        if not rows:  # the account's first slot: its row is made, then reserved
            await self._run(_MAKE, {"a": self.account})
            rows, asked, answered = await self._timed(_RESERVE, params)
        slot, db_now, spacing, factor, rate_limited = rows[0]
        return Reservation(
            float(slot),
            float(db_now),
            float(spacing),
            float(factor),
            int(rate_limited),
            asked,
            answered,
        )

    async def clock(self) -> tuple[float, float, float]:
        """The database's clock (epoch seconds), and when the request left and its answer
        came on the loop's clock: one more round trip to read the clock by."""
        rows, asked, answered = await self._timed(_CLOCK, {})
        return float(rows[0][0]), asked, answered

    async def delay(self, gap: float) -> None:
        """Every slot not yet handed out moves ``gap`` seconds later."""
        await self._run(_DELAY, {"a": self.account, "g": gap})

    async def rate_limited(self, pause: float, *, interval: float, floor: float) -> None:
        """A 429: every worker of the account pauses ``pause`` s; the rate is halved."""
        params = {"a": self.account, "p": pause, "i": interval, "floor": floor}
        await self._run(_RATE_LIMITED, params)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        return (await self._timed(sql, params))[0]

    async def _timed(self, sql: str, params: dict[str, Any]) -> tuple[list[Any], float, float]:
        """The rows, and when the request left and its answer came (loop clock)."""
        import psycopg

        conn = await self._connection()
        loop = asyncio.get_running_loop()
        try:
            asked = loop.time()
            cursor = await conn.execute(sql.encode(), params)
            rows = list(await cursor.fetchall()) if cursor.description else []
            return rows, asked, loop.time()
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
