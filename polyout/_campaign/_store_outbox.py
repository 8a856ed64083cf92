"""The webhook outbox: a store capability. This docstring is its contract.

A campaign with a webhook endpoint keeps, in its store, the events a receiver is sent
(``call.placed``, ``contact.finished``, ...), each until it is delivered or given up
on. ``tests/store/test_outbox.py`` holds one test per clause, over every store.

O1. ``set_webhook(url)`` is durable: the endpoint is stored with the campaign and
    outlives the process; ``resume`` and ``work`` read it back (``webhook()``). Only a
    campaign with an endpoint writes events: without one, transitions write nothing.
    Setting an endpoint again (the same URL or another) enables it again.
O2. Every event is written in the SAME transaction as the transition it describes: a
    batched transition lost in a crash loses its events with it, a committed one keeps
    them. A crash neither loses an event nor invents one.
O3. The events of a contact's transitions (``data``: :data:`CONTACT_FIELDS`):
    ``call.placed`` (a sid recorded); ``call.ended`` (a placed call's outcome, then
    ``contact.retry_scheduled`` when it is dialled again, or ``contact.finished``);
    ``contact.finished`` for every other way a contact becomes final (``unknown``,
    a send that failed for good, a refusal, a withdrawal, an exclusion when appended).
    An operator's command (live control, ``_store_control``) writes its event in the
    command's transaction: ``campaign.paused`` (``auto`` true for an auto-pause),
    ``campaign.resumed``, ``campaign.cancelled``; ``data`` is ``reason``, ``by``, ``auto``.
O4. Every event has an id unique across stores and campaigns (receivers deduplicate on
    it). ``pending(limit, now=)`` gives undelivered events in the order written, and
    of each contact only its earliest undelivered one, once due (``next_at``): a
    contact's events are delivered in order. A campaign's own events are one such
    queue of their own.
O5. ``delivered(ids)``, ``failed(...)`` and ``dead(...)`` are durable. ``delivered``
    is idempotent. ``failed`` keeps the event pending, due again at ``next_at`` with
    the attempt counted. ``dead`` ends it undelivered, keeping the response (the
    dead-letter list), and lets the contact's next event go.
O6. ``disable_webhook(reason)`` (the receiver answered ``410 Gone``) is durable:
    ``webhook()`` shows why, and events keep being written, pending, until an endpoint
    is set again.
O7. ``outbox_counts()`` is ``{"pending": n, "delivered": n, "dead": n}``, all three keys.
O8. ``add_event`` writes a campaign's own event (``campaign.finished``) durably and
    returns its id; None when the campaign has no endpoint, or for ``campaign.finished``
    when one was written after the campaign's last contact event (several workers
    finishing together write it once; a retry round that finishes again, once more).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import attrs

from polyout._campaign._clock import utc_datetime

__all__ = [
    "CAMPAIGN_EVENTS",
    "CONTACT_EVENTS",
    "CONTACT_FIELDS",
    "FINISHED",
    "OutboxEvent",
    "StoredOutbox",
    "WebhookEndpoint",
    "event_id",
]

#: Events about one contact, written by the store with the transition.
CONTACT_EVENTS = (
    "call.placed",
    "call.ended",
    "contact.retry_scheduled",
    "contact.finished",
)
#: Events about the whole campaign (commands, and ``add_event``).
CAMPAIGN_EVENTS = (
    "campaign.paused",
    "campaign.resumed",
    "campaign.cancelled",
    "campaign.finished",
)
#: Written once per finish (clause O8).
FINISHED = "campaign.finished"
#: What ``data`` holds for a contact's event, in every store. ``outcome`` is the placed
#: call's outcome (``call.ended`` and after); ``*_at`` are POSIX seconds in the store and
#: ISO 8601 in the body.
CONTACT_FIELDS = (
    "contact_id",
    "position",
    "to_number",
    "state",
    "outcome",
    "call_sid",
    "call_status",
    "attempts",
    "reason",
    "error",
    "next_attempt_at",
)


def event_id(random_hex: str) -> str:
    """An event's id from 24 random hex digits (the stores draw them)."""
    return f"evt_{random_hex}"


#: ``_store.LATEST_TIME``, spelled out: ``_store`` imports this module (its base class).
_LATEST = 253402214400.0


def _iso(value: float) -> str:
    return utc_datetime(min(max(value, 0.0), _LATEST)).isoformat().replace("+00:00", "Z")


@attrs.frozen
class OutboxEvent:
    """One undelivered event, as ``pending`` gives it."""

    id: str
    type: str
    created: float
    contact: int | None
    """The contact's ``seq``; None for a campaign's own event."""
    data: Mapping[str, Any]
    attempts: int = 0
    """Deliveries tried and failed so far."""

    def body(self, campaign: str) -> bytes:
        """The JSON body a receiver gets (the same bytes on every attempt)."""
        data = {
            key: _iso(value) if key.endswith("_at") and isinstance(value, (int, float)) else value
            for key, value in self.data.items()
        }
        document = {
            "id": self.id,
            "type": self.type,
            "created": _iso(self.created),
            "campaign": campaign,
            "data": data,
        }
        return json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")


@attrs.frozen
class WebhookEndpoint:
    """Where a campaign's events go. Never a secret: the secret is never stored."""

    url: str
    disabled: str | None = None
    """Why delivery stopped (``410 Gone``), or None while enabled."""


class StoredOutbox(Protocol):
    """The outbox of one stored campaign (see the clauses above)."""

    async def set_webhook(self, url: str | None, *, now: float) -> None: ...

    async def webhook(self) -> WebhookEndpoint | None: ...

    async def disable_webhook(self, reason: str, *, now: float) -> None: ...

    async def add_event(self, type: str, data: Mapping[str, Any], *, now: float) -> str | None: ...

    async def pending(self, limit: int, *, now: float) -> list[OutboxEvent]: ...

    async def delivered(self, ids: Sequence[str], *, now: float) -> None: ...

    async def failed(self, id: str, *, attempt: int, next_at: float, error: str) -> None: ...

    async def dead(self, id: str, *, response: str, now: float) -> None: ...

    async def outbox_counts(self) -> dict[str, int]: ...
