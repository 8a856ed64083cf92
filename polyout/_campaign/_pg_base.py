"""What every part of a PostgreSQL campaign shares: its connection, its batch, its reads.

A campaign object works through one connection of the store's pool, one call at a time
(an ``asyncio.Lock``), in one open transaction: a *batched* write is one savepoint in
it, a *durable* write is one savepoint then ``COMMIT``, which commits every batched
write before it (the store contract's durability, exactly). The batch is committed on
its own too, once the oldest batched write is :data:`BATCH_SECONDS` old or
:data:`BATCH_WRITES` are pending, and right after a claim (so other workers see the
holds); those commits need not wait for the disk (``synchronous_commit = off``): a
durable commit after them flushes them too. A crash loses the open transaction whole.

A connection lost during a call makes that call raise :class:`StoreUnavailable`, never
report success; the batched writes of the open transaction are lost as by a crash, and
the next call takes a new connection. A call that finds the connection dead before it
has sent anything (and no batched write pending) simply runs on a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from polyout._campaign._errors import JournalError, StoreUnavailable
from polyout._campaign._pg_rows import (
    RESULT_COLUMNS,
    UNHELD,
    log_entry,
    result_record,
)
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    FeedPosition,
    LogEntry,
    StaleTransition,
    readable_time,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from polyout._campaign._pg_store import PostgresStore

__all__ = ["BATCH_SECONDS", "BATCH_WRITES", "Kind", "PgCampaignBase"]

T = TypeVar("T")
#: The oldest batched write waits at most this long for its commit.
BATCH_SECONDS = 0.2
#: A batch this large is committed at once.
BATCH_WRITES = 2000
_PAGE = 1000
#: How a call commits: not at all (a read), with the batch, at once, or soon (a claim).
Kind = Literal["read", "batched", "durable", "claim"]
Job = Callable[["AsyncConnection[Any]"], Awaitable[T]]


class _NotSent(Exception):
    """The connection was found dead before this call sent anything."""


class PgCampaignBase:
    """A campaign of a :class:`PostgresStore`: its connection, its batch, its reads."""

    #: Contacts per ``append`` the feeder gathers (``_feeder``): each append costs a few
    #: round trips and a savepoint, so 1,024 cost a third less CPU per contact than 256,
    #: while a write queued behind one (an intent) waits for ~30 ms of CPU at most.
    feed_batch = 1024

    def __init__(self, store: PostgresStore, name: str, campaign_id: int) -> None:
        self.name = name
        self._store = store
        self._id = campaign_id
        self._conn: AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._pending = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._lost: StoreUnavailable | None = None

    def __repr__(self) -> str:
        return f"<PostgresCampaign {self.name!r} at {self._store.where}>"

    @property
    def _session(self) -> int:
        return self._store.session

    # -- one call ------------------------------------------------------------------------
    async def _op(self, job: Job[T], kind: Kind) -> T:
        async with self._lock:
            self._store.check_usable()
            if self._lost is not None:
                lost, self._lost = self._lost, None
                raise lost
            try:
                return await self._attempt(job, kind)
            except _NotSent:
                pass
            try:
                return await self._attempt(job, kind)  # once more, on a new connection
            except _NotSent as again:
                raise self._store.lost(again.__cause__, 0) from None

    async def _attempt(self, job: Job[T], kind: Kind) -> T:
        import psycopg

        conn = await self._connection()
        first = True
        try:
            if kind == "read":
                result = await job(conn)
            else:
                await conn.execute("SAVEPOINT polyout_write")
                first = False
                try:
                    result = await job(conn)
                except (StaleTransition, ValueError, JournalError, psycopg.errors.DataError):
                    await conn.execute("ROLLBACK TO SAVEPOINT polyout_write")
                    raise
                except psycopg.errors.IntegrityError as refused:  # the database's own rules
                    await conn.execute("ROLLBACK TO SAVEPOINT polyout_write")
                    raise StaleTransition(f"the store refused the change: {refused}") from None
                await conn.execute("RELEASE SAVEPOINT polyout_write")
            await self._settle(conn, kind)
            return result
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            pending = self._pending
            await self._drop_connection()
            if first and pending == 0:
                raise _NotSent() from error
            raise self._store.lost(error, pending) from None

    async def _settle(self, conn: AsyncConnection[Any], kind: Kind) -> None:
        if kind == "durable":
            await conn.commit()
            self._committed()
        elif kind == "claim":
            await self._commit_soon(conn)
        elif kind == "batched":
            self._pending += 1
            if self._pending >= BATCH_WRITES:
                await self._commit_soon(conn)
            elif self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(BATCH_SECONDS, self._time_to_commit)
        elif self._pending == 0:
            await conn.commit()  # ends the read's transaction: nothing is held open

    async def _commit_soon(self, conn: AsyncConnection[Any]) -> None:
        """Commit the batch without waiting for the disk (a durable commit will)."""
        await conn.execute("SET LOCAL synchronous_commit TO OFF")
        await conn.commit()
        self._committed()

    def _committed(self) -> None:
        self._pending = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _time_to_commit(self) -> None:
        self._timer = None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._timed_commit())

    async def _timed_commit(self) -> None:
        import psycopg

        async with self._lock:
            if self._pending == 0 or self._conn is None or self._store.dead:
                return
            try:
                await self._commit_soon(self._conn)
            except psycopg.Error as error:
                pending = self._pending
                await self._drop_connection()
                self._lost = self._store.lost(error, pending)

    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            pending = self._pending
            await self._drop_connection()
            if pending:
                raise self._store.lost(None, pending)
        if self._conn is None:
            self._conn = await self._store.checkout()
        return self._conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._committed()
        if conn is not None:
            await self._store.give_back(conn)

    async def flush(self) -> None:
        async def nothing(conn: AsyncConnection[Any]) -> None:
            return None

        await self._op(nothing, "durable")

    async def close(self, *, commit: bool) -> None:
        """Commit what is pending (unless abandoned) and give the connection back."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(BaseException):
                await self._flusher
        async with self._lock:
            if commit and self._conn is not None and self._lost is None:
                import psycopg

                try:
                    await self._conn.commit()
                except psycopg.Error as error:
                    pending = self._pending
                    await self._drop_connection()
                    raise self._store.lost(error, pending) from None
            await self._drop_connection()

    # -- reads ---------------------------------------------------------------------------
    async def _rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        async def job(conn: AsyncConnection[Any]) -> list[Any]:
            cursor = await conn.execute(sql.encode(), self._params(params))
            return list(await cursor.fetchall())

        return await self._op(job, "read")

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"c": self._id, "s": self._session, **(params or {})}

    async def definition(self) -> CampaignDefinition:
        [(settings, connection, created_at)] = await self._rows(
            "SELECT settings, connection, created_at FROM polyout_campaigns WHERE id = %(c)s"
        )
        numbers = await self._rows("SELECT number FROM polyout_suppressed WHERE campaign = %(c)s")
        return CampaignDefinition(
            settings=settings,
            connection=connection,
            suppressed=frozenset(number for (number,) in numbers),
            created_at=created_at,
        )

    async def feed_position(self) -> FeedPosition:
        [(count, digest, done)] = await self._rows(
            "SELECT feed_count, feed_digest, feed_done FROM polyout_campaigns WHERE id = %(c)s"
        )
        return FeedPosition(int(count), digest, bool(done))

    async def has_number(self, e164: str) -> bool:
        # One probe per partial index (dialable, suppressed): see the schema.
        [(taken,)] = await self._rows(
            "SELECT EXISTS (SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s"
            " AND to_number = %(v)s AND entry_state = 'scheduled')"
            " OR EXISTS (SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s"
            " AND to_number = %(v)s AND entry_state = 'suppressed')",
            {"v": e164},
        )
        return bool(taken)

    async def has_contact_id(self, contact_id: str) -> bool:
        rows = await self._rows(
            "SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s AND contact_id = %(v)s"
            " AND entry_state IN ('scheduled', 'suppressed') LIMIT 1",
            {"v": contact_id},
        )
        return bool(rows)

    async def next_due(self) -> float | None:
        rows = await self._rows(
            "SELECT due FROM polyout_contacts WHERE campaign = %(c)s AND state = 'scheduled'"
            f" AND {UNHELD} ORDER BY due, seq LIMIT 1"
        )
        return readable_time(rows[0][0]) if rows else None

    async def counts(self) -> dict[ContactState, int]:
        rows = await self._rows(
            "SELECT state, count(*) FROM polyout_contacts WHERE campaign = %(c)s GROUP BY state"
        )
        return {ContactState(state): int(count) for state, count in rows}

    async def history(self, seq: int) -> list[LogEntry]:
        rows = await self._rows(
            "SELECT at, event, intent, call_sid, status, detail FROM polyout_log"
            " WHERE campaign = %(c)s AND seq = %(q)s ORDER BY id",
            {"q": seq},
        )
        return [log_entry(row) for row in rows]

    async def results(self) -> AsyncIterator[Mapping[str, Any]]:
        after = -1
        while True:
            page = await self._rows(
                f"SELECT {RESULT_COLUMNS} FROM polyout_contacts WHERE campaign = %(c)s"
                " AND seq > %(after)s ORDER BY seq LIMIT %(page)s",
                {"after": after, "page": _PAGE},
            )
            for row in page:
                yield result_record(row)
            if len(page) < _PAGE:
                return
            after = int(page[-1][0])
