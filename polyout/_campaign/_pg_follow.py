"""Following the calls in flight of a PostgreSQL campaign: statuses, poll errors, outcomes.

Each is one statement (``_pg_moves``) that locks its contact, in one round trip shared
with the other writes queued meanwhile (``_pg_base``): the follower records the statuses
of many calls at once. All three are batched; each checks that the contact has the call
of ``intent`` in flight (clause 5) and otherwise changes nothing.
"""

from __future__ import annotations

from polyout._campaign._pg_moves import (
    CALLS_IN_FLIGHT,
    OUTCOME_FINAL,
    OUTCOME_RETRY,
    POLL_ERROR,
    STATUS,
)
from polyout._campaign._pg_rows import followed_call, stale
from polyout._campaign._pg_steps import PgCampaignSteps
from polyout._campaign._states import ContactState
from polyout._campaign._store import FollowedCall
from polyout._campaign._store_records import checked_outcome

__all__ = ["PgFollow"]


class PgFollow(PgCampaignSteps):
    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        rows = await self._write([(CALLS_IN_FLIGHT, {"w": worker})], "claim")
        calls = [followed_call(row) for row in rows]
        calls.sort(key=lambda call: (call.placed_at, call.seq))
        return calls

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        params = {"q": seq, "n": intent, "status": status, "now": now}
        in_flight, _ = await self._move(STATUS, params, "batched")
        if not in_flight:  # NULL (no such contact) or false; the same status is a no-op
            raise stale(seq, f"has no call in flight for intent {intent}")

    async def record_poll_error(self, seq: int, intent: int, *, error: str, now: float) -> None:
        params = {"q": seq, "n": intent, "error": error, "now": now}
        if not (await self._move(POLL_ERROR, params, "batched"))[0]:
            raise stale(seq, f"has no call in flight for intent {intent}")

    async def record_outcome(
        self,
        seq: int,
        intent: int,
        *,
        outcome: ContactState,
        retry_due: float | None,
        reason: str | None,
        now: float,
        call_status: str | None = None,
    ) -> None:
        checked_outcome(seq, outcome, retry_due)
        params = {
            "q": seq,
            "n": intent,
            "outcome": outcome.value,
            "due": retry_due,
            "why": reason,
            "status": call_status,
            "now": now,
        }
        sql = OUTCOME_FINAL if retry_due is None else OUTCOME_RETRY
        if not (await self._move(sql, params, "batched"))[0]:
            raise stale(seq, f"has no call in flight for intent {intent}")
