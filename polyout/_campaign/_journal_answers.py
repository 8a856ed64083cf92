"""SQL of the SQLite store's answers capability (``_sqlite_answers``; contract N1)."""

from __future__ import annotations

import json

from polyout._campaign._journal import Journal
from polyout._campaign._states import ContactState
from polyout._campaign._store_answers import ANSWER_OUTCOMES, CallOutcome

__all__ = ["call_outcomes", "intents_since"]

_OUTCOMES = sorted(state.value for state in ANSWER_OUTCOMES)
# Every campaign of the file: the attempts that placed a call and ended in an outcome.
_CALL_OUTCOMES = (
    "SELECT c.to_number, c.zones, a.started_at, a.outcome FROM attempts a"
    " JOIN contacts c ON c.campaign = a.campaign AND c.seq = a.contact"
    f" WHERE a.started_at >= ? AND a.outcome IN ({', '.join('?' for _ in _OUTCOMES)})"
    " AND c.to_number IS NOT NULL"
)


def call_outcomes(journal: Journal, since: float) -> list[CallOutcome]:
    rows = journal.connection.execute(_CALL_OUTCOMES, (since, *_OUTCOMES))
    return [
        CallOutcome(str(number), _zones(zones), float(at), ContactState(outcome))
        for number, zones, at, outcome in rows
    ]


def intents_since(journal: Journal, since: float) -> int:
    [(count,)] = journal.connection.execute(
        "SELECT count(*) FROM attempts WHERE campaign = ? AND started_at >= ?",
        (journal.campaign, since),
    )
    return int(count)


def _zones(stored: str | None) -> tuple[str, ...]:
    return tuple(json.loads(stored)) if stored else ()
