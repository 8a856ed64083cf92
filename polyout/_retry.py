"""What is safe to retry, how long to wait, and the testing switch that makes waits instant.

The rule that matters most: a trigger is re-sent only when it provably placed no call
(the connection was never made, or the server said so with 429, 500 or 502). Anything
else after the request left is :class:`TriggerOutcomeUnknown` and is never re-sent.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from typing import Any, TypeVar

import attrs
import backoff

from polyout._errors import (
    APIStatusError,
    ConfigurationError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "RetryPolicy",
    "is_testing",
    "parse_retry_after",
    "retrying",
    "set_testing",
]

T = TypeVar("T")

#: 500 and 502 are documented as "the call was not placed, retry with backoff".
TRIGGER_RETRYABLE_5XX = frozenset({500, 502})

#: The longest wait a server is believed to ask for. ``Retry-After: inf`` or ``1e12``
#: is a broken or hostile server, and taken at its word it froze polling for ever and
#: crashed campaigns computing a date years ahead. A server still busy after five minutes
#: answers the next request with another 429, so nothing is lost by asking again then.
MAX_RETRY_AFTER = 300.0

_testing = False


def set_testing(enabled: bool) -> None:
    """Make every retry wait zero seconds (for your test suites, like ours)."""
    global _testing
    _testing = enabled


def is_testing() -> bool:
    return _testing


@attrs.frozen
class RetryPolicy:
    """Bounds of the retry loop: ``max_retries`` re-sends, no single wait over ``max_wait``.

    A server that asks for a longer wait (Retry-After) than ``max_wait`` gets no retry:
    the error is raised with ``retry_after`` so the caller can reschedule.
    """

    max_retries: int = 3
    max_wait: float = 30.0
    first_wait: float = 0.5

    def __attrs_post_init__(self) -> None:
        # Named as the Client's keywords, which is where users set them.
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigurationError(
                "max_retries", f"must be a whole number, not {self.max_retries!r}"
            )
        if self.max_retries < 0:
            raise ConfigurationError("max_retries", f"must be 0 or more, not {self.max_retries}")
        _require_wait("max_retry_wait", self.max_wait, zero_ok=True)
        _require_wait("first_wait", self.first_wait, zero_ok=False)


def _require_wait(setting: str, value: object, *, zero_ok: bool) -> None:
    """A wait in seconds: a finite number (NaN or inf would sleep for ever or never)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigurationError(setting, f"must be a finite number of seconds, not {value!r}")
    if value < 0 or (value == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "more than 0"
        raise ConfigurationError(setting, f"must be {bound} seconds, not {value!r}")


def is_retryable(exc: BaseException, *, trigger: bool) -> bool:
    """Whether ``exc`` may be retried. For triggers: only when no call can have been placed."""
    if isinstance(exc, TriggerOutcomeUnknown):
        return False
    if isinstance(exc, RateLimitError):
        return True
    if isinstance(exc, ServerError):
        return not trigger or exc.status_code in TRIGGER_RETRYABLE_5XX
    # A trigger only raises a plain TransportError when the connection was never made.
    return isinstance(exc, TransportError)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, else ``Retry-After``.

    ``Retry-After`` may be seconds or an HTTP date. The answer is always usable as a
    wait: a negative value or a date in the past means zero, anything longer than
    :data:`MAX_RETRY_AFTER` (``inf`` included) means that, and an unreadable value
    (garbage, NaN) is ignored rather than trusted, as if the header were absent.
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        asked = _seconds(millis, scale=1000)
        if asked is not None:
            return asked
    text = headers.get("Retry-After")
    if text is None:
        return None
    asked = _seconds(text, scale=1)
    if asked is not None:
        return asked
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except ValueError:  # all it raises for any text, on every Python polyout supports
        return None
    current = time.time() if now is None else now
    return _bounded(when.timestamp() - current)


def _seconds(text: str, *, scale: float) -> float | None:
    try:
        value = float(text) / scale
    except ValueError:
        return None
    return None if math.isnan(value) else _bounded(value)


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _waits(policy: RetryPolicy) -> Generator[float, Any, None]:
    """backoff wait generator: exact Retry-After, else jittered exponential backoff.

    backoff sends in the exception that failed the attempt. Returning ends the retries,
    which backoff turns into re-raising that exception.
    """
    exponential = backoff.expo(base=2, factor=policy.first_wait, max_value=policy.max_wait)
    next(exponential)  # the generator's priming value
    exc = yield 0.0  # priming, as backoff expects
    while True:
        asked = exc.retry_after if isinstance(exc, APIStatusError) else None
        if asked is not None:
            if asked > policy.max_wait:
                return  # waiting less than asked would only be refused again
            wait = asked  # never jittered shorter than the server asked
        else:
            ceiling = next(exponential)
            wait = ceiling / 2 + random.uniform(0, ceiling / 2)
        exc = yield 0.0 if _testing else wait


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    trigger: bool,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the policy is spent."""
    # The first try runs bare: most requests succeed at once, and building the retry
    # machinery for each of them was a third of a status read's CPU. A first failure
    # that may be retried is handed to that machinery as its first try, so waits,
    # counts and reports are exactly those of a loop that made it.
    try:
        return await attempt()
    except (TransportError, APIStatusError) as exc:
        if not is_retryable(exc, trigger=trigger) or policy.max_retries == 0:
            raise
        first: list[BaseException] = [exc]

    async def again() -> T:
        if first:
            raise first.pop()
        return await attempt()

    def give_up(exc: BaseException) -> bool:
        return not is_retryable(exc, trigger=trigger)

    def report(details: Any) -> None:
        if on_retry is not None:
            on_retry(details["exception"], details["tries"], details["wait"])

    attempts: AsyncGenerator[backoff.Attempt, None] = backoff.aretry_context(
        (TransportError, APIStatusError),
        _waits,
        max_tries=policy.max_retries + 1,
        jitter=None,  # _waits jitters itself, and must not jitter Retry-After
        giveup=give_up,
        on_backoff=report,
        logger=None,
        policy=policy,
    )
    results: list[T] = []
    async for try_ in attempts:
        with try_:
            results.append(await again())
    # backoff ends the loop after a success, and raises the last error when it gives up.
    return results[0]
