"""The engine's decisions about time and failure: pure functions, tested without a server.

Each answers one question the dispatcher or the follower asks after something happened,
from the facts alone (counts, settings, the clock reading they took), so each rule is
pinned by a table of cases in ``tests/campaign/test_decisions.py``:

* :func:`outcome_retry_due`: a placed call ended; is the contact dialled again, when?
* :func:`not_placed_due`: sends placed nothing; when is the contact tried again, or does
  it fail?
* :func:`refusal_verdict`: a 400; the contact's problem, or the campaign's?

How a failed trigger is classified in the first place is :mod:`._trigger_errors`.
"""

from __future__ import annotations

import enum

from polyout._campaign._clock import bounded_delay
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._states import RETRYABLE, ContactState
from polyout._campaign._trigger_errors import refusals_stop_campaign
from polyout._campaign._windows import window_opening

__all__ = [
    "NOT_PLACED_FIRST_DELAY",
    "NOT_PLACED_MAX_DELAY",
    "Refusal",
    "not_placed_delay",
    "not_placed_due",
    "outcome_retry_due",
    "refusal_verdict",
]

#: Clock seconds before a contact whose trigger placed nothing is tried again; doubles
#: with each further failure of that contact, up to the maximum.
NOT_PLACED_FIRST_DELAY = 5.0
NOT_PLACED_MAX_DELAY = 300.0


def outcome_retry_due(
    outcome: ContactState,
    *,
    attempts: int,
    max_attempts: int,
    retry_delay: float,
    window: CallingWindow | None,
    zones: tuple[str, ...],
    now: float,
) -> float | None:
    """When a contact whose call ended ``outcome`` is dialled again, or None (it is final).

    Only a retryable outcome (no answer, busy, failure) with calls left is retried:
    ``retry_delay`` after ``now``, moved to the next opening of the calling window in
    every zone of the contact. ``attempts`` counts the calls placed, this one included.
    """
    if outcome not in RETRYABLE or attempts >= max_attempts:
        return None
    return window_opening(window, zones, now + bounded_delay(retry_delay))


def not_placed_delay(failures: int, retry_after: float | None) -> float:
    """Seconds before the next try of a contact that failed to place ``failures`` times
    in a row: exponential from 5 s to 5 min, never sooner than the server asked."""
    delay = min(NOT_PLACED_FIRST_DELAY * 2 ** min(max(failures, 1) - 1, 30), NOT_PLACED_MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, retry_after)  # the server's word: bounded, never trusted whole
    return bounded_delay(delay)


def not_placed_due(
    *,
    failures: int,
    max_not_placed: int,
    counted: bool,
    retry_after: float | None,
    window: CallingWindow | None,
    zones: tuple[str, ...],
    now: float,
) -> float | None:
    """When a contact whose sends placed nothing is tried again; None: it fails now.

    ``failures`` is the contact's sends in a row that placed nothing, this one included.
    A failure that is not the contact's own (``counted=False``: the campaign stopped,
    its window closed between two tries) never fails it.
    """
    if counted and failures >= max_not_placed:
        return None
    delay = not_placed_delay(failures, retry_after) if counted else 0.0
    return window_opening(window, zones, now + delay)


class Refusal(enum.Enum):
    """What a 400 to a request that passed our own validation means."""

    CAMPAIGN = "campaign"
    """Several in a row across contacts: a campaign-wide setting is wrong. Stop, and
    leave the contact to dial after the fix."""
    CONTACT = "contact"
    """Refused again while others go through: the contact ends ``invalid``."""
    AGAIN = "again"
    """A first refusal: tried once more later, as a send that placed nothing."""


def refusal_verdict(*, refused_in_a_row: int, contact_not_placed: int) -> Refusal:
    """``refused_in_a_row`` counts 400s since the last placement, this one included;
    ``contact_not_placed`` the contact's earlier sends in a row that placed nothing."""
    if refusals_stop_campaign(refused_in_a_row):
        return Refusal.CAMPAIGN
    if contact_not_placed:
        return Refusal.CONTACT
    return Refusal.AGAIN
