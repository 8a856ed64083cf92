"""How a simulated call ends, and how the sandbox decides it when the call is placed.

Each call gets one API-neutral outcome at placement; every API then reports it in
its own vocabulary (see ``_lifecycle``). The outcome comes either from a seeded
probability mix or from a deterministic rule on the number's last digit, which lets
a test (or a demo contact list) choose the result of every call it places.
"""

from __future__ import annotations

import enum
import math
import random
from typing import Literal

import attrs

from ._checks import probability

__all__ = ["LAST_DIGIT", "Outcome", "OutcomeMix", "OutcomeRule", "pick_outcome"]


class Outcome(str, enum.Enum):
    """How a call ends, whatever the API that placed it."""

    COMPLETED = "completed"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Names accepted when parsing a mix, so the Platform/Agents vocabulary
# ("success", "failure") and the Connector one ("no-answer") both work.
_ALIASES: dict[str, Outcome] = {
    "success": Outcome.COMPLETED,
    "completed": Outcome.COMPLETED,
    "no_answer": Outcome.NO_ANSWER,
    "no-answer": Outcome.NO_ANSWER,
    "busy": Outcome.BUSY,
    "failure": Outcome.FAILED,
    "failed": Outcome.FAILED,
    "cancelled": Outcome.CANCELLED,
    "canceled": Outcome.CANCELLED,
}


@attrs.frozen
class OutcomeMix:
    """Probabilities of each outcome; they must add up to 1."""

    completed: float = attrs.field(default=0.7, converter=float, validator=probability)
    no_answer: float = attrs.field(default=0.15, converter=float, validator=probability)
    busy: float = attrs.field(default=0.05, converter=float, validator=probability)
    failed: float = attrs.field(default=0.1, converter=float, validator=probability)
    cancelled: float = attrs.field(default=0.0, converter=float, validator=probability)

    def __attrs_post_init__(self) -> None:
        total = sum(self.weights().values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"outcome probabilities must add up to 1, got {total:g}")

    def weights(self) -> dict[Outcome, float]:
        return {outcome: getattr(self, outcome.value) for outcome in Outcome}

    @classmethod
    def parse(cls, text: str) -> OutcomeMix:
        """Parse ``"success=0.7,no_answer=0.15,busy=0.05,failure=0.1"``; unnamed outcomes get 0."""
        values: dict[str, float] = {}
        for item in text.split(","):
            name, sep, number = item.partition("=")
            outcome = _ALIASES.get(name.strip().lower())
            if not sep or outcome is None:
                known = ", ".join(sorted(_ALIASES))
                raise ValueError(
                    f"expected NAME=PROBABILITY with NAME one of {known}, got {item!r}"
                )
            if outcome.value in values:
                raise ValueError(f"outcome {outcome.value!r} given twice in {text!r}")
            values[outcome.value] = float(number)
        return cls(**{outcome.value: values.get(outcome.value, 0.0) for outcome in Outcome})


LAST_DIGIT: Literal["last-digit"] = "last-digit"
OutcomeRule = OutcomeMix | Literal["last-digit"]

# The last-digit rule: 0-6 answer, 7 no answer, 8 busy, 9 fails.
_BY_LAST_DIGIT: dict[str, Outcome] = {
    **{str(digit): Outcome.COMPLETED for digit in range(7)},
    "7": Outcome.NO_ANSWER,
    "8": Outcome.BUSY,
    "9": Outcome.FAILED,
}


def pick_outcome(rule: OutcomeRule, e164: str, rng: random.Random) -> Outcome:
    """The outcome of a call to ``e164``: by the number's last digit or a seeded draw."""
    if not isinstance(rule, OutcomeMix):
        return _BY_LAST_DIGIT[e164[-1]]
    draw = rng.random()
    cumulative = 0.0
    last_possible = Outcome.COMPLETED
    for outcome, weight in rule.weights().items():
        if weight <= 0.0:
            continue
        cumulative += weight
        last_possible = outcome
        if draw < cumulative:
            return outcome
    # Floating-point sums can fall a hair short of 1: the draw then belongs to
    # the last outcome that has any weight.
    return last_possible
