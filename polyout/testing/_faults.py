"""What a :class:`~polyout.testing.FakePlacer` does instead of answering: faults, and rules.

A fault is what one request meets, named by what the client can tell from it:

- :class:`RateLimited`: a 429 with its Retry-After. Nothing was placed.
- :class:`ServerFailure`: a 5xx. 500 and 502 are documented "not placed"; any other
  5xx on a trigger may hide a placed call (:class:`polyout.TriggerOutcomeUnknown`),
  and ``placed`` says whether the fake really placed it.
- :class:`Refused`: a 4xx other than 429 (a 400 by default). Nothing was placed.
- :class:`NoConnection`: no connection was made. Nothing was placed.
- :class:`AnswerLost`: the request left and its answer never came. On a trigger that is
  :class:`polyout.TriggerOutcomeUnknown`, and ``placed`` says whether the call exists.

A *rule* decides which fault, if any, each request meets: any function of a
:class:`Send` (a trigger) or a :class:`Poll` (a status read) returning a fault or None.
The rules here cover the usual cases; every random one is seeded by the number and its
count of sends, so its draws do not depend on the order in which concurrent tasks ran.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from polyout._errors import ConfigurationError
from polyout._models import CallRequest

__all__ = [
    "AnswerLost",
    "Fault",
    "NoConnection",
    "Poll",
    "RateLimited",
    "Refused",
    "Send",
    "ServerFailure",
    "StatusRule",
    "TriggerRule",
    "by_number",
    "fault_mix",
    "first_of",
    "rate_limit_storm",
    "scripted",
]

_NOT_PLACED_5XX = frozenset({500, 502})


@attrs.frozen
class RateLimited:
    """429 Too Many Requests; ``retry_after`` seconds, or None for no header."""

    retry_after: float | None = attrs.field(default=1.0, converter=attrs.converters.optional(float))


def _check_5xx(instance: ServerFailure, attribute: attrs.Attribute[int], status: int) -> None:
    if not 500 <= status <= 599:
        raise ConfigurationError("status", f"must be a 5xx status, not {status!r}")


@attrs.frozen
class ServerFailure:
    """A 5xx answer. On a trigger, ``placed=True`` (only for a status other than 500/502,
    which are documented as not placed) means the call was placed all the same."""

    status: int = attrs.field(default=500, validator=_check_5xx)
    placed: bool = False

    def __attrs_post_init__(self) -> None:
        if self.placed and self.status in _NOT_PLACED_5XX:
            raise ConfigurationError(
                "placed", f"a {self.status} is documented as placing nothing: use 503 or 504"
            )


def _check_4xx(instance: Refused, attribute: attrs.Attribute[int], status: int) -> None:
    if not 400 <= status <= 499 or status == 429:
        raise ConfigurationError("status", f"must be a 4xx status other than 429, not {status!r}")


@attrs.frozen
class Refused:
    """A 4xx answer (400 by default) with the server's ``message``. Nothing was placed."""

    message: str = "the request was refused (polyout.testing)"
    status: int = attrs.field(default=400, validator=_check_4xx)


@attrs.frozen
class NoConnection:
    """No connection was made: the request never left. Nothing was placed."""


@attrs.frozen
class AnswerLost:
    """The request left and no answer came back; ``placed``: the call exists all the same."""

    placed: bool = True


Fault = RateLimited | ServerFailure | Refused | NoConnection | AnswerLost


@attrs.frozen
class Send:
    """One trigger request, as a fault rule sees it."""

    request: CallRequest
    index: int
    """1-based count of every trigger request this placer received, this one included."""
    nth_to_number: int
    """1-based count of the trigger requests to this number, this one included."""
    retry: int
    """0 for the first request of a ``place``, then 1, 2, ... for the client's retries."""
    at: float
    """The clock's time (POSIX seconds)."""

    @property
    def number(self) -> str:
        return self.request.to_number


@attrs.frozen
class Poll:
    """One status request, as a fault rule sees it."""

    call_sid: str
    number: str
    index: int
    """1-based count of every status request this placer received, this one included."""
    nth_for_call: int
    """1-based count of the status requests for this call, this one included."""
    at: float

    @property
    def nth_to_number(self) -> int:
        """For rules shared with triggers (:func:`by_number`): the poll's count for its call."""
        return self.nth_for_call


#: Which fault a trigger request meets, or None: it is answered.
TriggerRule = Callable[[Send], Fault | None]
#: Which fault a status request meets, or None: it is answered.
StatusRule = Callable[[Poll], Fault | None]


def scripted(faults: Mapping[int, Fault | None]) -> Callable[[Send | Poll], Fault | None]:
    """The fault of each request by its 1-based ``index``: ``scripted({1: NoConnection()})``.

    A request missing from ``faults`` (or mapped to None) is answered."""
    script = dict(faults)
    return lambda request: script.get(request.index)


def by_number(
    faults: Mapping[str, Sequence[Fault | None]],
) -> Callable[[Send | Poll], Fault | None]:
    """Per E.164 number, the fault of its first, second, ... request (None: answered).

    Status reads count per call (:attr:`Poll.nth_for_call`).
    """
    script = {number: tuple(sequence) for number, sequence in faults.items()}

    def rule(request: Send | Poll) -> Fault | None:
        sequence = script.get(request.number, ())
        n = request.nth_to_number
        return sequence[n - 1] if n <= len(sequence) else None

    return rule


def rate_limit_storm(
    start: datetime | float, end: datetime | float, *, retry_after: float | None = 1.0
) -> Callable[[Send | Poll], Fault | None]:
    """A 429 for every request whose clock time is in [``start``, ``end``)."""
    low, high = _posix(start, "start"), _posix(end, "end")
    if not low < high:
        raise ConfigurationError("end", "must be after start")
    fault = RateLimited(retry_after)
    return lambda request: fault if low <= request.at < high else None


def fault_mix(
    weights: Mapping[Fault, float], *, seed: int = 0
) -> Callable[[Send | Poll], Fault | None]:
    """Each fault with its probability per request, seeded: ``{RateLimited(2.0): 0.05}``.

    A draw depends only on the seed, the number (or call) and its count of requests, so
    a run meets the same faults in the same places whatever order its tasks ran in.
    """
    table = [(fault, float(weight)) for fault, weight in weights.items()]
    if any(not 0.0 <= weight <= 1.0 for _, weight in table):
        raise ConfigurationError("weights", "each probability must be between 0 and 1")
    if sum(weight for _, weight in table) > 1.0 + 1e-9:
        raise ConfigurationError("weights", "the probabilities must add up to 1 at most")

    def rule(request: Send | Poll) -> Fault | None:
        key = request.number if isinstance(request, Send) else request.call_sid
        draw = random.Random(f"{seed}/fault/{key}/{request.nth_to_number}").random()
        for fault, weight in table:
            if draw < weight:
                return fault
            draw -= weight
        return None

    return rule


def first_of(
    *rules: Callable[[Send | Poll], Fault | None],
) -> Callable[[Send | Poll], Fault | None]:
    """The first fault any of ``rules`` gives (each is asked in turn)."""

    def rule(request: Send | Poll) -> Fault | None:
        for each in rules:
            fault = each(request)
            if fault is not None:
                return fault
        return None

    return rule


def _posix(moment: datetime | float, setting: str) -> float:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ConfigurationError(setting, "must be an aware datetime (with tzinfo)")
        return moment.timestamp()
    return float(moment)
