"""The webhook outbox of the in-memory store (``_store_outbox`` is the contract).

Events live in an :class:`OutboxLog` per campaign, in the :class:`MemoryBacking` beside
the contacts, so they commit and roll back with them: an event written by a batched
transition is forgotten by a crash exactly when the transition is (clause O2). Every
outbox write of its own (``delivered``, ``set_webhook``, ...) is durable: it commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from polyout._campaign._states import ContactState
from polyout._campaign._store import LogEntry, checked_time
from polyout._campaign._store_outbox import FINISHED, OutboxEvent, WebhookEndpoint, event_id

if TYPE_CHECKING:
    from polyout._campaign._memory_backing import ContactRecord, MemoryBacking

__all__ = ["MemoryOutbox", "OutboxLog", "outbox_commanded", "outbox_logged"]

_PENDING, _DELIVERED, _DEAD = "pending", "delivered", "dead"


@attrs.define
class _Item:
    event: OutboxEvent
    status: str = _PENDING
    next_at: float | None = None
    error: str | None = None
    response: str | None = None


class OutboxLog:
    """One campaign's endpoint and events, as of the backing's last commit and after."""

    def __init__(self) -> None:
        self.endpoint: WebhookEndpoint | None = None
        self.items: list[_Item] = []
        self.by_id: dict[str, _Item] = {}
        self._committed = 0
        self._first_open = 0  # items before it are all delivered or dead

    def write(self, type: str, created: float, contact: int | None, data: Mapping[str, Any]) -> str:
        event = OutboxEvent(event_id(secrets.token_hex(12)), type, created, contact, data)
        item = _Item(event)
        self.items.append(item)
        self.by_id[event.id] = item
        return event.id

    def commit(self) -> None:
        self._committed = len(self.items)

    def rollback(self) -> None:
        for item in self.items[self._committed :]:
            del self.by_id[item.event.id]
        del self.items[self._committed :]
        self._first_open = min(self._first_open, len(self.items))

    def finished_since_contacts(self) -> bool:
        """Whether ``campaign.finished`` was written after the last contact event."""
        for item in reversed(self.items):
            if item.event.contact is not None:
                return False
            if item.event.type == FINISHED:
                return True
        return False

    def pending(self, limit: int, now: float) -> list[OutboxEvent]:
        items = self.items
        while self._first_open < len(items) and items[self._first_open].status != _PENDING:
            self._first_open += 1
        heads: set[int | None] = set()
        found: list[OutboxEvent] = []
        for item in items[self._first_open :]:
            if len(found) >= limit:
                break
            contact = item.event.contact
            if item.status != _PENDING or contact in heads:
                continue
            heads.add(contact)  # later events of this contact wait for this one
            if item.next_at is None or item.next_at <= now:
                found.append(item.event)
        return found


def _contact_data(record: ContactRecord, outcome: str | None) -> dict[str, Any]:
    entry = record.entry
    scheduled = record.state is ContactState.SCHEDULED
    return {
        "contact_id": entry.contact_id,
        "position": entry.seq,
        "to_number": entry.to_number,
        "state": record.state.value,
        "outcome": outcome,
        "call_sid": record.call_sid,
        "call_status": record.call_status,
        "attempts": record.attempts,
        "reason": record.reason,
        "error": record.error,
        "next_attempt_at": record.due if scheduled else None,
    }


def outbox_logged(
    backing: MemoryBacking, name: str, record: ContactRecord, logged: LogEntry | None
) -> None:
    """The events of the transition just logged for ``record`` (None: an exclusion
    appended), written beside it when the campaign has an endpoint (clause O3)."""
    outbox = backing.outboxes.get(name)
    if outbox is None or outbox.endpoint is None:
        return
    seq = record.entry.seq
    if logged is None:
        at = record.finished_at if record.finished_at is not None else 0.0
        outbox.write("contact.finished", at, seq, _contact_data(record, record.state.value))
        return
    if logged.event == "placed":
        outbox.write("call.placed", logged.at, seq, _contact_data(record, None))
        return
    if logged.event not in ("retry", "final"):
        return
    data = _contact_data(record, logged.status)
    last = record.intents[-1] if record.intents else None
    if (
        last is not None
        and last.call_sid is not None
        and last.number == logged.intent
        and last.outcome == logged.status
    ):
        outbox.write("call.ended", logged.at, seq, data)
    kind = "contact.retry_scheduled" if logged.event == "retry" else "contact.finished"
    outbox.write(kind, logged.at, seq, data)


#: An operator's command (its campaign-log kind) -> the event it writes (clause O3).
_COMMAND_EVENTS = {
    "paused": "campaign.paused",
    "auto_paused": "campaign.paused",
    "resumed": "campaign.resumed",
    "cancelled": "campaign.cancelled",
}


def outbox_commanded(
    backing: MemoryBacking, name: str, kind: str, reason: str | None, by: str, now: float
) -> None:
    """The event of an operator's command, written with it (before its commit)."""
    outbox = backing.outboxes.get(name)
    type = _COMMAND_EVENTS.get(kind)
    if outbox is None or outbox.endpoint is None or type is None:
        return
    data = {"reason": reason, "by": by, "auto": kind == "auto_paused"}
    outbox.write(type, now, None, data)


class MemoryOutbox:
    """The outbox methods of a ``MemoryCampaign`` (mixed into it)."""

    name: str
    _backing: MemoryBacking
    _check: Callable[[], None]

    def _outbox(self) -> OutboxLog:
        self._check()
        outbox = self._backing.outboxes.get(self.name)
        if outbox is None:
            outbox = self._backing.outboxes[self.name] = OutboxLog()
        return outbox

    def _commit(self) -> None:
        self._backing.commit()

    async def set_webhook(self, url: str | None, *, now: float) -> None:
        checked_time(now, "now")
        self._outbox().endpoint = None if url is None else WebhookEndpoint(url)
        self._commit()

    async def webhook(self) -> WebhookEndpoint | None:
        return self._outbox().endpoint

    async def disable_webhook(self, reason: str, *, now: float) -> None:
        outbox = self._outbox()
        if outbox.endpoint is not None:
            outbox.endpoint = attrs.evolve(outbox.endpoint, disabled=reason)
        self._commit()

    async def add_event(self, type: str, data: Mapping[str, Any], *, now: float) -> str | None:
        checked_time(now, "now")
        outbox = self._outbox()
        if outbox.endpoint is None or (type == FINISHED and outbox.finished_since_contacts()):
            return None
        written = outbox.write(type, now, None, dict(data))
        self._commit()
        return written

    async def pending(self, limit: int, *, now: float) -> list[OutboxEvent]:
        return self._outbox().pending(limit, now)

    async def delivered(self, ids: Sequence[str], *, now: float) -> None:
        outbox = self._outbox()
        for id in ids:
            item = outbox.by_id.get(id)
            if item is not None and item.status == _PENDING:
                item.status = _DELIVERED
        self._commit()

    async def failed(self, id: str, *, attempt: int, next_at: float, error: str) -> None:
        checked_time(next_at, "next_at")
        item = self._outbox().by_id.get(id)
        if item is not None and item.status == _PENDING:
            item.event = attrs.evolve(item.event, attempts=attempt)
            item.next_at, item.error = next_at, error
        self._commit()

    async def dead(self, id: str, *, response: str, now: float) -> None:
        item = self._outbox().by_id.get(id)
        if item is not None and item.status == _PENDING:
            item.status, item.response = _DEAD, response
        self._commit()

    async def outbox_counts(self) -> dict[str, int]:
        counts = {_PENDING: 0, _DELIVERED: 0, _DEAD: 0}
        for item in self._outbox().items:
            counts[item.status] += 1
        return counts
