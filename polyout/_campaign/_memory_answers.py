"""The in-memory store's answers capability (the contract: ``_store_answers``)."""

from __future__ import annotations

from collections.abc import Callable

from polyout._campaign._memory_backing import CampaignData, MemoryBacking
from polyout._campaign._store_answers import ANSWER_OUTCOMES, CallOutcome

__all__ = ["MemoryAnswers"]

_OUTCOMES = {state.value: state for state in ANSWER_OUTCOMES}


class MemoryAnswers:
    """Every campaign of the backing, read where it lies (no copy is kept)."""

    _backing: MemoryBacking
    _data: CampaignData
    _check: Callable[[], None]

    async def call_outcomes(self, since: float) -> list[CallOutcome]:
        self._check()
        found = []
        for data in self._backing.campaigns.values():
            for record in data.contacts.values():
                number = record.entry.to_number
                for intent in record.intents:
                    outcome = _OUTCOMES.get(intent.outcome or "")
                    if outcome is None or number is None or intent.started_at < since:
                        continue
                    found.append(
                        CallOutcome(number, record.entry.zones, intent.started_at, outcome)
                    )
        return found

    async def intents_since(self, since: float) -> int:
        self._check()
        return sum(
            intent.started_at >= since
            for record in self._data.contacts.values()
            for intent in record.intents
        )
