"""One round trip of a PostgreSQL campaign's writes: what it carries, how it is framed.

``_pg_base`` sends the writes queued while another was under way together: this module
says how their transaction is framed (:func:`framing`), whether the round trip commits
(:func:`commit_of`), and queues their statements in psycopg's pipeline
(:func:`queue_writes`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from psycopg import AsyncConnection, AsyncCursor

__all__ = [
    "BATCH_WRITES",
    "SOON",
    "UNDO",
    "Answer",
    "Commit",
    "Kind",
    "Statement",
    "Write",
    "commit_of",
    "encoded",
    "framing",
    "gone",
    "queue_writes",
]

#: A batch this large is committed at once.
BATCH_WRITES = 2000
#: How a call commits: not at all (a read), with the batch, at once, or soon (a claim).
Kind = Literal["read", "batched", "durable", "claim"]
#: One statement of a write: its SQL and its parameters (``c`` and ``s`` are added).
Statement = tuple[str, Mapping[str, Any]]
#: Commit without waiting for the disk (in this transaction only: ``SET LOCAL``).
SOON = b"SELECT set_config('synchronous_commit', 'off', true)"
Commit = Literal["durable", "soon", None]
UNDO = b"ROLLBACK TO SAVEPOINT polyout_write"


class Write:
    """A write waiting for its round trip, and the future its caller awaits."""

    __slots__ = ("done", "kind", "statements")

    def __init__(self, statements: list[tuple[bytes, dict[str, Any]]], kind: Kind) -> None:
        self.statements = statements
        self.kind = kind
        self.done: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()

    def settle(self, rows: list[Any] | None, error: BaseException | None = None) -> None:
        if not self.done.done():
            if error is None:
                self.done.set_result(rows or [])
            else:
                self.done.set_exception(error)


def commit_of(writes: Sequence[Write], pending: int) -> Commit:
    """How a round trip carrying ``writes`` ends: committed when one of them asks for it
    (waiting for the disk only for a durable one), or when the batch is full."""
    kinds = {write.kind for write in writes}
    if "durable" in kinds:
        return "durable"
    if "claim" in kinds or pending + len(writes) >= BATCH_WRITES:
        return "soon"
    return None


def framing(idle: bool, commit: Commit) -> tuple[list[bytes], list[bytes]]:
    """What a round trip sends before and after its writes. With no transaction open, a
    round trip that commits is a transaction of its own, committed by the pipeline's
    ``Sync`` (or rolled back whole by a refusal); one that does not opens the batch's
    transaction. With the batch's transaction open, its writes are one savepoint in it,
    so that a refusal never takes the pending writes with it."""
    soon = [SOON] if commit == "soon" else []
    if idle:
        return (soon, []) if commit else ([b"BEGIN"], [])
    ending = [*soon, b"COMMIT"] if commit else []
    return [b"SAVEPOINT polyout_write"], [b"RELEASE SAVEPOINT polyout_write", *ending]


#: Where a write's answer is: the cursor holding its last statement's result, and which.
Answer = tuple["AsyncCursor[Any] | None", int]


async def queue_writes(conn: AsyncConnection[Any], group: list[Write]) -> list[Answer]:
    """Queue the statements of ``group`` in the pipeline; where each write's answer will
    be. A run of writes of the same one statement (the follower's statuses) is queued by
    one ``executemany``: the same messages, sent at a fraction of the CPU."""
    answers: list[Answer] = []
    start = 0
    while start < len(group):
        first = group[start].statements
        end = start + 1
        while len(first) == 1 and end < len(group) and _same(group[end].statements, first):
            end += 1
        if end - start > 1:
            cursor = conn.cursor()
            params = [write.statements[0][1] for write in group[start:end]]
            await cursor.executemany(first[0][0], params, returning=True)
            answers.extend((cursor, index) for index in range(end - start))
        else:
            last = None
            for sql, values in first:
                last = await conn.execute(sql, values)
            answers.append((last, 0))
        start = end
    return answers


def _same(statements: list[tuple[bytes, dict[str, Any]]], one: list[tuple[bytes, Any]]) -> bool:
    return len(statements) == 1 and statements[0][0] is one[0][0]  # one SQL, one object


@functools.lru_cache(maxsize=256)
def encoded(sql: str) -> bytes:
    """The statement as psycopg takes it, one object per statement (the moves' SQL are a
    few constants)."""
    return sql.encode()


def gone(conn: AsyncConnection[Any]) -> bool:
    """Whether the server closed this idle connection: its goodbye waits unread (a read
    that does not block; an idle connection in good health has nothing to read)."""
    import psycopg
    from psycopg.pq import ConnStatus

    if conn.closed or conn.broken:
        return True
    try:
        conn.pgconn.consume_input()
    except psycopg.OperationalError:
        return True
    return conn.pgconn.status == ConnStatus.BAD
