"""A campaign's results in aggregate: counts, attempts, time span, and who needs a look.

Pure arithmetic over :class:`ContactResult` records (as the store streams them:
:func:`summarize_stored`, or any iterable: :func:`summarize_results`), in one pass and
bounded memory, so a report on a million contacts costs the time to read them and
nothing more.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from polyout._campaign._results import ContactResult, stored_results
from polyout._campaign._states import FINAL, ContactState

if TYPE_CHECKING:  # the store's modules import the package, which imports this one
    from polyout._campaign._store import StoredCampaign

__all__ = [
    "ATTENTION_STATES",
    "FAILED_STATES",
    "ResultsSummary",
    "summarize_results",
    "summarize_stored",
]

#: Final states where a person may have been rung and nobody knows how it ended.
ATTENTION_STATES = frozenset({ContactState.UNKNOWN, ContactState.EXPIRED})
#: Final states that did not reach the person (after every attempt allowed).
FAILED_STATES = frozenset(
    {ContactState.FAILURE, ContactState.NO_ANSWER, ContactState.BUSY, ContactState.CANCELLED}
)


@attrs.frozen
class ResultsSummary:
    """What a campaign's results add up to."""

    total: int
    states: dict[str, int]
    """Contacts per state (final, or ``scheduled``/``in_flight`` for a stopped campaign)."""
    attempts: int
    """Calls placed, or possibly placed, over every contact."""
    contacts_by_attempts: dict[int, int]
    """How many contacts had 0, 1, 2... attempts."""
    first_attempt_at: datetime | None
    last_activity_at: datetime | None
    """The latest attempt or final state."""
    mean_time_to_final: float | None
    """Seconds from a dialled contact's first attempt to its final state, on average."""
    longest_time_to_final: float | None
    attention: tuple[ContactResult, ...]
    """The first ``attention_limit`` contacts in :data:`ATTENTION_STATES`, in input order."""
    attention_count: int

    @property
    def span(self) -> float | None:
        """Seconds from the first attempt to the last activity."""
        if self.first_attempt_at is None or self.last_activity_at is None:
            return None
        return (self.last_activity_at - self.first_attempt_at).total_seconds()

    @property
    def achieved_rate(self) -> float | None:
        """Attempts per second over the span (pauses between runs included)."""
        span = self.span
        return self.attempts / span if span else None

    @property
    def complete(self) -> bool:
        """Whether every contact is in a final state."""
        return all(state in FINAL for state in self.states)

    @property
    def failed(self) -> int:
        return sum(self.states.get(state, 0) for state in FAILED_STATES)

    @property
    def needs_attention(self) -> bool:
        """Anything short of a clean finish: failures, unknown or expired contacts."""
        return self.attention_count > 0 or self.failed > 0


def _when(text: str | None) -> datetime | None:
    # The results write "...Z"; fromisoformat reads it from Python 3.11 only.
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def summarize_results(
    results: Iterable[ContactResult], *, attention_limit: int = 20
) -> ResultsSummary:
    """Add up ``results`` in one pass, keeping at most ``attention_limit`` records."""
    tally = _Tally(attention_limit)
    for result in results:
        tally.add(result)
    return tally.summary()


async def summarize_stored(stored: StoredCampaign, *, attention_limit: int = 20) -> ResultsSummary:
    """Add up a stored campaign's results, streamed from its store."""
    tally = _Tally(attention_limit)
    async for result in stored_results(stored):
        tally.add(result)
    return tally.summary()


class _Tally:
    """The running sums of one pass over the results."""

    def __init__(self, attention_limit: int) -> None:
        self._attention_limit = attention_limit
        self._states: collections.Counter[str] = collections.Counter()
        self._by_attempts: collections.Counter[int] = collections.Counter()
        self._attention: list[ContactResult] = []
        self._attention_count = self._total = self._attempts = self._timed = 0
        self._time_to_final = self._longest = 0.0
        self._first: datetime | None = None
        self._last: datetime | None = None

    def add(self, result: ContactResult) -> None:
        self._total += 1
        self._states[result.state] += 1
        self._attempts += result.attempts
        self._by_attempts[result.attempts] += 1
        if result.state in ATTENTION_STATES:
            self._attention_count += 1
            if len(self._attention) < self._attention_limit:
                self._attention.append(result)
        started = _when(result.first_attempt_at)
        latest = max(
            (when for when in (_when(result.last_attempt_at), _when(result.finished_at)) if when),
            default=None,
        )
        if started is not None:
            self._first = started if self._first is None else min(self._first, started)
        if latest is not None:
            self._last = latest if self._last is None else max(self._last, latest)
        finished = _when(result.finished_at)
        if started is not None and finished is not None:
            seconds = (finished - started).total_seconds()
            self._time_to_final += seconds
            self._longest = max(self._longest, seconds)
            self._timed += 1

    def summary(self) -> ResultsSummary:
        timed = self._timed
        return ResultsSummary(
            total=self._total,
            states=dict(self._states),
            attempts=self._attempts,
            contacts_by_attempts=dict(sorted(self._by_attempts.items())),
            first_attempt_at=self._first,
            last_activity_at=self._last,
            mean_time_to_final=self._time_to_final / timed if timed else None,
            longest_time_to_final=self._longest if timed else None,
            attention=tuple(self._attention),
            attention_count=self._attention_count,
        )
