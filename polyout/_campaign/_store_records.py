"""The store contract's values: times, errors and the records a store takes and gives.

They belong to the contract in :mod:`polyout._campaign._store` (which re-exports them);
they live here, at the bottom of the store's import graph, so that each capability's
protocol module can use them too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._states import CALL_OUTCOMES, RETRYABLE, ContactState

__all__ = [
    "LATEST_TIME",
    "CampaignDefinition",
    "CampaignExists",
    "CampaignNotFound",
    "ContactEntry",
    "DueContact",
    "DuplicateCallSid",
    "FeedPosition",
    "FollowedCall",
    "LogEntry",
    "Recovery",
    "StaleTransition",
    "checked_outcome",
    "checked_time",
    "readable_time",
]

#: The latest POSIX time a datetime can hold in any zone (a day before year 10000).
LATEST_TIME = 253402214400.0


def readable_time(value: float) -> float:
    """A stored time made safe to show as a datetime: clamped to 1970..9999 (clause 11)."""
    if math.isnan(value):
        return 0.0
    return min(max(float(value), 0.0), LATEST_TIME)


def checked_time(value: float, what: str) -> float:
    """``value`` if it is a number (infinity included: it reads clamped), else ValueError."""
    if not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{what} must be a time in POSIX seconds, not {value!r}")
    return float(value)


class CampaignExists(JournalError):
    """A campaign of that name is already in the store."""


class CampaignNotFound(JournalError):
    """No campaign of that name is in the store."""


class StaleTransition(JournalError):
    """A compare-and-set transition found the contact elsewhere than it expected."""


def checked_outcome(seq: int, outcome: ContactState, retry_due: float | None) -> None:
    """What ``record_outcome`` may be told, on every store: an outcome of a call, and a
    retry only for a retryable one (StaleTransition), at a time (ValueError)."""
    if outcome not in CALL_OUTCOMES:
        raise StaleTransition(f"contact #{seq}: {outcome} is not an outcome of a call")
    if retry_due is not None:
        checked_time(retry_due, "retry_due")
        if outcome not in RETRYABLE:
            raise StaleTransition(f"contact #{seq}: a {outcome} call is never dialled again")


class DuplicateCallSid(JournalError):
    """The server gave a call sid already recorded for another intent."""


@attrs.frozen
class CampaignDefinition:
    """Everything that defines a campaign, stored whole by ``create``."""

    settings: Mapping[str, Any]
    """The campaign's settings as JSON-able values (``CampaignConfig.to_json``)."""
    connection: Mapping[str, str]
    """Who the calls go through (API, base URL without credentials, agent or account,
    environment). Never a key."""
    suppressed: frozenset[str]
    """The do-not-call numbers (E.164)."""
    created_at: float


@attrs.frozen
class FeedPosition:
    """How much of the contact source is stored: a resume reads on from here."""

    count: int
    """Items stored (contacts and exclusions); the next one gets ``seq == count``."""
    digest: str | None
    """Fingerprint of the source items stored so far, to refuse a changed source."""
    done: bool
    """The source was read to its end."""


@attrs.frozen
class ContactEntry:
    """One input item for ``append``: a contact to schedule, or an exclusion."""

    seq: int
    contact_id: str | None
    row: int | None
    to_number: str | None
    """E.164 for a dialable contact; the raw text (or None) for an exclusion."""
    state: ContactState
    """``SCHEDULED``, or an exclusion state (final from the start)."""
    due: float | None = None
    """When a ``scheduled`` contact is first due (required for one)."""
    request: Mapping[str, Any] = attrs.field(factory=dict)
    """What the trigger carries besides the number: metadata, encryption, variant id."""
    zones: tuple[str, ...] = ()
    reason: str | None = None


@attrs.frozen
class DueContact:
    """A claimed ``scheduled`` contact, as the dispatcher needs it."""

    seq: int
    contact_id: str | None
    to_number: str
    request: Mapping[str, Any]
    zones: tuple[str, ...]
    attempts: int
    """Intents that placed, or may have placed, a call."""
    intents: int
    """Intents committed, placed or not: ``open_intent(after=intents)``."""
    not_placed: int
    """Sends in a row that provably placed nothing."""


@attrs.frozen
class FollowedCall:
    """A placed call not yet followed to its end."""

    seq: int
    contact_id: str | None
    intent: int
    attempts: int
    """Calls placed for the contact so far, this one included."""
    call_sid: str
    call_status: str | None
    placed_at: float
    deadline: float
    """When following stops and the call ends ``expired``."""
    zones: tuple[str, ...] = ()
    """The contact's zones: a retry's due time must fall in its calling window."""


@attrs.frozen
class LogEntry:
    """One line of a contact's history, in the order written."""

    at: float
    event: str
    """``rescheduled``, ``intent``, ``not_placed``, ``placed``, ``status``,
    ``poll_error``, ``retry``, ``final`` (``status`` is the final state), ``requeued``."""
    intent: int | None = None
    call_sid: str | None = None
    status: str | None = None
    detail: str | None = None


@attrs.frozen
class Recovery:
    """What ``recover`` settled."""

    unknown: int
    """Open intents (no sid) made ``unknown``."""
    rescheduled: int
    """Contacts between two not-placed sends put back to ``scheduled``."""
