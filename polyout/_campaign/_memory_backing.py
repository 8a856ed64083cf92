"""What an in-memory store keeps between two instances: its data, as of its last commit.

A :class:`MemoryBacking` plays the part of the disk: a store writes into it directly and
remembers, for each contact changed since the last commit, the version to go back to.
Committing forgets those versions; reopening a store on the backing without committing
first (a crash) puts them back. So a crash loses exactly the batched writes made since
the last durable one, as the store contract allows, and costs nothing when nobody
crashes: one copy of a contact per commit interval, never a copy of the campaign.
"""

from __future__ import annotations

from typing import Any

import attrs

from polyout._campaign._clock import utc_datetime
from polyout._campaign._memory_outbox import OutboxLog
from polyout._campaign._states import EXCLUSIONS, ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    ContactEntry,
    DueContact,
    FeedPosition,
    FollowedCall,
    LogEntry,
    StaleTransition,
    checked_time,
    readable_time,
)

__all__ = [
    "CampaignData",
    "ContactRecord",
    "IntentRecord",
    "MemoryBacking",
    "check_entry",
    "due_contact_of",
    "followed_of",
    "result_of",
]

NOT_PLACED = "not_placed"
REQUEUED = "requeued"


@attrs.frozen
class IntentRecord:
    """One intent of a contact; ``outcome`` is None while it is open (or its call in flight)."""

    number: int
    started_at: float
    outcome: str | None = None
    """``not_placed``, ``unknown``, ``requeued``, or the placed call's outcome."""
    call_sid: str | None = None
    error: str | None = None
    ended_at: float | None = None

    def ended(self, outcome: str, at: float, error: str | None = None) -> IntentRecord:
        return IntentRecord(self.number, self.started_at, outcome, self.call_sid, error, at)

    def placed(self, call_sid: str) -> IntentRecord:
        return IntentRecord(self.number, self.started_at, None, call_sid)


@attrs.define
class ContactRecord:
    """One contact as the store holds it (mutable: the store changes it in place)."""

    entry: ContactEntry
    """As appended: what a replayed ``append`` is compared with."""
    state: ContactState
    due: float | None
    intents: list[IntentRecord] = attrs.field(factory=list)
    log: list[LogEntry] = attrs.field(factory=list)
    attempts: int = 0
    not_placed: int = 0
    call_sid: str | None = None
    call_status: str | None = None
    correlation_id: str | None = None
    placed_at: float | None = None
    deadline: float | None = None
    reason: str | None = None
    error: str | None = None
    first_at: float | None = None
    last_at: float | None = None
    finished_at: float | None = None

    def placed_as(self, intent: int, call_sid: str) -> bool:
        """Whether ``intent``'s call is in flight with ``call_sid`` already."""
        last = self.intents[-1] if self.intents else None
        return (
            self.state is ContactState.IN_FLIGHT
            and last is not None
            and (last.number, last.call_sid) == (intent, call_sid)
        )

    def lost_sid(self, intent: int) -> bool:
        """Whether ``intent``, the latest, ended ``unknown`` without a sid (clause 3b)."""
        last = self.intents[-1] if self.intents else None
        return (
            self.state is ContactState.UNKNOWN
            and last is not None
            and last.number == intent
            and last.outcome == ContactState.UNKNOWN.value
            and last.call_sid is None
        )

    def copy(self) -> ContactRecord:
        # Intents and log entries are frozen: copying the lists is enough. Spelled out
        # (not attrs.evolve): it runs on every contact's first change after a commit.
        return ContactRecord(
            self.entry,
            self.state,
            self.due,
            list(self.intents),
            list(self.log),
            self.attempts,
            self.not_placed,
            self.call_sid,
            self.call_status,
            self.correlation_id,
            self.placed_at,
            self.deadline,
            self.reason,
            self.error,
            self.first_at,
            self.last_at,
            self.finished_at,
        )


@attrs.define
class CampaignData:
    definition: CampaignDefinition
    position: FeedPosition
    contacts: dict[int, ContactRecord] = attrs.field(factory=dict)
    """By ``seq``; inserted in ``seq`` order (``append`` refuses gaps)."""


class MemoryBacking:
    """The campaigns of one in-memory store, surviving the store instance.

    Only one store instance uses a backing at a time: opening another one is what a
    crash and a restart look like, and fences the old one off.
    """

    def __init__(self) -> None:
        self.campaigns: dict[str, CampaignData] = {}
        self.generation = 0
        """Bumped by every store opened on it; an older store refuses to work."""
        self.commits = 0
        self._undo_contacts: dict[tuple[str, int], ContactRecord | None] = {}
        self._undo_positions: dict[str, FeedPosition] = {}
        #: Each campaign's webhook outbox, committed and rolled back with its contacts.
        self.outboxes: dict[str, OutboxLog] = {}

    @property
    def pending(self) -> int:
        """Contacts and positions changed since the last commit."""
        return len(self._undo_contacts) + len(self._undo_positions)

    def changing(self, name: str, seq: int) -> None:
        """Remember the committed version of contact ``seq`` before its first change."""
        key = (name, seq)
        if key not in self._undo_contacts:
            record = self.campaigns[name].contacts.get(seq)
            self._undo_contacts[key] = None if record is None else record.copy()

    def set_position(self, name: str, position: FeedPosition) -> None:
        data = self.campaigns[name]
        self._undo_positions.setdefault(name, data.position)
        data.position = position

    def commit(self) -> None:
        self._undo_contacts.clear()
        self._undo_positions.clear()
        for outbox in self.outboxes.values():
            outbox.commit()
        self.commits += 1

    def rollback(self) -> None:
        """Back to the last commit: what a crash leaves."""
        for (name, seq), record in self._undo_contacts.items():
            contacts = self.campaigns[name].contacts
            if record is None:
                contacts.pop(seq, None)
            else:
                contacts[seq] = record
        for name, position in self._undo_positions.items():
            self.campaigns[name].position = position
        for outbox in self.outboxes.values():
            outbox.rollback()
        self._undo_contacts.clear()
        self._undo_positions.clear()


def _iso(value: float | None) -> str | None:
    if value is None:
        return None
    return utc_datetime(readable_time(value)).isoformat().replace("+00:00", "Z")


def result_of(record: ContactRecord) -> dict[str, Any]:
    """The contact's result record, as ``ContactResult.to_json()`` gives it."""
    entry = record.entry
    scheduled = record.state is ContactState.SCHEDULED
    return {
        "contact_id": entry.contact_id,
        "row": entry.row,
        "to_number": entry.to_number,
        "state": record.state.value,
        "call_sid": record.call_sid,
        "attempts": record.attempts,
        "reason": record.reason,
        "error": record.error,
        "correlation_id": record.correlation_id,
        "first_attempt_at": _iso(record.first_at),
        "last_attempt_at": _iso(record.last_at),
        "finished_at": _iso(record.finished_at),
        "next_attempt_at": _iso(record.due) if scheduled else None,
    }


def due_contact_of(record: ContactRecord) -> DueContact:
    entry = record.entry
    assert entry.to_number is not None
    return DueContact(
        seq=entry.seq,
        contact_id=entry.contact_id,
        to_number=entry.to_number,
        request=entry.request,
        zones=entry.zones,
        attempts=record.attempts,
        intents=len(record.intents),
        not_placed=record.not_placed,
    )


def followed_of(record: ContactRecord) -> FollowedCall:
    assert record.call_sid is not None
    return FollowedCall(
        seq=record.entry.seq,
        contact_id=record.entry.contact_id,
        intent=record.intents[-1].number,
        attempts=record.attempts,
        call_sid=record.call_sid,
        call_status=record.call_status,
        placed_at=readable_time(record.placed_at or 0.0),
        deadline=readable_time(record.deadline if record.deadline is not None else 0.0),
        zones=record.entry.zones,
    )


def check_entry(entry: ContactEntry) -> None:
    """Refuse an entry no contact can start as (before anything of its batch is stored)."""
    if entry.state is ContactState.SCHEDULED:
        if entry.to_number is None or entry.due is None:
            raise ValueError(f"contact #{entry.seq}: a scheduled contact needs a number and due")
        checked_time(entry.due, "due")
    elif entry.state not in EXCLUSIONS:
        raise StaleTransition(f"contact #{entry.seq}: a contact is appended scheduled or excluded")
