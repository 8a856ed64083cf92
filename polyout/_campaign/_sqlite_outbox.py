"""The webhook outbox of the SQLite store: the contract of ``_store_outbox`` as jobs for
the store's writer thread (the SQL is ``_journal_outbox``; the events themselves are
written by the file's triggers, in each transition's own transaction)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import polyout._campaign._journal_outbox as sql
from polyout._campaign._journal import Journal
from polyout._campaign._store import checked_time
from polyout._campaign._store_outbox import OutboxEvent, WebhookEndpoint

__all__ = ["SQLiteOutbox"]

T = TypeVar("T")


class SQLiteOutbox:
    """The outbox methods of an ``SQLiteCampaign`` (mixed into it)."""

    if TYPE_CHECKING:

        async def _run(self, job: Callable[[Journal], T]) -> T: ...

    async def set_webhook(self, url: str | None, *, now: float) -> None:
        checked_time(now, "now")
        await self._run(functools.partial(sql.set_webhook, url=url, now=now))

    async def webhook(self) -> WebhookEndpoint | None:
        return await self._run(sql.webhook)

    async def disable_webhook(self, reason: str, *, now: float) -> None:
        await self._run(functools.partial(sql.disable_webhook, reason=reason))

    async def add_event(self, type: str, data: Mapping[str, Any], *, now: float) -> str | None:
        checked_time(now, "now")
        return await self._run(functools.partial(sql.add_event, type=type, data=data, now=now))

    async def pending(self, limit: int, *, now: float) -> list[OutboxEvent]:
        return await self._run(functools.partial(sql.pending_events, limit=limit, now=now))

    async def delivered(self, ids: Sequence[str], *, now: float) -> None:
        await self._run(functools.partial(sql.mark_delivered, ids=list(ids), now=now))

    async def failed(self, id: str, *, attempt: int, next_at: float, error: str) -> None:
        checked_time(next_at, "next_at")
        job = functools.partial(sql.mark_failed, id=id, attempt=attempt, next_at=next_at)
        await self._run(functools.partial(job, error=error))

    async def dead(self, id: str, *, response: str, now: float) -> None:
        await self._run(functools.partial(sql.mark_dead, id=id, response=response, now=now))

    async def outbox_counts(self) -> dict[str, int]:
        return await self._run(sql.outbox_counts)
