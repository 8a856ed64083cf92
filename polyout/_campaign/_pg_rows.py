"""The PostgreSQL store's rows: how a contact is read back, and the checks every move makes.

A hold is alive while the store instance (session) holding it lives: each instance holds
the advisory lock ``(LIFE_LOCK, session)`` on a connection of its own, and the server
drops it the moment that process dies. :data:`LIVE_SESSIONS` lists the live ones, so a
crashed process's claims are free at once (clause 8) without anyone writing anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyout._campaign._clock import utc_datetime
from polyout._campaign._pg_schema import LIFE_LOCK
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    ContactEntry,
    DueContact,
    FollowedCall,
    LogEntry,
    StaleTransition,
    readable_time,
)

__all__ = [
    "CONTACT_TABLE",
    "COPY_ENTRIES",
    "DUE_COLUMNS",
    "ENTRY_TYPES",
    "FOLLOWED_COLUMNS",
    "LIVE_SESSIONS",
    "NOT_PLACED",
    "REOPENABLE",
    "RESULT_COLUMNS",
    "due_contact",
    "entry_row",
    "followed_call",
    "log_entry",
    "result_record",
    "stored_entry",
]

NOT_PLACED = "not_placed"
REQUEUED = "requeued"
#: An earlier intent that ended so lets a new one be opened (clause 6).
REOPENABLE = (NOT_PLACED, REQUEUED, "no_answer", "busy", "failure")
CONTACT_TABLE = "polyout_contacts"

#: The sessions (store instances) alive now, as a subquery.
LIVE_SESSIONS = (
    "(SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' "
    f"AND classid::bigint = {LIFE_LOCK} AND objsubid = 2 AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
)
#: A contact no live session holds.
UNHELD = f"(held_session IS NULL OR held_session NOT IN {LIVE_SESSIONS})"

DUE_COLUMNS = "seq, contact_id, to_number, request, zones, attempts, intents, not_placed"
FOLLOWED_COLUMNS = (
    "seq, contact_id, intents, attempts, call_sid, call_status, placed_at, deadline, zones"
)
RESULT_COLUMNS = (
    "seq, contact_id, source_row, to_number, state, call_sid, attempts, reason, error,"
    " correlation_id, first_at, last_at, finished_at, due"
)
ENTRY_COLUMNS = (
    "campaign, seq, contact_id, source_row, to_number, entry_state, first_due, request,"
    " zones, entry_reason, state, due, reason, finished_at"
)
#: ``append``'s statement: binary, so the client formats no text and the server parses none.
COPY_ENTRIES = f"COPY polyout_contacts ({ENTRY_COLUMNS}) FROM STDIN (FORMAT BINARY)".encode()
#: The types of :data:`ENTRY_COLUMNS`, which a binary ``COPY`` must be told.
ENTRY_TYPES = (
    "bigint",
    "bigint",
    "text",
    "bigint",
    "text",
    "text",
    "double precision",
    "jsonb",
    "jsonb",
    "text",
    "text",
    "double precision",
    "text",
    "double precision",
)


def entry_row(campaign: int, entry: ContactEntry, now: float) -> tuple[Any, ...]:
    """The row ``append`` stores for ``entry`` (:data:`ENTRY_COLUMNS`, :data:`ENTRY_TYPES`:
    the two ``jsonb`` as Python values, which psycopg dumps)."""
    excluded = entry.state is not ContactState.SCHEDULED
    return (
        campaign,
        entry.seq,
        entry.contact_id,
        entry.row,
        entry.to_number,
        entry.state.value,
        entry.due,
        dict(entry.request),
        list(entry.zones),
        entry.reason,
        entry.state.value,
        None if excluded else entry.due,
        entry.reason if excluded else None,
        now if excluded else None,
    )


def stored_entry(row: Sequence[Any]) -> ContactEntry:
    """The entry a row was appended from: ``seq, contact_id, source_row, to_number,
    entry_state, first_due, request, zones, entry_reason``."""
    seq, contact_id, source_row, to_number, state, due, request, zones, reason = row
    return ContactEntry(
        seq=int(seq),
        contact_id=contact_id,
        row=source_row,
        to_number=to_number,
        state=ContactState(state),
        due=due,
        request=request,
        zones=tuple(zones),
        reason=reason,
    )


def due_contact(row: Sequence[Any]) -> DueContact:
    seq, contact_id, to_number, request, zones, attempts, intents, not_placed = row
    return DueContact(
        seq=int(seq),
        contact_id=contact_id,
        to_number=to_number,
        request=request,
        zones=tuple(zones),
        attempts=attempts,
        intents=intents,
        not_placed=not_placed,
    )


def followed_call(row: Sequence[Any]) -> FollowedCall:
    seq, contact_id, intent, attempts, sid, status, placed_at, deadline, zones = row
    return FollowedCall(
        seq=int(seq),
        contact_id=contact_id,
        intent=intent,
        attempts=attempts,
        call_sid=sid,
        call_status=status,
        placed_at=readable_time(placed_at or 0.0),
        deadline=readable_time(deadline if deadline is not None else 0.0),
        zones=tuple(zones),
    )


def log_entry(row: Sequence[Any]) -> LogEntry:
    at, event, intent, call_sid, status, detail = row
    return LogEntry(at, event, intent, call_sid, status, detail)


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return utc_datetime(readable_time(value)).isoformat().replace("+00:00", "Z")


def result_record(row: Sequence[Any]) -> Mapping[str, Any]:
    """One contact's result, as ``ContactResult.to_json()`` gives it (after ``seq``)."""
    (_, contact_id, source_row, to_number, state, sid, attempts, reason, error) = row[:9]
    correlation_id, first_at, last_at, finished_at, due = row[9:]
    return {
        "contact_id": contact_id,
        "row": source_row,
        "to_number": to_number,
        "state": state,
        "call_sid": sid,
        "attempts": attempts,
        "reason": reason,
        "error": error,
        "correlation_id": correlation_id,
        "first_attempt_at": _iso(first_at),
        "last_attempt_at": _iso(last_at),
        "finished_at": _iso(finished_at),
        "next_attempt_at": _iso(due) if state == ContactState.SCHEDULED.value else None,
    }


def stale(seq: int, why: str) -> StaleTransition:
    return StaleTransition(f"contact #{seq} {why}")
