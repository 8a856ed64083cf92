"""The campaign store: what every implementation promises (SQLite, in-memory, PostgreSQL).

This docstring is the contract. ``tests/store/test_conformance.py`` holds one test per
clause, run against every implementation; a new store only has to pass it.

**Terms** are those of :mod:`polyout._campaign._states` (contact, exclusion, intent,
placement, refusal, attempts). A *worker* is one engine working on a campaign, named by
a string. A *store* holds any number of named campaigns. A contact's intents are
numbered from 1; ``intents`` is how many it has had.

**Durability.** A method marked *durable* has committed when it returns: a crash of
the process (or the machine) after that keeps the write. A method marked *batched*
may be lost by a crash, but is never half-applied, and a durable write (or ``flush``)
commits every batched write made before it in that store. Reopening after a crash
shows the store as of its last commit, never a mix. A batched write is only ever one
whose loss is safe: what it recorded is seen again (a status, an outcome) or settled by
``recover`` the safe way (an open intent becomes ``unknown``). Which worker holds a
contact is not data: a crash of the process that held it drops the hold.

1. ``create`` is atomic and durable: the definition (settings, connection identity,
   do-not-call list) is there whole, or no campaign of that name exists. Creating a
   name that exists raises :class:`CampaignExists`; opening one that does not,
   :class:`CampaignNotFound`.
2. ``open_intent`` is durable, and is the only way a contact reaches ``dialing``: the
   engine sends nothing until it returns.
3. ``record_placement`` is durable: a sid the server gave is never lost once it
   returns. A sid already recorded for another intent raises :class:`DuplicateCallSid`
   after recording this contact ``unknown`` (its call may have been placed), durably.
   **A sid learned late** (3b): recording the sid already recorded for that intent, while
   its call is in flight, is a no-op (a retry whose first answer was lost). A contact
   that is ``unknown`` because its latest intent ``intent`` ended so without a sid (a
   worker that could not reach the store was reaped, or recovered itself) becomes
   ``in_flight`` after all: the late sid upgrades the unknown. Its attempt is not
   counted again, and the call is held by no worker (``calls_in_flight`` hands it to
   one). Any other state raises :class:`StaleTransition` and changes nothing: a late
   sid never overwrites another worker's (or an operator's) decision.
4. ``close_intent`` (a send provably placed nothing) is durable, so a crash during the
   wait before the next send never leaves that intent open. ``record_unknown`` is
   durable too.
5. Every transition is compare-and-set: it names the state (and intent) it expects. If
   the contact moved meanwhile (another worker, a crash recovery), it raises
   :class:`StaleTransition` and changes nothing. Moves outside
   :data:`~polyout._campaign._states.TRANSITIONS` raise it too, and so does a contact
   that does not exist.
6. A new intent is refused (:class:`StaleTransition`) while an earlier intent of the
   contact is open, or may have placed a call whose outcome is not retryable; only
   ``requeue_unknown`` lifts that for an ``unknown`` one (the exactly-once rule,
   enforced by the store itself, not only by the engine). ``open_intent`` names the
   intents it saw (``after``): two workers racing for one contact open one intent.
7. A number is dialable in at most one contact of a campaign: ``append`` of a second
   dialable (``scheduled``) contact with the same E.164 number raises
   :class:`StaleTransition` and stores nothing of that batch.
8. Claims: ``claim_due`` hands each due, unheld ``scheduled`` contact to one worker at
   a time. The worker then *holds* the contact: through ``dialing`` and ``in_flight``
   until it is scheduled again or final, or until ``release`` (unchanged) or
   ``reschedule``. A transition by a worker that does not hold it (``open_intent``,
   ``reschedule``) raises :class:`StaleTransition`. A claim gives no right to dial by
   itself: ``open_intent`` still checks the state and the intents.
9. ``recover`` settles what a crash left (all workers on reopen, or one dead worker's
   share): an open intent (no sid) becomes ``unknown``; a contact ``dialing`` whose
   last intent was closed not-placed goes back to ``scheduled``, due ``now``; the
   worker's holds are dropped. Placed calls stay ``in_flight``, held by no worker
   until ``calls_in_flight`` hands them to one. It is durable and idempotent. It never
   re-sends anything and never makes a contact dialable that may have been rung.
10. ``requeue_unknown`` is the only move out of a final state, and only from
    ``unknown``, only when asked: the contact is ``scheduled`` again, due ``now``.
11. Reads never fail on a stored value: a time out of range (past year 9999, before
    1970) reads clamped (:func:`readable_time`), and a result's times are ISO 8601.
    A write of a time that is not a number (NaN) raises ``ValueError`` and changes
    nothing.
12. Idempotent writes: ``append`` of a ``seq`` already stored with the same content is
    a no-op (a feeder that re-reads its last batch after a crash), with other content
    it raises :class:`StaleTransition`; a new ``seq`` must be the next one
    (``FeedPosition.count``). ``record_status`` of the status already recorded is a
    no-op (no log entry).
13. A write the store cannot make (disk full, read-only, I/O error) raises
    ``JournalError`` ("cannot write ..."); from then on every call, reads and
    ``aclose`` included, raises it: a batched write lost that way is never lost in
    silence. What was committed stays whole, and a store opened again (once the disk
    is fixed) holds it.
14. ``withdraw`` ends a ``scheduled`` contact in a state of
    :data:`~polyout._campaign._states.WITHDRAWALS` (``suppressed``: a rule or the
    pre-dial hook said no; ``cancelled``: an operator or a deadline) with its reason,
    without any intent. It is batched (lost, the contact is scheduled again and judged
    again) and compare-and-set: a contact that is not ``scheduled``, or is held by
    another worker, raises :class:`StaleTransition`. ``worker=None`` is a command from
    outside any run: it withdraws only a contact no worker holds.

Every transition and poll error leaves a :class:`LogEntry` in the contact's
``history``, written in the same transaction as the change it describes.

Everything is ``async``; an implementation does its blocking I/O off the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from polyout._campaign._states import ContactState
from polyout._campaign._store_answers import AnswersCampaign
from polyout._campaign._store_control import StoreControl
from polyout._campaign._store_outbox import StoredOutbox
from polyout._campaign._store_policy import IntentPolicy, PolicyCampaign, PolicyStore
from polyout._campaign._store_records import (
    LATEST_TIME,
    CampaignDefinition,
    CampaignExists,
    CampaignNotFound,
    ContactEntry,
    DueContact,
    DuplicateCallSid,
    FeedPosition,
    FollowedCall,
    LogEntry,
    Recovery,
    StaleTransition,
    checked_time,
    readable_time,
)
from polyout._campaign._store_workers import StoreWorkers

__all__ = [
    "LATEST_TIME",
    "CampaignDefinition",
    "CampaignExists",
    "CampaignNotFound",
    "CampaignStore",
    "ContactEntry",
    "DueContact",
    "DuplicateCallSid",
    "FeedPosition",
    "FollowedCall",
    "LogEntry",
    "Recovery",
    "StaleTransition",
    "StoredCampaign",
    "checked_time",
    "readable_time",
]


class StoredCampaign(
    AnswersCampaign, StoreControl, StoredOutbox, PolicyCampaign, StoreWorkers, Protocol
):
    """One campaign in a store, as a worker sees it."""

    name: str

    # -- definition and feed ---------------------------------------------------------
    async def definition(self) -> CampaignDefinition: ...

    async def feed_position(self) -> FeedPosition: ...

    async def append(
        self, entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
    ) -> None:
        """Store ``entries`` and the feed position after them, in one transaction
        (batched: after a crash the position and the contacts agree). With no entries,
        it only moves the position (``done``). An exclusion is finished at ``now``."""

    async def has_number(self, e164: str) -> bool:
        """Whether an earlier contact took this number: a dialable or a suppressed one
        (an invalid or duplicate row takes nothing). Sees batched writes."""

    async def has_contact_id(self, contact_id: str) -> bool:
        """Whether an earlier contact took this id (as :meth:`has_number`)."""

    # -- dispatch -----------------------------------------------------------------------
    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        """Claim up to ``limit`` unheld contacts due at ``now``, earliest (then lowest
        ``seq``) first."""

    async def next_due(self) -> float | None:
        """When the earliest unheld ``scheduled`` contact is due, if any."""

    async def release(self, worker: str, seqs: Sequence[int]) -> None:
        """Hand back ``scheduled`` contacts this worker holds, unchanged; others are
        left alone."""

    async def reschedule(self, worker: str, seq: int, due: float, *, why: str, now: float) -> None:
        """Move a ``scheduled`` contact to another ``due`` (batched) and release it."""

    async def withdraw(
        self, worker: str | None, seq: int, *, state: ContactState, reason: str, now: float
    ) -> None:
        """``scheduled`` -> ``state`` (a withdrawal), never dialled; batched (clause 14)."""

    async def open_intent(
        self, worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
    ) -> int:
        """``scheduled`` -> ``dialing``, or the next send while ``dialing`` after
        ``close_intent``; durable. ``after`` is the contact's ``intents`` as the caller
        saw them (``DueContact.intents``, or the intent just closed). Returns the new
        intent's number, ``after + 1``. ``policy``: caps checked and a receipt sealed in
        the same transaction (``_store_policy`` P1, P2)."""

    async def close_intent(self, seq: int, intent: int, *, error: str, now: float) -> None:
        """The send of ``intent`` provably placed nothing; durable. Stays ``dialing``."""

    async def record_placement(
        self,
        seq: int,
        intent: int,
        *,
        call_sid: str,
        call_status: str | None,
        correlation_id: str | None,
        deadline: float,
        now: float,
    ) -> None:
        """``dialing`` -> ``in_flight`` (or a late sid: ``unknown`` -> ``in_flight``,
        clause 3b); durable."""

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        """``dialing`` -> ``unknown``: the open intent's answer was lost; durable."""

    async def record_not_placed(
        self,
        seq: int,
        intent: int,
        *,
        state: ContactState,
        due: float | None,
        reason: str | None,
        error: str | None,
        now: float,
    ) -> None:
        """After sends that placed nothing (``intent`` open or closed): back to
        ``scheduled`` at ``due``, or final ``state`` (``failure`` after too many,
        ``invalid`` on a refusal). Batched."""

    # -- following ----------------------------------------------------------------------
    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        """The placed calls this worker follows, oldest first: those it placed, and
        those no worker holds (after ``recover``), which it now holds."""

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        """The server's latest status word for a call in flight (batched)."""

    async def record_poll_error(self, seq: int, intent: int, *, error: str, now: float) -> None:
        """A status read for the call failed (batched; only the history shows it)."""

    async def record_outcome(
        self,
        seq: int,
        intent: int,
        *,
        outcome: ContactState,
        retry_due: float | None,
        reason: str | None,
        now: float,
        call_status: str | None = None,
    ) -> None:
        """``in_flight`` -> ``outcome`` (final), or -> ``scheduled`` at ``retry_due``
        (only for a :data:`~polyout._campaign._states.RETRYABLE` outcome). Batched."""

    # -- crashes and reads ----------------------------------------------------------------
    async def recover(self, now: float, *, worker: str | None = None) -> Recovery:
        """Settle what a crash left: every worker's (None) or one dead worker's."""

    async def requeue_unknown(self, now: float) -> int: ...

    async def counts(self) -> dict[ContactState, int]:
        """Contacts per state; a state no contact is in is left out."""

    async def history(self, seq: int) -> list[LogEntry]:
        """The contact's log, oldest first (empty for an unknown ``seq``)."""

    def results(self) -> AsyncIterator[Mapping[str, Any]]:
        """One record per contact, in ``seq`` order, as ``ContactResult.to_json()``
        gives it: the fields of ``polyout.RESULT_FIELDS``, times in ISO 8601 UTC."""

    async def flush(self) -> None:
        """Commit every batched write (durable)."""


class CampaignStore(PolicyStore, Protocol):
    """A store of named campaigns."""

    async def create(self, name: str, definition: CampaignDefinition) -> StoredCampaign: ...

    async def open(self, name: str) -> StoredCampaign: ...

    async def names(self) -> list[str]: ...

    async def aclose(self) -> None:
        """Commit what is pending and let go of the store. Safe to call twice."""
