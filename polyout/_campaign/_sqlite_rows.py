"""The SQLite store's reads and checks, run on its writer thread (``_sqlite_writer``).

Each function takes the journal (on the campaign in question) and reads what a store
method needs to check before it writes (clause 5: everything is checked first), or
turns stored rows into the contract's records. Stored values are never trusted: times
read clamped (clause 11), JSON that does not parse is reported as damage.
"""

from __future__ import annotations

import json
from typing import Any

from polyout._campaign._clock import utc_datetime
from polyout._campaign._journal import Journal
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    ContactEntry,
    FollowedCall,
    LogEntry,
    StaleTransition,
    readable_time,
)

__all__ = [
    "NOT_PLACED",
    "contact_state",
    "entry_matches",
    "followed_calls",
    "history",
    "late_sid",
    "placed",
    "result_page",
    "sending",
]

S = ContactState
NOT_PLACED = "not_placed"


def contact_state(journal: Journal, seq: int) -> tuple[str, int, str | None, str | None, str]:
    """The contact's state, its intents, how the last one ended, its call status and
    sid; StaleTransition if the campaign has no such contact (clause 5)."""
    rows = journal.rows(
        "SELECT c.state, c.tries, a.outcome, c.call_status, c.call_sid FROM contacts c"
        " LEFT JOIN attempts a ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
        " WHERE c.campaign = ? AND c.seq = ?",
        (journal.campaign, seq),
    )
    if not rows:
        raise StaleTransition(f"the campaign has no contact #{seq}")
    state, tries, outcome, call_status, call_sid = rows[0]
    return str(state), int(tries), outcome, call_status, call_sid


def sending(journal: Journal, seq: int, intent: int, *, closed_ok: bool) -> None:
    """The contact is ``dialing`` with ``intent`` its latest, open (or closed not placed)."""
    state, tries, outcome, _, _ = contact_state(journal, seq)
    if state != S.DIALING.value or tries != intent:
        raise StaleTransition(f"contact #{seq} is not dialling intent {intent}")
    if outcome is not None and not (closed_ok and outcome == NOT_PLACED):
        raise StaleTransition(f"intent {intent} of contact #{seq} is not open")


def late_sid(journal: Journal, seq: int, intent: int, call_sid: str) -> bool | None:
    """Clause 3b: None if ``intent`` is in flight with ``call_sid`` already (a retry),
    True if it ended ``unknown`` without a sid (the sid upgrades it), else False."""
    rows = journal.rows(
        "SELECT c.state, c.tries, a.outcome, a.call_sid FROM contacts c"
        " JOIN attempts a ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
        " WHERE c.campaign = ? AND c.seq = ?",
        (journal.campaign, seq),
    )
    if not rows or rows[0][1] != intent:
        return False
    state, _, outcome, known = rows[0]
    if state == S.IN_FLIGHT.value and known == call_sid:
        return None
    return state == S.UNKNOWN.value and outcome == S.UNKNOWN.value and known is None


def placed(journal: Journal, seq: int, intent: int) -> tuple[str | None, str]:
    """The call status and sid of the contact's call in flight for ``intent``."""
    state, tries, _, call_status, call_sid = contact_state(journal, seq)
    if state != S.IN_FLIGHT.value or tries != intent:
        raise StaleTransition(f"contact #{seq} has no call in flight for intent {intent}")
    return call_status, call_sid


def entry_matches(journal: Journal, entry: ContactEntry) -> bool | None:
    """Whether ``entry`` is what is stored at its seq (None: nothing is stored there)."""
    rows = journal.rows(
        "SELECT contact_id, row, to_number, dialable, request, zones, first_due, reason,"
        " state FROM contacts WHERE campaign = ? AND seq = ?",
        (journal.campaign, entry.seq),
    )
    if not rows:
        return None
    contact_id, row, to_number, dialable, request, zones, first_due, reason, state = rows[0]
    if (contact_id, row, to_number) != (entry.contact_id, entry.row, entry.to_number):
        return False
    if entry.state is S.SCHEDULED:
        return bool(dialable) and (
            _json(request) == dict(entry.request)
            and _json(zones) == list(entry.zones)
            and first_due == entry.due
        )
    return not dialable and state == entry.state.value and reason == entry.reason


def _json(text: object) -> Any:
    return json.loads(text) if isinstance(text, str) else None


def followed_calls(journal: Journal) -> list[FollowedCall]:
    """Every call in flight in the campaign, oldest first."""
    rows = journal.rows(
        "SELECT c.seq, c.contact_id, c.tries, c.attempts, c.call_sid, c.call_status,"
        " a.started_at, c.poll_deadline, c.zones FROM contacts c"
        " JOIN attempts a ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
        " WHERE c.campaign = ? AND c.state = 'in_flight' ORDER BY a.started_at, c.seq",
        (journal.campaign,),
    )
    return [
        FollowedCall(
            seq=int(seq),
            contact_id=contact_id,
            intent=int(intent),
            attempts=int(attempts),
            call_sid=str(sid),
            call_status=status,
            placed_at=_time(placed_at),
            deadline=_time(deadline),
            zones=tuple(_json(zones) or ()),
        )
        for seq, contact_id, intent, attempts, sid, status, placed_at, deadline, zones in rows
    ]


def history(journal: Journal, seq: int) -> list[LogEntry]:
    rows = journal.rows(
        "SELECT at, event, attempt, call_sid, status, detail FROM log"
        " WHERE campaign = ? AND contact = ? ORDER BY id",
        (journal.campaign, seq),
    )
    return [
        LogEntry(_time(at), str(event), attempt, call_sid, status, detail)
        for at, event, attempt, call_sid, status, detail in rows
    ]


def result_page(journal: Journal, after: int, size: int) -> list[dict[str, Any]]:
    """Up to ``size`` results after contact ``after``, as ``ContactResult.to_json()``."""
    rows = journal.rows(
        "SELECT seq, contact_id, row, to_number, state, call_sid, attempts, reason, error,"
        " correlation_id, first_attempt_at, last_attempt_at, finished_at, next_due"
        " FROM contacts WHERE campaign = ? AND seq > ? ORDER BY seq LIMIT ?",
        (journal.campaign, after, size),
    )
    return [
        {
            "seq": row[0],
            "contact_id": row[1],
            "row": row[2],
            "to_number": row[3],
            "state": row[4],
            "call_sid": row[5],
            "attempts": row[6],
            "reason": row[7],
            "error": row[8],
            "correlation_id": row[9],
            "first_attempt_at": _iso(row[10]),
            "last_attempt_at": _iso(row[11]),
            "finished_at": _iso(row[12]),
            "next_attempt_at": _iso(row[13]) if row[4] == S.SCHEDULED.value else None,
        }
        for row in rows
    ]


def _time(value: object) -> float:
    """A stored time as a number a datetime can hold (never raising: clause 11)."""
    try:
        return readable_time(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _iso(value: object) -> str | None:
    if value is None:
        return None
    return utc_datetime(_time(value)).isoformat().replace("+00:00", "Z")
