"""The contact state machine: every state a contact can be in, and every allowed move.

This module is pure and sits at the bottom of the import graph: the stores, the
engine, the results, the reports and the CLI all take their states from here, and no
other module spells a state as a bare string.

The vocabulary, used everywhere (code, docs, messages):

* **contact**: one item of a campaign's input, at its position ``seq``.
* **exclusion**: a contact planning kept from dialling (``invalid``, ``duplicate``,
  ``suppressed``); it never has an intent.
* **intent**: the durable record, committed before the request leaves, that one trigger
  is about to be sent for a contact. One intent covers one send, never a retry loop.
* **placement**: an intent whose call the server accepted; it has a call sid.
* **refusal**: the server's 400 for a request; the contact ends ``invalid``.
* **attempts** (a count): the intents that placed, or may have placed, a call.

A contact moves::

    scheduled --intent--> dialing --placement--> in_flight --outcome--> final
        ^                   |  |                     |
        |                   |  +--(answer lost)--> unknown
        +--(not placed)-----+                        |
        +--(retryable outcome, attempts left)--------+

Exclusions are final from the start. A scheduled contact may be *withdrawn* before
any dial (``suppressed`` by a rule or the pre-dial hook, ``cancelled`` by an operator or
a deadline). Only ``requeue_unknown`` (an explicit opt-in)
moves a contact out of a final state, ``unknown`` back to ``scheduled``.
"""

from __future__ import annotations

import enum

__all__ = [
    "ACTIVE",
    "CALL_OUTCOMES",
    "DISPLAY_ORDER",
    "EXCLUSIONS",
    "FINAL",
    "RETRYABLE",
    "RETRY_ROUND",
    "TRANSITIONS",
    "WITHDRAWALS",
    "ContactState",
    "can_move",
]


class ContactState(str, enum.Enum):
    """Where a contact is. The value is what stores, results files and reports hold."""

    SCHEDULED = "scheduled"
    """Waiting for its due time (a calling window, a retry delay, or now)."""
    DIALING = "dialing"
    """An intent is committed: a trigger is being sent, or is between two sends that
    provably placed nothing."""
    IN_FLIGHT = "in_flight"
    """Placed: the call has a sid and is followed until it ends."""
    SUCCESS = "success"
    FAILURE = "failure"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """The call's status could not be seen to end before the deadline or retention."""
    UNKNOWN = "unknown"
    """A trigger was sent and its answer lost: a call may have been placed."""
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self in FINAL


S = ContactState

#: Outcomes the server can give a placed call.
CALL_OUTCOMES = frozenset({S.SUCCESS, S.FAILURE, S.NO_ANSWER, S.BUSY, S.CANCELLED, S.EXPIRED})
#: Outcomes of a placed call that may be dialled again later (attempts allowing).
RETRYABLE = frozenset({S.NO_ANSWER, S.BUSY, S.FAILURE})
#: Planning kept these contacts from dialling; they are final from the start.
EXCLUSIONS = frozenset({S.INVALID, S.DUPLICATE, S.SUPPRESSED})
#: A contact in one of these states has exactly one result and is done.
FINAL = frozenset({*CALL_OUTCOMES, S.UNKNOWN, *EXCLUSIONS})
#: A call may be under way for a contact in these states.
ACTIVE = frozenset({S.DIALING, S.IN_FLIGHT})
#: Where a scheduled contact goes when it is withdrawn before any dial: a rule or the
#: pre-dial hook says no (suppressed), a cancel or a deadline (cancelled).
WITHDRAWALS = frozenset({S.SUPPRESSED, S.CANCELLED})

#: Final states an operator's retry round may schedule again (with ``unknown``, only when
#: asked to ring people who may have been rung).
RETRY_ROUND = frozenset({S.NO_ANSWER, S.BUSY, S.FAILURE, S.EXPIRED, S.CANCELLED})

#: Every allowed move, with why it happens.
TRANSITIONS: frozenset[tuple[ContactState, ContactState]] = frozenset(
    {
        (S.SCHEDULED, S.SCHEDULED),  # moved to a later time (calling window, rules)
        (S.SCHEDULED, S.DIALING),  # an intent committed
        *((S.SCHEDULED, final) for final in WITHDRAWALS),  # withdrawn, never dialled
        (S.DIALING, S.SCHEDULED),  # provably not placed: try again later
        (S.DIALING, S.IN_FLIGHT),  # placed, sid known
        (S.DIALING, S.UNKNOWN),  # may have been placed, cannot be followed
        (S.DIALING, S.FAILURE),  # not placed too many times in a row
        (S.DIALING, S.INVALID),  # the server refused the request's content (400)
        (S.IN_FLIGHT, S.SCHEDULED),  # retryable outcome, attempts left
        *((S.IN_FLIGHT, outcome) for outcome in CALL_OUTCOMES),
        (S.UNKNOWN, S.SCHEDULED),  # explicit opt-in: requeue_unknown
        (S.UNKNOWN, S.IN_FLIGHT),  # its call sid learned late (store clause 3b)
        # An operator's retry round (`polyout campaign retry`): these ends may be dialled
        # again when asked. Never `success` (an answered call) nor an exclusion.
        *((final, S.SCHEDULED) for final in RETRY_ROUND),
    }
)

#: The order reports and the CLI list states in: work left first, then outcomes (good
#: news first), then what needs attention, then exclusions.
DISPLAY_ORDER: tuple[ContactState, ...] = (
    S.SCHEDULED,
    S.DIALING,
    S.IN_FLIGHT,
    S.SUCCESS,
    S.NO_ANSWER,
    S.BUSY,
    S.FAILURE,
    S.CANCELLED,
    S.EXPIRED,
    S.UNKNOWN,
    S.INVALID,
    S.DUPLICATE,
    S.SUPPRESSED,
)


def can_move(source: ContactState, target: ContactState) -> bool:
    """Whether a contact may go from ``source`` to ``target``."""
    return (source, target) in TRANSITIONS
