"""Strict pacing of triggers: evenly spaced, never a burst, everyone paused together on 429.

Why not ``aiolimiter.AsyncLimiter(rate, 1)``: its bucket starts full and lets about twice
the rate through in the first second, which a server counting a sliding window answers
with 429. And its rate cannot change while tasks wait on it, which backing off needs.

Here waiters queue in FIFO order and one timer releases them one at a time, each in
its own slot ``1 / rate`` after the previous one (plus a 1.5% guard for jitter, so
``rate + 1`` triggers never land inside one second; the account-wide rate of several
workers keeps the same margin). With 1%, one trigger in a few thousand reached a
server enforcing the rate more than 8 ms late (a stall of the client or the server, a
new connection): the window one second after it held ``rate + 1``, and a 429 came.
A 429 pauses every waiter until Retry-After has passed (one second without one, never
more than ``max_pause``: a ``Retry-After: inf`` must not freeze a campaign) and halves
the rate, at most once per pause and never below ``min_rate`` (a sixteenth of the rate
unless told otherwise); each later success wins back a 25th of the rate.

Slots follow each other, not the moments the loop actually got round to a release:
a timer fires up to a millisecond late (epoll counts whole milliseconds), and spacing
from the late moment made 100/s come out as 89-94/s. A release late by at most
``_LATE_CREDIT`` keeps its slot; later than that, the schedule restarts from "now
minus the credit". Either way any ``rate + 1`` releases span at least
``1.015 s - _LATE_CREDIT``, still over one second, as the server sees them as long as
their trips there differ by less than the rest of the guard.

One trip is reliably longer: the first after a quiet spell, which opens a connection
while every caller queued behind it takes its first turn on the loop. Measured on
loopback with 600 triggers gathered at 100/s, it reached the server 26-72 ms after its
release, and the window a second after it came within 0.2 ms of holding ``rate + 1``
(the fixed 30 ms this pacer used to leave was not enough). So the release after a quiet
spell is a probe: the next one waits until the pacer hears how it went (``on_success``,
``on_rate_limited`` or ``on_not_placed``: an answer, so it has arrived) or at most
``_PROBE_WAIT``, and spacing restarts from that answer. That costs one round trip after
each quiet spell, and almost nothing of the span as the server sees it: the probe
itself arrived late, just before its answer.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Protocol

from polyout._errors import ConfigurationError
from polyout._retry import MAX_RETRY_AFTER

__all__ = ["Pacer", "RequestPacer"]

_GUARD = 1.015  # spacing margin: 1.5% of the interval, 15 ms per second of triggers
_BACKOFF_FACTOR = 0.5  # multiplicative decrease on 429
_RECOVERY_STEPS = 25  # successes to climb from zero back to the full rate
_LATE_CREDIT = 0.002  # seconds of a late release not passed on: 2 of the guard's 15 ms a second
# Seconds at most the release after a quiet spell's first waits for its answer; under
# _QUIET, so that a probe's own wait is no quiet spell (each release would probe again).
_PROBE_WAIT = 0.5
_QUIET = 1.0  # seconds without a release after which the pacer counts as quiet
_DEFAULT_PAUSE = 1.0  # seconds everyone pauses on a 429 that says nothing of how long


class RequestPacer(Protocol):
    """What ``Client.place`` and ``Client.get_status`` ask of a pacer; :class:`Pacer` is one.

    ``acquire`` is awaited before every send (retries included), so a campaign can wrap
    its pacer to act at the last moment before a request leaves.
    """

    async def acquire(self) -> None: ...

    def on_rate_limited(self, retry_after: float | None) -> None: ...

    def on_success(self) -> None: ...

    def on_not_placed(self) -> None:
        """A trigger's try provably placed nothing (an error status, or no connection).

        Called before any retry wait, so a campaign can close that try's intent at once:
        an intent left open by a cancellation during the wait would read as "may have
        been placed". Never called when the outcome is unknown.
        """


class Pacer:
    """At most ``rate`` acquisitions per second, spaced evenly, with a shared pause.

    ``min_rate`` is the floor 429s slow it to (default ``rate / 16``); ``max_pause`` the
    longest a 429's Retry-After pauses everyone (default five minutes). Settings that
    cannot work (zero, negative, NaN, infinite) raise :class:`polyout.ConfigurationError`.
    """

    def __init__(
        self,
        rate: float,
        *,
        min_rate: float | None = None,
        max_pause: float = MAX_RETRY_AFTER,
    ) -> None:
        self.target_rate = _positive_finite("rate", rate)
        self.min_rate = (
            _positive_finite("min_rate", min_rate)
            if min_rate is not None
            else self.target_rate / 16
        )
        if self.min_rate > self.target_rate:
            raise ConfigurationError(
                "min_rate", f"must not exceed rate ({rate:g}), not {min_rate:g}"
            )
        self.max_pause = _positive_finite("max_pause", max_pause, zero_ok=True)
        self.rate = self.target_rate
        self.rate_limited = 0  #: how many 429s were reported
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_release = float("-inf")
        self._paused_until = float("-inf")
        self._probe_until = float("-inf")  # a quiet spell's first release not yet answered
        self._last_decrease = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return (
            f"<Pacer rate={self.rate:g}/s target={self.target_rate:g}/s "
            f"waiting={len(self._waiters)} rate_limited={self.rate_limited}>"
        )

    @property
    def interval(self) -> float:
        return _GUARD / self.rate

    async def acquire(self) -> None:
        """Wait for this caller's turn."""
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._waiters and self._ready_at(now) <= now:
            self._let_go(now, now)
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._arm()
        await waiter

    def sent_now(self) -> None:
        """The request released last leaves only now (its caller had work to do first).

        Spacing restarts from this moment, so a slow step between release and send (a
        campaign's fsync of its intent) cannot squeeze two sends closer than the interval.
        """
        loop = self._loop = asyncio.get_running_loop()
        moment = loop.time() - _LATE_CREDIT
        if moment > self._last_release:
            self._last_release = moment
            self._rearm()

    def on_rate_limited(self, retry_after: float | None) -> None:
        """A 429 arrived: pause everyone for ``retry_after`` and slow down."""
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        self._answered()
        self.rate_limited += 1
        if retry_after is None or math.isnan(retry_after):
            pause = _DEFAULT_PAUSE
        else:
            pause = min(retry_after, self.max_pause)  # negative: a pause already over
        self._paused_until = max(self._paused_until, now + pause)
        # One burst of 429s is one signal: halve at most once per pause.
        if now >= self._last_decrease + max(pause, self.interval):
            self.rate = max(self.min_rate, self.rate * _BACKOFF_FACTOR)
            self._last_decrease = now
        self._rearm()

    def on_success(self) -> None:
        """A trigger went through: creep back towards the target rate."""
        self._answered()
        if self.rate < self.target_rate:
            self.rate = min(self.target_rate, self.rate + self.target_rate / _RECOVERY_STEPS)

    def on_not_placed(self) -> None:
        """The try used its slot whatever its answer was; an answer ends a probe's wait."""
        self._answered()

    def _answered(self) -> None:
        if self._probe_until == float("-inf") or self._loop is None:
            return  # no probe (nearly every answer)
        now = self._loop.time()
        if now < self._probe_until:
            # It has arrived by now: spacing restarts from here, so the next does not
            # land right behind it (a burst, to a server counting in small buckets).
            self._last_release = max(self._last_release, now)
        self._probe_until = float("-inf")  # a probe answered after its wait changes nothing
        self._rearm()

    def _let_go(self, now: float, slot: float) -> None:
        """A waiter is let go at ``now``, in ``slot``; the first after a quiet spell probes."""
        if now - self._last_release >= _QUIET:
            self._probe_until = now + _PROBE_WAIT
        self._last_release = slot

    def _ready_at(self, now: float) -> float:
        return max(now, self._last_release + self.interval, self._paused_until, self._probe_until)

    def _arm(self) -> None:
        if self._timer is None and self._waiters and self._loop is not None:
            self._timer = self._loop.call_at(self._ready_at(self._loop.time()), self._release)

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._arm()

    def _release(self) -> None:
        self._timer = None
        assert self._loop is not None
        now = self._loop.time()
        if self._ready_at(now) > now:  # a pause or slowdown began since the timer was set
            self._arm()
            return
        slot = max(self._last_release + self.interval, self._paused_until)
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skip callers that were cancelled while waiting
                waiter.set_result(None)
                self._let_go(now, max(slot, now - _LATE_CREDIT))
                break
        self._arm()


def _positive_finite(setting: str, value: object, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(setting, f"must be a finite number, not {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigurationError(
            setting, f"must be {'0 or more' if zero_ok else 'positive'}, not {value!r}"
        )
    return float(value)
