"""The PostgreSQL store's answers capability (the contract: ``_store_answers``)."""

from __future__ import annotations

from polyout._campaign._pg_base import PgCampaignBase
from polyout._campaign._states import ContactState
from polyout._campaign._store_answers import ANSWER_OUTCOMES, CallOutcome

__all__ = ["PgAnswers"]

# Every campaign of the store: the intents that placed a call and ended in an outcome.
_CALL_OUTCOMES = (
    "SELECT c.to_number, c.zones, i.started_at, i.outcome FROM polyout_intents i"
    " JOIN polyout_contacts c ON c.campaign = i.campaign AND c.seq = i.seq"
    " WHERE i.started_at >= %(since)s AND i.outcome = ANY(%(outcomes)s)"
    " AND c.to_number IS NOT NULL"
)


class PgAnswers(PgCampaignBase):
    """The answers capability of a campaign of a ``PostgresStore``."""

    async def call_outcomes(self, since: float) -> list[CallOutcome]:
        outcomes = sorted(state.value for state in ANSWER_OUTCOMES)
        rows = await self._rows(_CALL_OUTCOMES, {"since": since, "outcomes": outcomes})
        return [
            CallOutcome(str(number), tuple(zones or ()), float(at), ContactState(outcome))
            for number, zones, at, outcome in rows
        ]

    async def intents_since(self, since: float) -> int:
        [(count,)] = await self._rows(
            "SELECT count(*) FROM polyout_intents WHERE campaign = %(c)s"
            " AND started_at >= %(since)s",
            {"since": since},
        )
        return int(count)
