"""Retries timed by answer rates (``retry_timing="learned"``, opt-in).

With fixed delays, a ``no_answer`` or ``busy`` is dialled again ``retry_delay`` later,
whatever the hour. People answer at some hours more than at others, and a campaign
soon knows which: learned timing moves such a retry to the callee-local hour with the
best answer rate seen so far: in this campaign (every call that ends is counted) and
in the store's history of the last 30 days (read once, before the run's first count):
every campaign of the store where it has the answers capability (``_store_answers``),
else this campaign's earlier runs (a resume, a retry round).

The rules it keeps:

* never sooner than the fixed delay would have dialled (``retry_delay`` is a minimum
  gap between two calls to one person), and within the 24 hours after it;
* only to a moment inside the calling window in every zone of the contact; later
  rules (holidays, regional windows, caps: the admission chain) still apply as the
  contact comes due, and a moment past the campaign's deadline is never chosen;
* an hour is judged only once it has ``MIN_CALLS`` calls behind it, its rate pulled
  towards the campaign's overall rate (``PRIOR_WEIGHT`` calls' worth), and it must
  beat the hour the fixed delay lands in by ``MARGIN``, or the fixed time stands;
* jittered: a uniform moment within the chosen hour (still inside the window), so
  that the retries of one hour do not all come due at its first second.

Other outcomes (``failure``) keep the fixed delay: their cause is not the hour.
A contact with no known zone (no calling window, so none was needed) keeps it too.

Across a crash: nothing here is stored. The retry's due time is recorded with the
outcome as any other, and a restarted run learns the rates again from the store.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import attrs

if TYPE_CHECKING:
    from polyout._campaign._config import CampaignConfig
from polyout._campaign._schedule import CallingWindow, zones_for
from polyout._campaign._states import ContactState
from polyout._campaign._store import FollowedCall, StoredCampaign
from polyout._campaign._store_answers import AnswersCampaign
from polyout._campaign._windows import window_opening

__all__ = [
    "LEARNED",
    "MIN_CALLS",
    "RETRY_TIMINGS",
    "AnswerRates",
    "LearnedRetryTiming",
    "PastCall",
    "learned_timing",
    "local_hour",
    "past_calls",
    "rates_from_campaign",
    "rates_from_store",
]

FIXED, LEARNED = "fixed", "learned"
RETRY_TIMINGS = (FIXED, LEARNED)
#: How far back the store's history counts (older answer patterns say less about now).
HISTORY = 30 * 86400.0
#: Calls an hour needs behind it before its rate is trusted.
MIN_CALLS = 10
#: Calls' worth of the overall rate mixed into each hour's (shrinks small samples).
PRIOR_WEIGHT = 5.0
#: How much better an hour must answer than the fixed time's hour to move a retry.
MARGIN = 0.05
_HOUR = 3600.0
_SAME_MOMENT = 0.001
_MOVED = frozenset({ContactState.NO_ANSWER, ContactState.BUSY})
# The log entries that end a placed call (store: retried, or final), and their states.
_ENDS = frozenset({"retry", "final"})
_STATES = frozenset(state.value for state in ContactState)
_COUNTED = frozenset(
    {ContactState.SUCCESS, ContactState.NO_ANSWER, ContactState.BUSY, ContactState.FAILURE}
)


class AnswerRates:
    """Calls placed and answered, by the callee's local hour (0-23)."""

    def __init__(self) -> None:
        self.placed = [0] * 24
        self.answered = [0] * 24

    def observe(self, hour: int, outcome: ContactState) -> None:
        if outcome in _COUNTED:
            self.placed[hour] += 1
            self.answered[hour] += outcome is ContactState.SUCCESS

    def add(self, other: AnswerRates) -> None:
        for hour in range(24):
            self.placed[hour] += other.placed[hour]
            self.answered[hour] += other.answered[hour]

    def rate(self, hour: int) -> float | None:
        """The hour's answer rate, shrunk towards the overall; None: too few calls."""
        placed = self.placed[hour]
        if placed < MIN_CALLS:
            return None
        total = sum(self.placed)
        overall = sum(self.answered) / total
        return (self.answered[hour] + PRIOR_WEIGHT * overall) / (placed + PRIOR_WEIGHT)

    def __repr__(self) -> str:
        return f"<AnswerRates calls={sum(self.placed)} answered={sum(self.answered)}>"


def learned_timing(
    config: CampaignConfig, store: StoredCampaign, window: CallingWindow | None, seed: int | None
) -> LearnedRetryTiming | None:
    """The run's learned timing, or None when the campaign retries after fixed delays."""
    if config.retry_timing != LEARNED:
        return None
    # The deadline belongs to the contact policy, stored in the settings (POSIX seconds).
    policy = getattr(config, "policy", None) or {}
    deadline = policy.get("end_by")
    return LearnedRetryTiming(
        store, window, deadline=float(deadline) if deadline is not None else None, seed=seed
    )


class LearnedRetryTiming:
    """Moves the retries of ``no_answer`` and ``busy`` to the best-answering hour."""

    def __init__(
        self,
        store: StoredCampaign,
        window: CallingWindow | None,
        *,
        deadline: float | None = None,
        seed: int | None = None,
        prior: AnswerRates | None = None,
    ) -> None:
        self._store = store
        self._window = window
        self._deadline = deadline
        self._seed = seed
        self.rates = AnswerRates()
        if prior is not None:
            self.rates.add(prior)
        self._primed = False
        self._priming = asyncio.Lock()

    async def retry_due(
        self, call: FollowedCall, outcome: ContactState, fixed_due: float | None
    ) -> float | None:
        """Count the call's outcome; when ``fixed_due`` retries it, the learned due time."""
        if not self._primed:
            # Once, before counting this call (the store does not hold its outcome yet);
            # calls ending meanwhile wait, so none is counted twice or decided without it.
            async with self._priming:
                if not self._primed:
                    history = await rates_from_store(self._store, call.placed_at - HISTORY)
                    self.rates.add(history)
                    self._primed = True
        zone = _first_zone(call.zones)
        if zone is None:
            return fixed_due
        self.rates.observe(local_hour(zone, call.placed_at), outcome)
        if fixed_due is None or outcome not in _MOVED:
            return fixed_due
        rng = random.Random(f"{self._seed}/{call.seq}/{call.intent}")
        return self.best_time(call.zones, fixed_due, rng)

    def best_time(self, zones: tuple[str, ...], earliest: float, rng: random.Random) -> float:
        """The moment in the 24 hours from ``earliest`` whose local hour answers best."""
        zone = _first_zone(zones)
        assert zone is not None
        first_hour = local_hour(zone, earliest)
        standing = self.rates.rate(first_hour)
        best: tuple[float, float, float] | None = None  # (rate, hour start, hour end)
        start = _hour_start(zone, earliest)
        for step in range(1, 24):
            begins = start + step * _HOUR
            if self._deadline is not None and begins >= self._deadline:
                break
            rate = self.rates.rate(local_hour(zone, begins))
            if rate is None or not self._inside(zones, begins):
                continue
            if best is None or rate > best[0]:
                best = (rate, begins, begins + _HOUR)
        if best is None or (standing is not None and best[0] < standing + MARGIN):
            return earliest
        _, begins, ends = best
        if self._deadline is not None:
            ends = min(ends, self._deadline)
        jittered = rng.uniform(begins, ends)
        return jittered if self._inside(zones, jittered) else begins

    def _inside(self, zones: tuple[str, ...], at: float) -> bool:
        # The opening is computed through datetimes (microseconds): not bit-equal.
        return window_opening(self._window, zones, at) - at < _SAME_MOMENT


@attrs.frozen
class PastCall:
    """A call a campaign placed and saw end, as its store remembers it."""

    to_number: str
    zones: tuple[str, ...]
    """The callee's zones as the number tells them (else the campaign's default)."""
    placed_at: float
    ended_at: float
    """When its end was seen (up to one poll interval after it ended)."""
    outcome: ContactState

    @property
    def hour(self) -> int | None:
        """The callee's local hour at placement; None when no zone is known."""
        zone = _first_zone(self.zones)
        return None if zone is None else local_hour(zone, self.placed_at)


async def past_calls(stored: StoredCampaign) -> AsyncIterator[PastCall]:
    """Every call ``stored`` remembers placing and seeing end, contact by contact."""
    default_timezone = (await stored.definition()).settings.get("default_timezone")
    seq = -1
    async for result in stored.results():
        seq += 1  # results come in seq order, from 0 (store clause 12)
        number = result.get("to_number")
        if not result.get("attempts") or not number:
            continue
        zones = zones_for(str(number), None, default_timezone)
        placed: dict[int | None, float] = {}
        for entry in await stored.history(seq):
            if entry.event == "placed":
                placed[entry.intent] = entry.at
            elif entry.event in _ENDS and entry.intent in placed and entry.status in _STATES:
                yield PastCall(
                    str(number),
                    zones,
                    placed.pop(entry.intent),
                    entry.at,
                    ContactState(entry.status),
                )


async def rates_from_store(stored: StoredCampaign, since: float) -> AnswerRates:
    """The answer rates by local hour of the calls the store remembers ending since
    ``since``: of all its campaigns when it has the answers capability, else of this one."""
    if not isinstance(stored, AnswersCampaign):
        return await rates_from_campaign(stored)
    rates = AnswerRates()
    for call in await stored.call_outcomes(since):
        zone = _first_zone(call.zones or zones_for(call.to_number, None, None))
        if zone is not None:
            rates.observe(local_hour(zone, call.placed_at), call.outcome)
    return rates


async def rates_from_campaign(stored: StoredCampaign) -> AnswerRates:
    """The answer rates by local hour of every call ``stored`` remembers ending."""
    rates = AnswerRates()
    async for call in past_calls(stored):
        if (hour := call.hour) is not None:
            rates.observe(hour, call.outcome)
    return rates


def local_hour(zone: ZoneInfo, at: float) -> int:
    return datetime.fromtimestamp(at, zone).hour


def _hour_start(zone: ZoneInfo, at: float) -> float:
    local = datetime.fromtimestamp(at, zone)
    return local.replace(minute=0, second=0, microsecond=0).timestamp()


def _first_zone(zones: tuple[str, ...]) -> ZoneInfo | None:
    return _zone(zones[0]) if zones else None


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
