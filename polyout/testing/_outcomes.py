"""How each call a :class:`~polyout.testing.FakePlacer` places ends, and when.

The outcome comes from a rule: the number's last digit (``LAST_DIGIT``, the sandbox's
rule: 0-6 success, 7 no answer, 8 busy, 9 failure), a seeded mix of probabilities (the
sandbox's default mix unless told otherwise), or any function of the request. Seeded
draws depend on the seed, the number and how many calls it was placed before, never
on the order in which concurrent tasks ran, so a test can assert exact outcomes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Literal

from polyout._errors import ConfigurationError
from polyout._models import CallRequest, CallState

__all__ = [
    "DEFAULT_MIX",
    "LAST_DIGIT",
    "Duration",
    "OutcomeRule",
    "last_digit_outcome",
]

LAST_DIGIT: Literal["last-digit"] = "last-digit"

#: The sandbox's default mix of outcomes.
DEFAULT_MIX: Mapping[CallState, float] = {
    CallState.SUCCESS: 0.7,
    CallState.NO_ANSWER: 0.15,
    CallState.BUSY: 0.05,
    CallState.FAILURE: 0.1,
}

#: ``LAST_DIGIT``, a mix ``{state: probability}``, or a function of the request.
OutcomeRule = Literal["last-digit"] | Mapping[CallState, float] | Callable[[CallRequest], CallState]
#: Clock seconds from placement to the call's end: fixed, uniform (low, high), or a
#: function of the request and its outcome.
Duration = float | tuple[float, float] | Callable[[CallRequest, CallState], float]

_BY_LAST_DIGIT = {
    **{str(digit): CallState.SUCCESS for digit in range(7)},
    "7": CallState.NO_ANSWER,
    "8": CallState.BUSY,
    "9": CallState.FAILURE,
}


def last_digit_outcome(request: CallRequest) -> CallState:
    """0-6 success, 7 no answer, 8 busy, 9 failure (the sandbox's ``last-digit`` rule)."""
    return _BY_LAST_DIGIT[request.to_number[-1]]


def outcome_chooser(rule: OutcomeRule, seed: int) -> Callable[[CallRequest, int], CallState]:
    """``rule`` as a function of the request and the number's 1-based count of calls."""
    if rule == LAST_DIGIT:
        return lambda request, nth: last_digit_outcome(request)
    if isinstance(rule, Mapping):
        table = _checked_mix(rule)

        def draw(request: CallRequest, nth: int) -> CallState:
            left = random.Random(f"{seed}/outcome/{request.to_number}/{nth}").random()
            for state, weight in table:
                if left < weight:
                    return state
                left -= weight
            return table[-1][0]  # a sum a rounding error short of 1

        return draw
    if callable(rule):
        return lambda request, nth: CallState(rule(request))
    raise ConfigurationError("outcomes", f"must be LAST_DIGIT, a mix or a function, not {rule!r}")


def _checked_mix(mix: Mapping[CallState, float]) -> list[tuple[CallState, float]]:
    table = [(CallState(state), float(weight)) for state, weight in mix.items() if weight]
    if any(not state.is_final for state, _ in table):
        raise ConfigurationError("outcomes", "every outcome must be a final state")
    if any(not 0.0 < weight <= 1.0 for _, weight in table):
        raise ConfigurationError("outcomes", "each probability must be between 0 and 1")
    if not table or abs(sum(weight for _, weight in table) - 1.0) > 1e-6:
        raise ConfigurationError("outcomes", "the probabilities must add up to 1")
    return table


def duration_chooser(
    duration: Duration, seed: int
) -> Callable[[CallRequest, CallState, int], float]:
    """``duration`` as a function of the request, its outcome and the number's count."""
    if callable(duration):
        return lambda request, state, nth: _seconds(duration(request, state))
    if isinstance(duration, tuple):
        low, high = (_seconds(bound) for bound in duration)
        if low > high:
            raise ConfigurationError("duration", f"({low:g}, {high:g}) is not (low, high)")

        def draw(request: CallRequest, state: CallState, nth: int) -> float:
            rng = random.Random(f"{seed}/duration/{request.to_number}/{nth}")
            return rng.uniform(low, high)

        return draw
    fixed = _seconds(duration)
    return lambda request, state, nth: fixed


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
        raise ConfigurationError("duration", f"must be 0 or more clock seconds, not {value!r}")
    return float(value)
