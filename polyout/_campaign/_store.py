"""The campaign store: what every implementation promises (SQLite, in-memory, PostgreSQL).

This docstring is the contract. ``tests/store/test_conformance.py`` holds one test per
clause, run against every implementation; a new store only has to pass it.

**Terms** are those of :mod:`polyout._campaign._states` (contact, exclusion, intent,
placement, refusal, attempts). A *worker* is one engine working on a campaign; it
holds *claims*. A *store* holds any number of named campaigns.

**Durability.** A method marked *durable* has committed when it returns: a crash of
the process (or the machine) after that keeps the write. A method marked *batched*
may be lost by a crash, but is never half-applied, and a durable write commits every
batched write made before it. Reopening after a crash shows the store as of its last
commit, never a mix.

1. ``create`` is atomic: the definition (settings, connection identity, do-not-call
   list, source fingerprint) is there whole, or no campaign of that name exists.
   Creating a name that exists raises :class:`CampaignExists`.
2. ``open_intent`` is durable, and is the only way a contact reaches ``dialing``: the
   engine sends nothing until it returns.
3. ``record_placement`` is durable: a sid the server gave is never lost once it
   returns. A sid already recorded for another contact raises :class:`DuplicateCallSid`
   after recording this contact ``unknown`` (its call may have been placed).
4. ``close_intent`` (a send provably placed nothing) is durable, so a crash during the
   wait before the next send never leaves that intent open.
5. Every transition is compare-and-set: it names the state (and intent) it expects. If
   the contact moved meanwhile (another worker, a crash recovery), it raises
   :class:`StaleTransition` and changes nothing. Moves outside
   :data:`~polyout._campaign._states.TRANSITIONS` raise it too.
6. A new intent is refused while an earlier intent of the contact may have placed a
   call whose outcome is not retryable (the exactly-once rule, enforced by the store
   itself, not only by the engine).
7. A number is dialable in at most one contact of a campaign: ``append`` of a second
   dialable contact with the same E.164 number raises :class:`StaleTransition`.
8. Claims: ``claim_due`` hands each due ``scheduled`` contact to one worker at a time;
   ``release`` hands it back unchanged. A claim gives no right to dial by itself:
   ``open_intent`` still checks the state.
9. ``recover`` (on reopen with no live worker, or for a dead worker's share) settles
   what a crash left: an intent with no sid and not closed becomes ``unknown``; a
   contact ``dialing`` whose last intent was closed not-placed goes back to
   ``scheduled``; claims are dropped. Placed calls stay ``in_flight``, to be followed.
   It is idempotent. It never re-sends anything and never makes a contact dialable
   that may have been rung.
10. ``requeue_unknown`` is the only move out of a final state, and only from
    ``unknown``, only when asked.
11. Reads never fail on a stored value: a value out of range (a time past year 9999,
    NaN) is clamped or reported as a problem, never raised as a bare error.
12. Idempotent writes: ``append`` of a ``seq`` already stored with the same content is a
    no-op (a feeder that re-reads its last batch after a crash); ``record_status`` of
    the status already recorded is a no-op.

Everything is ``async``; an implementation does its blocking I/O off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._states import ContactState

__all__ = [
    "CampaignDefinition",
    "CampaignExists",
    "CampaignNotFound",
    "CampaignStore",
    "ContactEntry",
    "DueContact",
    "DuplicateCallSid",
    "FeedPosition",
    "FollowedCall",
    "Recovery",
    "StaleTransition",
    "StoredCampaign",
]


class CampaignExists(JournalError):
    """A campaign of that name is already in the store."""


class CampaignNotFound(JournalError):
    """No campaign of that name is in the store."""


class StaleTransition(JournalError):
    """A compare-and-set transition found the contact elsewhere than it expected."""


class DuplicateCallSid(JournalError):
    """The server gave a call sid already recorded for another contact."""


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
    request: Mapping[str, Any] = attrs.field(factory=dict)
    """What the trigger carries besides the number: metadata, encryption, variant id."""
    zones: tuple[str, ...] = ()
    reason: str | None = None


@attrs.frozen
class DueContact:
    """A claimed ``scheduled`` (or ``dialing`` between two sends) contact."""

    seq: int
    contact_id: str | None
    to_number: str
    request: Mapping[str, Any]
    zones: tuple[str, ...]
    attempts: int
    """Intents that placed, or may have placed, a call."""
    intents: int
    """Intents committed, placed or not."""
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


@attrs.frozen
class Recovery:
    """What ``recover`` settled."""

    unknown: int
    """Open intents (no sid) made ``unknown``."""
    rescheduled: int
    """Contacts between two not-placed sends put back to ``scheduled``."""


class StoredCampaign(Protocol):
    """One campaign in a store, as a worker sees it."""

    name: str

    # -- definition and feed ---------------------------------------------------------
    async def definition(self) -> CampaignDefinition: ...

    async def feed_position(self) -> FeedPosition: ...

    async def append(self, entries: Sequence[ContactEntry], position: FeedPosition) -> None:
        """Store ``entries`` and the feed position after them, in one transaction
        (batched: after a crash the position and the contacts agree)."""

    async def has_number(self, e164: str) -> bool:
        """Whether a dialable contact of this campaign has this number."""

    async def has_contact_id(self, contact_id: str) -> bool: ...

    # -- dispatch -----------------------------------------------------------------------
    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        """Claim up to ``limit`` contacts due at ``now``, earliest first."""

    async def next_due(self) -> float | None:
        """When the earliest unclaimed ``scheduled`` contact is due, if any."""

    async def release(self, worker: str, seqs: Sequence[int]) -> None: ...

    async def reschedule(self, seq: int, due: float, *, why: str, now: float) -> None:
        """Move a claimed ``scheduled`` contact to a later ``due`` (batched); releases it."""

    async def open_intent(self, seq: int, now: float) -> int:
        """``scheduled`` -> ``dialing`` (or a next send while ``dialing``); durable.
        Returns the intent's number (from 1)."""

    async def close_intent(self, seq: int, intent: int, *, error: str, now: float) -> None:
        """The send of ``intent`` provably placed nothing; durable. Stays ``dialing``."""

    async def record_placement(
        self,
        seq: int,
        intent: int,
        *,
        call_sid: str,
        call_status: str,
        correlation_id: str | None,
        deadline: float,
        now: float,
    ) -> None:
        """``dialing`` -> ``in_flight``; durable."""

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        """``dialing`` -> ``unknown``: the send's answer was lost; durable."""

    async def record_not_placed(
        self,
        seq: int,
        intent: int,
        *,
        state: ContactState,
        due: float | None,
        reason: str,
        error: str | None,
        now: float,
    ) -> None:
        """After sends that placed nothing: back to ``scheduled`` at ``due``, or final
        ``state`` (``failure`` after too many, ``invalid`` on a refusal)."""

    # -- following ----------------------------------------------------------------------
    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        """The placed calls this worker is to follow (on SQLite: all of them)."""

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        """The server's latest status word for a call in flight (batched)."""

    async def record_outcome(
        self,
        seq: int,
        intent: int,
        *,
        outcome: ContactState,
        retry_due: float | None,
        reason: str,
        now: float,
    ) -> None:
        """``in_flight`` -> ``outcome`` (final), or -> ``scheduled`` at ``retry_due``."""

    # -- crashes and reads ----------------------------------------------------------------
    async def recover(self, now: float) -> Recovery: ...

    async def requeue_unknown(self, now: float) -> int: ...

    async def counts(self) -> dict[ContactState, int]: ...

    async def results(self) -> AsyncIterator[Mapping[str, Any]]:
        """One record per contact, in ``seq`` order (``RESULT_FIELDS``)."""

    async def flush(self) -> None:
        """Commit every batched write (durable)."""


class CampaignStore(Protocol):
    """A store of named campaigns."""

    async def create(self, name: str, definition: CampaignDefinition) -> StoredCampaign: ...

    async def open(self, name: str) -> StoredCampaign: ...

    async def names(self) -> list[str]: ...

    async def aclose(self) -> None: ...
