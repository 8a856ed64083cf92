"""The SQLite store's policy capability (the contract: ``_store_policy``).

The cap is counted and the receipt sealed inside ``open_intent``'s job, on the store's
one writer thread and in the intent's own transaction (SQL: ``_journal_policy``): no
other intent of any campaign of the file can come between the count and the commit.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence

import polyout._campaign._journal_policy as sql
from polyout._campaign._journal import Journal
from polyout._campaign._sqlite_base import SQLiteCampaignBase
from polyout._campaign._sqlite_writer import Writer
from polyout._campaign._store_policy import IntentPolicy, NumberHistory, Receipt

__all__ = ["SQLitePolicy", "SQLitePolicyStore"]


class SQLitePolicy(SQLiteCampaignBase):
    """The policy capability of a campaign of an ``SQLiteStore``."""

    def _seal_receipt(
        self, journal: Journal, seq: int, intent: int, now: float, policy: IntentPolicy | None
    ) -> Callable[[], None]:
        """Check the caps and seal the receipt (P1, P2) before the intent's own step, in
        its transaction; returns what undoes the receipt if that step is refused."""
        if policy is None:
            return lambda: None
        counts = sql.cap_check(journal, seq, policy, now)
        head = sql.receipt_head(journal)
        n = sql.seal_receipt(journal, self.name, seq, intent, now, policy, counts)
        return lambda: sql.unseal_receipt(journal, n, head)

    async def receipts(self) -> AsyncIterator[Receipt]:
        after = 0
        while page := await self._run(functools.partial(sql.receipts_page, after=after)):
            for receipt in page:
                yield receipt
            after = page[-1].n

    async def receipt_head(self) -> tuple[int, str] | None:
        return await self._run(sql.receipt_head)

    async def number_history(self, e164: str, since: float) -> NumberHistory:
        return await self._run(lambda journal: sql.number_history(journal, e164, since))


class SQLitePolicyStore:
    """The store-wide half of the capability (mixed into ``SQLiteStore``)."""

    _writer: Writer

    async def recently_called(self, numbers: Sequence[str], since: float) -> dict[str, int]:
        asked = list(numbers)
        return await self._writer.run(lambda journal: sql.recently_called(journal, asked, since))
