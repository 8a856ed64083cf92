"""The SQLite store's answers capability (the contract: ``_store_answers``; SQL:
``_journal_answers``), read on the store's writer thread as every read is."""

from __future__ import annotations

import functools

import polyout._campaign._journal_answers as sql
from polyout._campaign._sqlite_base import SQLiteCampaignBase
from polyout._campaign._store_answers import CallOutcome

__all__ = ["SQLiteAnswers"]


class SQLiteAnswers(SQLiteCampaignBase):
    """The answers capability of a campaign of an ``SQLiteStore`` (every campaign's calls)."""

    async def call_outcomes(self, since: float) -> list[CallOutcome]:
        # Across campaigns: the writer's job, not ``_run`` (which binds this campaign).
        return await self._writer.run(functools.partial(sql.call_outcomes, since=since))

    async def intents_since(self, since: float) -> int:
        return await self._run(functools.partial(sql.intents_since, since=since))
