"""``--like REF``: the call model of a past campaign, by the callee's local hour.

Read through the store's async API (``results()`` then each contact's ``history``), so
any store works: a journal, an SQLite store's named campaign, PostgreSQL. Each call the
past campaign placed and saw end gives one sample: its outcome and how long it lasted
(placement to the end seen), filed under the callee's local hour at placement.

An hour with fewer than ``MIN_CALLS_PER_HOUR`` calls is not trusted alone: calls then
are drawn from the whole campaign's mix and durations.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from polyout._campaign._retry_timing import AnswerRates, PastCall, past_calls
from polyout._campaign._store import StoredCampaign
from polyout._models import CallState
from polyout._rehearsal._model import CallModel, HourModel

__all__ = ["MIN_CALLS_PER_HOUR", "NoPastCalls", "PastCampaign", "past_campaign"]

MIN_CALLS_PER_HOUR = 20
_Sample = tuple[CallState, float]


class NoPastCalls(ValueError):
    """The past campaign placed no call that ended: there is nothing to learn from."""


class PastCampaign:
    """What a rehearsal takes from a past campaign: its call model and answer rates."""

    def __init__(self, model: CallModel, rates: AnswerRates, calls: list[PastCall]) -> None:
        self.model = model
        self.rates = rates
        self.calls = calls
        """Every call it placed and saw end: the rehearsal's store remembers them."""


async def past_campaign(stored: StoredCampaign) -> PastCampaign:
    """The model of ``stored``'s calls; :class:`NoPastCalls` if it has none."""
    by_hour: defaultdict[int, list[_Sample]] = defaultdict(list)
    overall: list[_Sample] = []
    calls: list[PastCall] = []
    rates = AnswerRates()
    async for call in past_calls(stored):
        calls.append(call)
        outcome = CallState(call.outcome.value)
        sample = (outcome, max(0.0, call.ended_at - call.placed_at))
        overall.append(sample)
        if (hour := call.hour) is not None:
            by_hour[hour].append(sample)
            rates.observe(hour, call.outcome)
    if not overall:
        raise NoPastCalls(f"campaign {stored.name!r} has no call that ended to learn from")
    hours = {
        hour: _hour_model(samples)
        for hour, samples in sorted(by_hour.items())
        if len(samples) >= MIN_CALLS_PER_HOUR
    }
    return PastCampaign(CallModel(_hour_model(overall), hours), rates, calls)


def _hour_model(samples: list[_Sample]) -> HourModel:
    counts = Counter(outcome for outcome, _ in samples)
    durations: defaultdict[CallState, list[float]] = defaultdict(list)
    for outcome, seconds in samples:
        durations[outcome].append(seconds)
    return HourModel(
        {outcome: count / len(samples) for outcome, count in counts.items()},
        {outcome: tuple(seen) for outcome, seen in durations.items()},
        calls=len(samples),
    )
