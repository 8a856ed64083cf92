"""A call's simulated life, computed from its placement time and the clock.

No task runs per call: a call is a record of when it was placed and how it will end
(``Timeline``), and its status at any moment is worked out when someone asks. That
keeps ten thousand calls in flight as cheap as ten.

The neutral phases every call goes through::

    CREATED -> QUEUED -> RINGING -> IN_PROGRESS -> ENDED(completed)
                     \\          \\-> ENDED(no_answer | busy | failed)
                      \\-> ENDED(cancelled)            (cancelled before it rang)

Each API then names those phases in its own vocabulary (the tables below).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

import attrs

from ._outcomes import Outcome

__all__ = [
    "AGENTS_STATUS",
    "CONNECTOR_END_STATUS",
    "CONNECTOR_STATUS",
    "Phase",
    "Timeline",
    "failure_reason",
    "iso_time",
]


class Phase(enum.IntEnum):
    """Neutral phases in the order a call goes through them."""

    CREATED = 0
    QUEUED = 1
    RINGING = 2
    IN_PROGRESS = 3
    ENDED = 4


@attrs.frozen
class Timeline:
    """When each phase of one call starts (simulated POSIX seconds)."""

    outcome: Outcome
    placed_at: float
    queued_at: float
    ringing_at: float | None  # None: a cancelled call never rings
    answered_at: float | None  # None: only completed calls are answered
    ended_at: float
    expires_at: float  # status answers 404 from here on

    @classmethod
    def plan(
        cls,
        outcome: Outcome,
        placed_at: float,
        *,
        queue: float,
        ring: float,
        talk: float,
        retention: float,
    ) -> Timeline:
        # The Connector API reports record creation and queueing separately; the
        # others fold both into "queued". Half the queue phase is spent "created".
        queued_at = placed_at + queue / 2
        ringing_at = placed_at + queue
        if outcome is Outcome.CANCELLED:
            ended_at = ringing_at
            return cls(outcome, placed_at, queued_at, None, None, ended_at, ended_at + retention)
        answered_at = ringing_at + ring
        if outcome is not Outcome.COMPLETED:
            return cls(
                outcome,
                placed_at,
                queued_at,
                ringing_at,
                None,
                answered_at,
                answered_at + retention,
            )
        ended_at = answered_at + talk
        return cls(
            outcome, placed_at, queued_at, ringing_at, answered_at, ended_at, ended_at + retention
        )

    def events(self, now: float) -> list[tuple[Phase, float]]:
        """Every phase that has started by ``now``, with its start time, oldest first."""
        starts: list[tuple[Phase, float | None]] = [
            (Phase.CREATED, self.placed_at),
            (Phase.QUEUED, self.queued_at),
            (Phase.RINGING, self.ringing_at),
            (Phase.IN_PROGRESS, self.answered_at),
            (Phase.ENDED, self.ended_at),
        ]
        return [(phase, at) for phase, at in starts if at is not None and at <= now]

    def phase(self, now: float) -> Phase:
        """The phase the call is in at ``now`` (the latest one started)."""
        if now >= self.ended_at:
            return Phase.ENDED
        if self.answered_at is not None and now >= self.answered_at:
            return Phase.IN_PROGRESS
        if self.ringing_at is not None and now >= self.ringing_at:
            return Phase.RINGING
        if now >= self.queued_at:
            return Phase.QUEUED
        return Phase.CREATED


# --- each API's vocabulary ---------------------------------------------------------

# Agents API: QUEUED -> CALLING -> SUCCESS | FAILURE; the Platform API says the
# same in lower case.
AGENTS_STATUS: dict[Phase, str] = {
    Phase.CREATED: "QUEUED",
    Phase.QUEUED: "QUEUED",
    Phase.RINGING: "CALLING",
    Phase.IN_PROGRESS: "CALLING",
}

# Connector API: CREATED -> queued -> ringing -> in-progress -> completed, or a
# failure status named after the outcome.
CONNECTOR_STATUS: dict[Phase, str] = {
    Phase.CREATED: "CREATED",
    Phase.QUEUED: "queued",
    Phase.RINGING: "ringing",
    Phase.IN_PROGRESS: "in-progress",
}
CONNECTOR_END_STATUS: dict[Outcome, str] = {
    Outcome.COMPLETED: "completed",
    Outcome.NO_ANSWER: "no-answer",
    Outcome.BUSY: "busy",
    Outcome.FAILED: "failed",
    Outcome.CANCELLED: "cancelled",
}

# The `reason` of a finished Agents or Platform call. The Agents API words a
# cancellation the way its docs' example does: the call never left the queue.
_REASONS: dict[Outcome, str] = {
    Outcome.COMPLETED: "",
    Outcome.NO_ANSWER: "no answer",
    Outcome.BUSY: "busy",
    Outcome.FAILED: "call failed",
    Outcome.CANCELLED: "cancelled",
}
_AGENTS_CANCELLED_REASON = "call queueing: max timeout limit exceeded"


def failure_reason(outcome: Outcome, *, agents: bool) -> str:
    """The ``reason`` an ended call reports; empty for a successful one."""
    if agents and outcome is Outcome.CANCELLED:
        return _AGENTS_CANCELLED_REASON
    return _REASONS[outcome]


def iso_time(posix: float) -> str:
    """ISO 8601 in UTC with milliseconds and an explicit offset (parsable on Python 3.10)."""
    return datetime.fromtimestamp(posix, timezone.utc).isoformat(timespec="milliseconds")
