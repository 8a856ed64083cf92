"""``FakePlacer``: the outbound API in process, scripted, with a ledger of what it placed.

In the spirit of httpx's ``MockTransport``: everything the server would decide (how a
call ends, how long it rings, which request meets a 429 or a lost answer) is a rule
the test chooses, and everything it did is in :attr:`FakePlacer.ledger`, so a test
asserts exactly-once the way the sandbox's ledger lets it: per number, how many calls
were really placed, including those whose answer the caller never saw.

It keeps the client's side of the bargain as ``polyout.Client`` does (see
``polyout._campaign._placer``): the pacer is awaited before every send, retries
included, and told how each ended; 429, 500, 502 and no connection are retried by the
client's own retry policy; a lost answer is raised as
:class:`polyout.TriggerOutcomeUnknown` and never re-sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Sequence

import attrs

from polyout._apis import ApiName
from polyout._campaign._clock import Clock, SystemClock
from polyout._errors import (
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
    error_class_for,
)
from polyout._following import check_sid
from polyout._models import Call, CallRequest, CallState, CallStatus
from polyout._pacing import RequestPacer
from polyout._phone import mask_number
from polyout._retry import RetryPolicy, retrying
from polyout.testing._faults import (
    AnswerLost,
    Fault,
    NoConnection,
    Poll,
    RateLimited,
    Refused,
    Send,
    ServerFailure,
    StatusRule,
    TriggerRule,
    first_of,
)
from polyout.testing._outcomes import (
    DEFAULT_MIX,
    Duration,
    OutcomeRule,
    duration_chooser,
    outcome_chooser,
)

__all__ = ["FakeLedger", "FakePlacer", "Placement", "SendRecord"]

_TRIGGER_PATH = "/fake/calls"
_STATUS_PATH = "/fake/calls/{sid}"
_RING = 1.0  # clock seconds a call stays queued before it rings


@attrs.frozen
class Placement:
    """A call the fake placed: the number was dialled."""

    sid: str
    number: str = attrs.field(repr=False)
    """E.164."""
    at: float
    """Clock time of the placement (POSIX seconds)."""
    outcome: CallState
    ends_at: float
    answered: bool
    """The caller got the sid back. False: the answer was lost (or the caller cancelled)."""
    request: CallRequest = attrs.field(repr=False)


@attrs.frozen
class SendRecord:
    """One trigger request and what it met."""

    index: int
    number: str = attrs.field(repr=False)
    at: float
    """Clock time (POSIX seconds)."""
    loop_time: float
    """The event loop's time, which pacing is measured in."""
    fault: Fault | None
    """None: the call was placed and answered."""


class FakeLedger:
    """Everything a :class:`FakePlacer` was asked and did, in order."""

    def __init__(self) -> None:
        self.placements: list[Placement] = []
        self.sends: list[SendRecord] = []
        self.polls = 0
        self._per_number: Counter[str] = Counter()

    def placement_count(self, number: str) -> int:
        """How many calls were placed to ``number`` (E.164)."""
        return self._per_number[number]

    def placements_to(self, number: str) -> list[Placement]:
        return [placement for placement in self.placements if placement.number == number]

    def placements_per_number(self) -> dict[str, int]:
        return dict(self._per_number)

    def dialled_more_than_once(self) -> dict[str, int]:
        """Numbers placed more than once, with their counts: empty if nobody was rung twice."""
        return {number: count for number, count in self._per_number.items() if count > 1}

    def unanswered(self) -> list[Placement]:
        """Calls placed whose sid the caller never got back."""
        return [placement for placement in self.placements if not placement.answered]

    def _placed(self, placement: Placement) -> int:
        self.placements.append(placement)
        self._per_number[placement.number] += 1
        return len(self.placements) - 1

    def __repr__(self) -> str:
        return f"FakeLedger(placements={len(self.placements)}, sends={len(self.sends)})"


class FakePlacer:
    """An in-process stand-in for ``polyout.Client`` wherever a campaign needs one.

    * ``clock``: whose time calls ring and end in (a :class:`~polyout.testing.VirtualClock`
      for instant tests; default the system clock).
    * ``outcomes``: ``LAST_DIGIT``, a mix ``{CallState.SUCCESS: 0.7, ...}`` (default: the
      sandbox's), or a function of the :class:`~polyout.CallRequest`.
    * ``duration``: clock seconds from placement to the end: a number, ``(low, high)``
      drawn uniformly, or a function of the request and its outcome. A call is
      ``queued`` for its first second, then ``calling`` (``in_progress`` for the second
      half of a successful call), then its outcome. ``retention``: clock seconds after
      its end until its status is gone (404); None keeps it.
    * ``trigger_faults`` / ``status_faults``: rules (or a sequence of rules, the first
      that answers wins) giving the fault each request meets; see ``polyout.testing``.
    * ``latency``: event-loop seconds each request takes to be answered.
    * ``max_retries``, ``max_retry_wait``: the client's retry policy, as on ``Client``.
    * ``seed``: every draw (outcomes, durations) derives from it.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        outcomes: OutcomeRule = DEFAULT_MIX,
        duration: Duration = 30.0,
        retention: float | None = None,
        trigger_faults: TriggerRule | Sequence[TriggerRule] = (),
        status_faults: StatusRule | Sequence[StatusRule] = (),
        latency: float = 0.0,
        max_retries: int = 3,
        max_retry_wait: float = 30.0,
        seed: int = 0,
        api: ApiName = "agents",
        environment: str | None = "live",
        base_url: str = "fake://polyout.testing",
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._outcome = outcome_chooser(outcomes, seed)
        self._duration = duration_chooser(duration, seed)
        self.retention = retention
        self._trigger_fault: Callable[[Send], Fault | None] = _one_rule(trigger_faults)
        self._status_fault: Callable[[Poll], Fault | None] = _one_rule(status_faults)
        self.latency = float(latency)
        self.retry_policy = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait)
        self.api: ApiName = api
        self.environment = environment
        self.base_url = base_url
        self.ledger = FakeLedger()
        self._calls: dict[str, Placement] = {}
        self._sends_to: Counter[str] = Counter()
        self._polls_of: Counter[str] = Counter()
        self._sids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<FakePlacer api={self.api!r} {self.ledger!r}>"

    # -- triggers -------------------------------------------------------------------------
    async def place(self, request: CallRequest, *, pacer: RequestPacer | None = None) -> Call:
        """Place a call as ``Client.place`` would, by the rules; every send goes in the ledger."""
        retries = itertools.count()
        return await retrying(
            lambda: self._send(request, pacer, next(retries)),
            policy=self.retry_policy,
            trigger=True,
        )

    async def _send(self, request: CallRequest, pacer: RequestPacer | None, retry: int) -> Call:
        if pacer is not None:
            await pacer.acquire()
        number = request.to_number
        self._sends_to[number] += 1
        now = self.clock.time()
        send = Send(request, len(self.ledger.sends) + 1, self._sends_to[number], retry, now)
        fault = self._trigger_fault(send)
        loop_time = asyncio.get_running_loop().time()
        self.ledger.sends.append(SendRecord(send.index, number, now, loop_time, fault))
        placed = None
        if fault is None or getattr(fault, "placed", False):
            placed = self._place_now(request, now)
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None:
            raise self._trigger_failure(fault, number, pacer)
        assert placed is not None
        if pacer is not None:
            pacer.on_success()
        self.ledger.placements[placed] = attrs.evolve(self.ledger.placements[placed], answered=True)
        sid = self.ledger.placements[placed].sid
        return Call(sid, number, CallState.QUEUED, raw={"call_sid": sid, "status": "queued"})

    def _place_now(self, request: CallRequest, now: float) -> int:
        nth = self.ledger.placement_count(request.to_number) + 1
        outcome = self._outcome(request, nth)
        ends_at = now + self._duration(request, outcome, nth)
        sid = f"OUT-FAKE-{next(self._sids):07d}"
        placement = Placement(sid, request.to_number, now, outcome, ends_at, False, request)
        self._calls[sid] = placement
        return self.ledger._placed(placement)

    def _trigger_failure(self, fault: Fault, number: str, pacer: RequestPacer | None) -> Exception:
        """The exception ``Client.place`` raises for ``fault``, after telling the pacer."""
        masked = mask_number(number)
        if isinstance(fault, AnswerLost) or (
            isinstance(fault, ServerFailure) and fault.status not in (500, 502)
        ):
            status = fault.status if isinstance(fault, ServerFailure) else None
            return TriggerOutcomeUnknown(
                f"the answer to the trigger to {masked} was lost (polyout.testing): "
                "the call may have been placed",
                masked_number=masked,
                method="POST",
                path=_TRIGGER_PATH,
                status_code=status,
            )
        failure = _failure(fault, "POST", _TRIGGER_PATH)
        if pacer is not None:
            if isinstance(failure, RateLimitError):
                pacer.on_rate_limited(failure.retry_after)
            pacer.on_not_placed()
        return failure

    # -- status -------------------------------------------------------------------------
    async def get_status(self, call_sid: str, *, pacer: RequestPacer | None = None) -> CallStatus:
        """Read a call's status once, as ``Client.get_status`` would (retries included)."""
        check_sid(call_sid)
        return await retrying(
            lambda: self._read(call_sid, pacer), policy=self.retry_policy, trigger=False
        )

    async def _read(self, call_sid: str, pacer: RequestPacer | None) -> CallStatus:
        if pacer is not None:
            await pacer.acquire()
        self.ledger.polls += 1
        self._polls_of[call_sid] += 1
        call = self._calls.get(call_sid)
        now = self.clock.time()
        number = call.number if call is not None else ""
        poll = Poll(call_sid, number, self.ledger.polls, self._polls_of[call_sid], now)
        fault = self._status_fault(poll)
        if self.latency:
            await asyncio.sleep(self.latency)
        path = _STATUS_PATH.format(sid=call_sid)
        if fault is not None:
            failure = _failure(fault, "GET", path)
            if isinstance(failure, RateLimitError) and pacer is not None:
                pacer.on_rate_limited(failure.retry_after)
            raise failure
        gone = self.retention is not None and call is not None
        if call is None or (gone and now >= call.ends_at + (self.retention or 0.0)):
            raise NotFoundError(404, message="call not found", method="GET", path=path)
        if pacer is not None:
            pacer.on_success()
        return _status_at(call, now)


def _status_at(call: Placement, now: float) -> CallStatus:
    if now >= call.ends_at:
        state = call.outcome
    elif now < call.at + min(_RING, call.ends_at - call.at):
        state = CallState.QUEUED
    elif call.outcome is CallState.SUCCESS and now >= (call.at + call.ends_at) / 2:
        state = CallState.IN_PROGRESS
    else:
        state = CallState.CALLING
    reason = None if state is CallState.SUCCESS or not state.is_final else state.value
    return CallStatus(
        call.sid, state, raw_status=state.value, reason=reason, raw={"status": state.value}
    )


def _failure(fault: Fault, method: str, path: str) -> Exception:
    """The exception a client raises for ``fault`` (placing nothing, or a status read)."""
    if isinstance(fault, RateLimited):
        return RateLimitError(
            429,
            message="too many requests (polyout.testing)",
            retry_after=fault.retry_after,
            method=method,
            path=path,
        )
    if isinstance(fault, ServerFailure):
        message = "server failure (polyout.testing)"
        return ServerError(fault.status, message=message, method=method, path=path)
    if isinstance(fault, Refused):
        refusal = error_class_for(fault.status)
        return refusal(fault.status, message=fault.message, method=method, path=path)
    if isinstance(fault, NoConnection):
        return TransportError("cannot connect (polyout.testing)", method=method, path=path)
    # AnswerLost on a status read: the read timed out, and is retried.
    return TransportError("no answer (polyout.testing)", method=method, path=path)


def _one_rule(
    rules: Callable[..., Fault | None] | Sequence[Callable[..., Fault | None]],
) -> Callable[..., Fault | None]:
    if callable(rules):
        return rules
    if not rules:
        return lambda request: None
    return first_of(*rules)
