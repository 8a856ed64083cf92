"""The store's answers capability: how placed calls ended, across the store's campaigns.

Learned retry timing (``_retry_timing``) reads it to know at which local hours people
answer: in this campaign and in every other campaign the store remembers. Its clauses
continue those of :mod:`polyout._campaign._store` (and ``_store_policy``):

N1. ``call_outcomes(since)`` returns, across every campaign of the store, one
    :class:`CallOutcome` per intent that placed a call, started at or after ``since``,
    and ended in a call outcome (``success``, ``no_answer``, ``busy``, ``failure``):
    the contact's number and zones, when the intent started, and the outcome. An
    intent closed as not placed, still open, ``unknown`` or ``expired`` is left out.
    Order is unspecified. Reads see this campaign's batched writes, and what the other
    campaigns committed (a store with several writers, PostgreSQL, may hold another
    campaign's batch in its own transaction until that campaign commits it).
N2. ``intents_since(since)`` counts this campaign's intents started at or after
    ``since``: every send it decided, whatever came of it (``polyout campaign status``
    shows the last minute's rate from it, without reading every result).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import attrs

from polyout._campaign._states import ContactState

__all__ = ["ANSWER_OUTCOMES", "AnswersCampaign", "CallOutcome"]

#: The outcomes N1 reports: what a callee did with a call that rang.
ANSWER_OUTCOMES = frozenset(
    {ContactState.SUCCESS, ContactState.NO_ANSWER, ContactState.BUSY, ContactState.FAILURE}
)


@attrs.frozen
class CallOutcome:
    """One placed call and how it ended (N1)."""

    to_number: str
    zones: tuple[str, ...]
    """The contact's zones as stored (empty when none was kept)."""
    placed_at: float
    """When its intent started: the send left within moments of it."""
    outcome: ContactState


@runtime_checkable
class AnswersCampaign(Protocol):
    """The answers capability of one campaign in a store (its store's history, N1-N2)."""

    async def call_outcomes(self, since: float) -> list[CallOutcome]: ...

    async def intents_since(self, since: float) -> int: ...
