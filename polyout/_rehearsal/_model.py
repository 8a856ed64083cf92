"""How the simulated API answers a call: its outcome and how long it lasts.

A :class:`CallModel` holds an outcome mix and a call duration for the whole campaign,
and optionally one per local hour of the callee (taken from a past campaign by
``--like``): a call placed at 14:xx callee time is drawn from the 14:00 mix when the
past campaign placed calls then, from the overall mix otherwise.

Every draw derives from the seed, the number and how many calls it has had, never
from the order of the draws: a rehearsal repeats exactly, whatever the event loop
interleaves.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import attrs

from polyout._errors import ConfigurationError
from polyout._models import CallState

__all__ = [
    "DEFAULT_CALL_DURATION",
    "DEFAULT_OUTCOMES",
    "CallModel",
    "HourModel",
    "parse_outcomes",
]

#: Clock seconds from placement to the end of a call when nothing else is known.
DEFAULT_CALL_DURATION = 60.0
#: The outcome mix when none is given: the issue's example.
DEFAULT_OUTCOMES: Mapping[CallState, float] = {
    CallState.SUCCESS: 0.7,
    CallState.NO_ANSWER: 0.2,
    CallState.BUSY: 0.05,
    CallState.FAILURE: 0.05,
}
_OUTCOMES = (CallState.SUCCESS, CallState.NO_ANSWER, CallState.BUSY, CallState.FAILURE)


def parse_outcomes(text: str) -> dict[CallState, float]:
    """``success=0.7,no_answer=0.2,...`` as a mix that adds up to 1, or ConfigurationError."""
    mix: dict[CallState, float] = {}
    known = {outcome.value: outcome for outcome in _OUTCOMES}
    for part in text.split(","):
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if name not in known:
            raise ConfigurationError("outcomes", f"{name!r} is not one of {', '.join(known)}")
        try:
            weight = float(value) if equals else -1.0
        except ValueError:
            weight = -1.0
        if not 0.0 <= weight <= 1.0:
            raise ConfigurationError("outcomes", f"{part.strip()!r}: give a probability 0 to 1")
        state = known[name]
        mix[state] = mix.get(state, 0.0) + weight
    if abs(sum(mix.values()) - 1.0) > 1e-6:
        raise ConfigurationError("outcomes", f"the probabilities add up to {sum(mix.values()):g}")
    return mix


@attrs.frozen
class HourModel:
    """An outcome mix, and call durations (seconds) by outcome, for one hour or for all."""

    outcomes: Mapping[CallState, float]
    durations: Mapping[CallState, tuple[float, ...]]
    """Drawn from uniformly: the given duration, or those a past campaign saw."""
    calls: int = 0
    """How many past calls it was learned from (0: given, not learned)."""

    def duration(self, outcome: CallState, rng: random.Random) -> float:
        seen = self.durations.get(outcome) or next(iter(self.durations.values()))
        return seen[0] if len(seen) == 1 else seen[rng.randrange(len(seen))]


@attrs.frozen
class CallModel:
    """The simulated API's answers: overall, and by the callee's local hour (0-23)."""

    overall: HourModel
    by_hour: Mapping[int, HourModel] = attrs.field(factory=dict)

    @classmethod
    def fixed(
        cls,
        outcomes: Mapping[CallState, float] = DEFAULT_OUTCOMES,
        duration: float = DEFAULT_CALL_DURATION,
    ) -> CallModel:
        mix = dict(outcomes)
        return cls(HourModel(mix, dict.fromkeys(mix, (duration,))))

    def draw(self, seed: int, number: str, nth: int, hour: int | None) -> tuple[CallState, float]:
        """The outcome and duration of the ``nth`` call to ``number``, placed at ``hour``."""
        model = self.by_hour.get(hour, self.overall) if hour is not None else self.overall
        rng = random.Random(f"{seed}/{number}/{nth}")
        return (outcome := _pick(model.outcomes, rng.random())), model.duration(outcome, rng)


def _pick(mix: Mapping[CallState, float], draw: float) -> CallState:
    """The outcome whose share of [0, 1) holds ``draw`` (the last one for a rounding gap)."""
    chosen = CallState.SUCCESS
    for chosen, weight in mix.items():  # the last one answers a rounding gap
        if draw < weight:
            return chosen
        draw -= weight
    return chosen
