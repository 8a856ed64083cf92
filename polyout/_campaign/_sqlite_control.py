"""The SQLite store's control capability (the contract: ``_store_control``).

Each method is a job on the store's writer thread (SQL: ``_journal_control``). The
runner's own store knows which contacts its workers hold and leaves them to them (C4,
C6). A command's store beside a running runner (``_sqlite_control_door``) cannot know
that: it sets ``holds_known = False`` and withdraws no contact, and the runner's
control watcher does it within a poll.
"""

from __future__ import annotations

from collections.abc import Collection

import polyout._campaign._journal_control as sql
from polyout._campaign._journal import Journal
from polyout._campaign._sqlite_base import SQLiteCampaignBase
from polyout._campaign._states import ContactState
from polyout._campaign._store import checked_time
from polyout._campaign._store_control import CampaignLogEntry, Command, ControlState

__all__ = ["SQLiteControl"]

S = ContactState
_SUPPRESSED_REASON = "on the do-not-call list (added while the campaign ran)"


class SQLiteControl(SQLiteCampaignBase):
    """Live control of a campaign of an ``SQLiteStore``."""

    holds_known = True
    """Whether this store sees every hold of the campaign (False beside a runner)."""

    async def control(self) -> ControlState:
        return await self._run(sql.control_state)

    async def command(
        self, command: Command, *, reason: str | None, by: str, now: float
    ) -> ControlState:
        checked_time(now, "now")
        return await self._run(
            lambda journal: sql.command(journal, command, reason=reason, by=by, now=now)
        )

    async def log_campaign_event(
        self, kind: str, *, detail: str | None = None, by: str | None = None, now: float
    ) -> None:
        checked_time(now, "now")
        await self._run(lambda journal: sql.log_event(journal, kind, detail=detail, by=by, now=now))

    async def campaign_log(self, kinds: Collection[str] | None = None) -> list[CampaignLogEntry]:
        return await self._run(lambda journal: sql.campaign_log(journal, kinds))

    async def cancel_pending(self, reason: str, now: float) -> int:
        checked_time(now, "now")
        return await self._withdraw(S.CANCELLED, reason, now, None)

    async def suppress(self, numbers: Collection[str], now: float) -> int:
        checked_time(now, "now")
        wanted = frozenset(numbers)

        def job(journal: Journal) -> None:
            sql.suppress_numbers(journal, wanted)
            journal.commit()

        await self._run(job)
        return await self._withdraw(S.SUPPRESSED, _SUPPRESSED_REASON, now, wanted)

    async def _withdraw(
        self, state: ContactState, reason: str, now: float, numbers: frozenset[str] | None
    ) -> int:
        if not self.holds_known:
            return 0  # the runner's workers withdraw them: they know what they hold

        def job(journal: Journal) -> int:
            return sql.withdraw_scheduled(
                journal, state, reason, now, held=set(self._holders), numbers=numbers
            )

        return await self._run(job)

    async def retry_candidates(
        self, states: Collection[ContactState], *, max_attempts: int | None, include_unknown: bool
    ) -> dict[ContactState, int]:
        def job(journal: Journal) -> dict[ContactState, int]:
            counts: dict[ContactState, int] = {}
            rows = sql.round_rows(
                journal, states, max_attempts=max_attempts, include_unknown=include_unknown
            )
            for _, state, _ in rows:
                counts[S(state)] = counts.get(S(state), 0) + 1
            return counts

        return await self._run(job)

    async def retry_round(
        self,
        states: Collection[ContactState],
        *,
        max_attempts: int | None,
        include_unknown: bool,
        now: float,
    ) -> int:
        checked_time(now, "now")

        def job(journal: Journal) -> int:
            rows = sql.round_rows(
                journal, states, max_attempts=max_attempts, include_unknown=include_unknown
            )
            return sql.retry_round(journal, rows, now)

        return await self._run(job)
