"""What every part of a PostgreSQL campaign shares: its connection, its transaction, its writes.

A campaign object works through one connection of the store's pool, one call at a time
(an ``asyncio.Lock``), in one open transaction that it begins and ends itself (the
connection is in autocommit mode: a read with nothing pending holds nothing open). A
*batched* write is one savepoint in that transaction; a *durable* write is one savepoint
then ``COMMIT``, which commits every batched write before it (the store contract's
durability, exactly). The batch is committed on its own too, once the oldest batched
write is :data:`BATCH_SECONDS` old or :data:`BATCH_WRITES` are pending, and right after a
claim (so other workers see the holds); those commits need not wait for the disk
(``synchronous_commit = off``): a durable commit after them flushes them too. A crash
loses the open transaction whole.

A write of the store's moves (:meth:`PgCampaignBase._write`) costs one round trip: its
statements go in psycopg's pipeline mode with their framing (``_pg_round_trip``). With
no transaction open, a write that commits is a transaction of its own, committed by the
pipeline's ``Sync`` (nothing else to send), and a batched one opens the batch's
transaction (``BEGIN``); with the batch's transaction open, a write is a savepoint in it,
then ``COMMIT`` if it commits. Its compare-and-set is inside its statements, which change
nothing when it fails. Writes asked for while one is under way (the statuses and
outcomes of many calls in flight) queue, and the next round trip carries them all in one
savepoint (a run of the same statement as one ``executemany``). When the database
refuses one of them (its own rules: a unique index), the group is undone and its writes
are sent again one by one: the refused one raises :class:`StaleTransition` alone, the
others apply. A write that commits commits every write before it. A move needing several
round trips (the feed's ``COPY``, recovery, a policy's receipt, live control) is a *job*
(:meth:`PgCampaignBase._op`) in the same transaction, in a savepoint of its own.

A connection lost during a call makes that call raise :class:`StoreUnavailable`, never
report success (its ``COMMIT`` may or may not have been applied: the contract's moves
are compare-and-set, so the caller's next move finds out); the batched writes of the open
transaction are lost as by a crash, and the next call takes a new connection. A
connection the server closed while it sat idle, seen before anything is sent, is
replaced and the call runs on the new one (with batched writes pending, they are lost:
:class:`StoreUnavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from polyout._campaign._errors import JournalError, StoreUnavailable
from polyout._campaign._pg_round_trip import (
    BATCH_WRITES,
    SOON,
    UNDO,
    Answer,
    Kind,
    Statement,
    Write,
    commit_of,
    encoded,
    framing,
    gone,
    queue_writes,
)
from polyout._campaign._store import StaleTransition

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from polyout._campaign._pg_store import PostgresStore

__all__ = ["BATCH_SECONDS", "BATCH_WRITES", "Kind", "PgCampaignBase", "Statement"]

T = TypeVar("T")
#: The oldest batched write waits at most this long for its commit.
BATCH_SECONDS = 0.2
Job = Callable[["AsyncConnection[Any]"], Awaitable[T]]


class _NotSent(Exception):
    """The connection was found dead before this call sent anything."""


class PgCampaignBase:
    """A campaign of a :class:`PostgresStore`: its connection, its transaction, its writes."""

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
        self._queue: list[Write] = []
        self._draining = False  # a sender is sending the queue until it is empty
        self._drainer: asyncio.Future[None] | None = None
        self._jobs_waiting = 0
        self._pending = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._lost: StoreUnavailable | None = None

    def __repr__(self) -> str:
        return f"<PostgresCampaign {self.name!r} at {self._store.where}>"

    @property
    def _session(self) -> int:
        return self._store.session

    def _params(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"c": self._id, "s": self._session, **(params or {})}

    def _raise_lost(self) -> None:
        self._store.check_usable()
        if self._lost is not None:
            lost, self._lost = self._lost, None
            raise lost

    # -- writes: one round trip each, queued writes together --------------------------
    async def _write(self, statements: Sequence[Statement], kind: Kind) -> list[Any]:
        """Run ``statements`` as one write (``kind``: batched, durable or claim), in a
        savepoint of its own; the rows of the last one."""
        write = Write([(encoded(sql), self._params(p)) for sql, p in statements], kind)
        self._queue.append(write)
        try:
            if not self._draining:  # else the writes under way are followed by ours
                async with self._lock:
                    if not write.done.done():
                        await self._send_queue()
            return await write.done  # sent, or left to the task that goes on after a job
        except asyncio.CancelledError:
            if write in self._queue:  # not sent: it never happens
                self._queue.remove(write)
            write.done.cancel()
            raise

    async def _send_queue(self) -> None:
        """Send the queue until it is empty (the lock held), the writes queued meanwhile
        included: their callers wait for their answers, not for the lock. A job waiting
        for the lock goes first (it would wait for ever behind a steady flow of writes):
        a task of its own then sends what is left, after it."""
        alone: list[Write] = []  # a group the database refused, sent again one by one
        self._draining = True
        try:
            while (self._queue or alone) and not (self._jobs_waiting and not alone):
                if alone:
                    group = [alone.pop(0)]
                else:
                    group, self._queue = self._queue, []
                try:
                    self._raise_lost()
                    conn = await self._connection()
                except (StoreUnavailable, JournalError) as error:
                    for write in group:
                        write.settle(None, error)
                    continue
                alone[:0] = await self._send(conn, group)
        finally:
            self._draining = False
            if self._queue or alone:  # a job goes first, or this sender was cancelled
                self._queue[:0] = alone
                self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        async with self._lock:
            if self._queue:
                await self._send_queue()

    async def _send(self, conn: AsyncConnection[Any], group: list[Write]) -> list[Write]:
        """One round trip carrying ``group`` in one savepoint; the writes left to send
        again (after a refusal, one by one)."""
        import psycopg
        from psycopg.pq import TransactionStatus

        answers: list[Answer] = []
        idle = conn.info.transaction_status == TransactionStatus.IDLE
        commit = commit_of(group, self._pending)
        if idle and commit and not any(write.statements for write in group):
            await self._settle_sent(group, [(None, 0)] * len(group), committed=True)
            return []
        opening, closing = framing(idle, commit)
        try:
            async with conn.pipeline():
                for statement in opening:
                    await conn.execute(statement)
                try:
                    answers = await queue_writes(conn, group)
                except psycopg.Error:  # refused before it was sent (a value psycopg cannot
                    # send): what was queued still runs, so it is undone in the same trip
                    await conn.execute(b"ROLLBACK" if idle else UNDO)
                    raise
                for statement in closing:
                    await conn.execute(statement)
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            await self._fail(group, error)
            return []
        except psycopg.Error as refused:  # by the database's own rules (a unique index)
            return await self._refused(conn, group, refused, savepoint=not idle)
        except BaseException as error:  # cancelled mid-way: the connection is unusable
            await self._fail(group, error)
            raise
        await self._settle_sent(group, answers, committed=bool(commit))
        return []

    async def _refused(
        self,
        conn: AsyncConnection[Any],
        group: list[Write],
        refused: Exception,
        *,
        savepoint: bool,
    ) -> list[Write]:
        """The database refused a write of ``group``: the whole group is undone (its
        savepoint, or its transaction) and its writes are sent again one by one, so that
        the refused one raises alone (:class:`StaleTransition` for a rule of the
        database: a unique index; a value it cannot take as it is) and the others apply."""
        import psycopg
        from psycopg.pq import TransactionStatus

        try:
            if conn.info.transaction_status == TransactionStatus.INERROR:
                await conn.execute(UNDO if savepoint else b"ROLLBACK")
        except psycopg.Error as error:  # the connection, or past the savepoint: lost
            await self._fail(group, error)
            return []
        if len(group) > 1:
            return group
        rule = isinstance(refused, psycopg.errors.IntegrityError)
        why = StaleTransition(f"the store refused the change: {refused}") if rule else refused
        group[0].settle(None, why)
        return []

    async def _settle_sent(
        self, group: list[Write], answers: list[Answer], *, committed: bool
    ) -> None:
        if committed:
            self._committed()
        else:
            self._batched(len(group))
        for write, (cursor, index) in zip(group, answers, strict=True):
            rows: list[Any] = []
            if cursor is not None:  # every result is fetched: reading one waits for nothing
                await cursor.set_result(index)
                rows = list(await cursor.fetchall()) if cursor.description else []
            write.settle(rows)

    async def _fail(self, group: list[Write], error: BaseException) -> None:
        pending = self._pending
        await self._drop_connection()
        lost = self._store.lost(error, pending)
        for write in group:
            write.settle(None, lost)

    # -- jobs: a move of several round trips ------------------------------------------
    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """The lock, for a job (or a timed commit): writes being sent let it go first."""
        self._jobs_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._jobs_waiting -= 1
        try:
            yield
        finally:
            self._lock.release()

    async def _op(self, job: Job[T], kind: Kind) -> T:
        async with self._turn():
            return await self._locked_op(job, kind)

    async def _locked_op(self, job: Job[T], kind: Kind) -> T:
        self._raise_lost()
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
        from psycopg.pq import TransactionStatus

        conn = await self._connection()
        first = True
        try:
            if kind == "read":
                return await job(conn)
            async with conn.pipeline():
                if conn.info.transaction_status == TransactionStatus.IDLE:
                    await conn.execute(b"BEGIN")
                await conn.execute(b"SAVEPOINT polyout_write")
            first = False
            try:
                result = await job(conn)
            except (StaleTransition, ValueError, JournalError, psycopg.errors.DataError):
                await conn.execute(b"ROLLBACK TO SAVEPOINT polyout_write")
                raise
            except psycopg.errors.IntegrityError as refused:  # the database's own rules
                await conn.execute(b"ROLLBACK TO SAVEPOINT polyout_write")
                raise StaleTransition(f"the store refused the change: {refused}") from None
            commit = commit_of([Write([], kind)], self._pending)
            _, closing = framing(False, commit)
            async with conn.pipeline():
                for statement in closing:
                    await conn.execute(statement)
            if commit:
                self._committed()
            else:
                self._batched(1)
            return result
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            pending = self._pending
            await self._drop_connection()
            if first and pending == 0:
                raise _NotSent() from error
            raise self._store.lost(error, pending) from None

    # -- the batch -----------------------------------------------------------------------
    def _batched(self, writes: int) -> None:
        self._pending += writes
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(BATCH_SECONDS, self._time_to_commit)

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
        """Commit the batch without waiting for the disk (a durable commit will)."""
        import psycopg

        async with self._turn():
            conn = self._conn
            if self._pending == 0 or conn is None or self._store.dead:
                return
            try:
                async with conn.pipeline():
                    await conn.execute(SOON)
                    await conn.execute(b"COMMIT")
                self._committed()
            except psycopg.Error as error:
                pending = self._pending
                await self._drop_connection()
                self._lost = self._store.lost(error, pending)

    # -- the connection ------------------------------------------------------------------
    async def _connection(self) -> AsyncConnection[Any]:
        if self._conn is not None and gone(self._conn):
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
        await self._write([], "durable")

    async def close(self, *, commit: bool) -> None:
        """Commit what is pending (unless abandoned) and give the connection back."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(BaseException):
                await self._flusher
        async with self._turn():
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
