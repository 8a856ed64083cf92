"""The engine's pure decisions: when a retry is due, the not-placed backoff, what 400s mean.

No server, no store, no clock: each rule is a table of cases (``_decisions``).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from polyout._campaign._decisions import (
    NOT_PLACED_MAX_DELAY,
    Refusal,
    not_placed_delay,
    not_placed_due,
    outcome_retry_due,
    refusal_verdict,
)
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._states import ContactState

S = ContactState
NOON = datetime(2026, 3, 6, 12, 0, tzinfo=timezone.utc).timestamp()  # a Friday, UTC
WINDOW = CallingWindow.parse("09:00-17:00")


@pytest.mark.parametrize(
    ("outcome", "attempts", "retried"),
    [
        (S.NO_ANSWER, 1, True),
        (S.BUSY, 2, True),
        (S.FAILURE, 1, True),
        (S.NO_ANSWER, 3, False),  # calls used up
        (S.SUCCESS, 1, False),  # never dialled again
        (S.CANCELLED, 1, False),
        (S.EXPIRED, 1, False),
    ],
)
def test_an_outcome_is_retried_only_when_retryable_with_calls_left(
    outcome: ContactState, attempts: int, retried: bool
) -> None:
    due = outcome_retry_due(
        outcome,
        attempts=attempts,
        max_attempts=3,
        retry_delay=600.0,
        window=None,
        zones=(),
        now=NOON,
    )
    assert due == (NOON + 600.0 if retried else None)


def test_a_retry_waits_for_the_calling_window_in_the_callees_zone() -> None:
    # 12:00 UTC + 6 h = 18:00 UTC, 13:00 in New York: open; + 9 h is 16:00 + ... closed.
    open_due = outcome_retry_due(
        S.BUSY,
        attempts=1,
        max_attempts=2,
        retry_delay=6 * 3600.0,
        window=WINDOW,
        zones=("America/New_York",),
        now=NOON,
    )
    assert open_due == NOON + 6 * 3600.0
    late_due = outcome_retry_due(
        S.BUSY,
        attempts=1,
        max_attempts=2,
        retry_delay=12 * 3600.0,  # 00:00 UTC, 19:00 in New York: wait for 09:00 there
        window=WINDOW,
        zones=("America/New_York",),
        now=NOON,
    )
    assert late_due == datetime(2026, 3, 7, 14, 0, tzinfo=timezone.utc).timestamp()


def test_a_year_long_retry_delay_is_bounded() -> None:
    due = outcome_retry_due(
        S.NO_ANSWER,
        attempts=1,
        max_attempts=2,
        retry_delay=float("inf"),
        window=None,
        zones=(),
        now=NOON,
    )
    assert due is not None
    assert due - NOON == 366 * 86400.0


@pytest.mark.parametrize(
    ("failures", "retry_after", "delay"),
    [
        (1, None, 5.0),
        (2, None, 10.0),
        (4, None, 40.0),
        (10, None, NOT_PLACED_MAX_DELAY),  # capped
        (1, 30.0, 30.0),  # never sooner than the server asked
        (3, 1.0, 20.0),  # ...but no sooner than the backoff either
        (1, 1e12, 366 * 86400.0),  # a server's word is bounded, never trusted whole
        (0, None, 5.0),
    ],
)
def test_the_not_placed_backoff(failures: int, retry_after: float | None, delay: float) -> None:
    assert not_placed_delay(failures, retry_after) == delay


def test_a_contact_fails_after_max_not_placed_sends_of_its_own() -> None:
    def due(failures: int, *, counted: bool = True) -> float | None:
        return not_placed_due(
            failures=failures,
            max_not_placed=3,
            counted=counted,
            retry_after=None,
            window=None,
            zones=(),
            now=NOON,
        )

    assert due(2) == NOON + 10.0
    assert due(3) is None
    # Not the contact's fault (the run stopped, its window closed between two tries):
    # never fails it, and it is due again at once.
    assert due(9, counted=False) == NOON


def test_a_not_placed_contact_waits_for_its_window() -> None:
    evening = datetime(2026, 3, 6, 23, 0, tzinfo=timezone.utc).timestamp()  # 18:00 New York
    due = not_placed_due(
        failures=1,
        max_not_placed=5,
        counted=True,
        retry_after=None,
        window=WINDOW,
        zones=("America/New_York",),
        now=evening,
    )
    assert due == datetime(2026, 3, 7, 14, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("in_a_row", "contact_not_placed", "verdict"),
    [
        (1, 0, Refusal.AGAIN),  # a first refusal: once more, later
        (2, 0, Refusal.AGAIN),
        (1, 1, Refusal.CONTACT),  # refused again while others go through: invalid
        (3, 0, Refusal.CAMPAIGN),  # three in a row across contacts: the campaign's setting
        (3, 2, Refusal.CAMPAIGN),
    ],
)
def test_what_a_run_of_400s_means(in_a_row: int, contact_not_placed: int, verdict: Refusal) -> None:
    assert (
        refusal_verdict(refused_in_a_row=in_a_row, contact_not_placed=contact_not_placed) is verdict
    )
