"""What every part of an SQLite campaign shares: the writer thread, the holds, and the reads.

``SQLiteCampaign`` (``_sqlite_campaign``) adds the contract's transitions; each store
capability (``_sqlite_<capability>``) is one more mixin over this base, so it can run its
own jobs on the writer thread.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TypeVar

from polyout._campaign._journal import Journal
from polyout._campaign._sqlite_rows import history, result_page
from polyout._campaign._sqlite_writer import Writer
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    FeedPosition,
    LogEntry,
    StaleTransition,
)

__all__ = ["SQLiteCampaignBase"]

T = TypeVar("T")
_PAGE = 500


class SQLiteCampaignBase:
    """A campaign of an SQLite store: its jobs on the writer thread, its holds, its reads."""

    def __init__(self, writer: Writer, name: str, campaign_id: int) -> None:
        self.name = name
        self._writer = writer
        self._id = campaign_id
        self._holders: dict[int, str] = {}
        """Who holds each held contact (touched on the writer thread only)."""
        self._claimed: set[int] = set()
        """Held contacts still ``scheduled``: the due order skips them."""

    def __repr__(self) -> str:
        return f"<SQLiteCampaign {self.name!r}>"

    async def _run(self, job: Callable[[Journal], T]) -> T:
        def on_campaign(journal: Journal) -> T:
            journal.campaign = self._id
            try:
                return job(journal)
            except sqlite3.IntegrityError as refused:  # the file's own exactly-once rules
                raise StaleTransition(f"the store refused the change: {refused}") from None

        return await self._writer.run(on_campaign)

    def _drop_hold(self, seq: int) -> None:
        self._holders.pop(seq, None)
        self._claimed.discard(seq)

    # -- definition and feed ---------------------------------------------------------
    async def definition(self) -> CampaignDefinition:
        def job(journal: Journal) -> CampaignDefinition:
            connection = journal.meta_json("connection") or {}
            return CampaignDefinition(
                settings=journal.config(),
                connection={str(k): str(v) for k, v in dict(connection).items()},
                suppressed=journal.suppressed_numbers(),
                created_at=journal.created_at,
            )

        return await self._run(job)

    async def feed_position(self) -> FeedPosition:
        def job(journal: Journal) -> FeedPosition:
            return FeedPosition(
                journal.contact_count(), journal.meta_text("source_digest"), journal.feed_done
            )

        return await self._run(job)

    async def has_number(self, e164: str) -> bool:
        return await self._run(lambda journal: journal.has_taken_number(e164))

    async def has_contact_id(self, contact_id: str) -> bool:
        return await self._run(lambda journal: journal.has_taken_id(contact_id))

    # -- dispatch -----------------------------------------------------------------------
    async def next_due(self) -> float | None:
        return await self._run(lambda journal: journal.next_due(skip=self._claimed))

    def _check_held(self, worker: str, seq: int) -> None:
        if self._holders.get(seq) != worker:
            raise StaleTransition(f"contact #{seq} is not held by worker {worker!r}")

    async def counts(self) -> dict[ContactState, int]:
        def job(journal: Journal) -> dict[ContactState, int]:
            known = {state.value: state for state in ContactState}
            return {
                known[state]: count
                for state, count in journal.counts_by_state().items()
                if state in known and count
            }

        return await self._run(job)

    async def history(self, seq: int) -> list[LogEntry]:
        return await self._run(lambda journal: history(journal, seq))

    async def results(self) -> AsyncIterator[Mapping[str, Any]]:
        after = -1
        while True:
            page = await self._run(functools.partial(result_page, after=after, size=_PAGE))
            for record in page:
                after = record.pop("seq")
                yield record
            if len(page) < _PAGE:
                return

    async def flush(self) -> None:
        await self._run(lambda journal: journal.commit())
