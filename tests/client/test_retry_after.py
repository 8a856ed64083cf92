"""Server-given waits (Retry-After, retry-after-ms) and the backoff used without one.

Whatever a server sends, the client waits a bounded, finite time: nonsense is ignored
(exponential backoff instead), a negative wait or a past date means now, and an endless
one is bounded by ``MAX_RETRY_AFTER`` and, beyond ``max_retry_wait``, raised at once.
The waits are read from the retry log, with real (tiny) sleeps.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Iterator

import pytest

import polyout
from polyout._retry import MAX_RETRY_AFTER, RetryPolicy
from tests.client.servers import Reply, ScriptedAPI

NUMBER = "+14155552671"
FIRST_WAIT = 0.05  # backoff's first ceiling here: a retry waits 25 to 50 ms


@pytest.fixture(autouse=True)
def real_waits(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING, logger="polyout")
    polyout.set_testing(False)
    yield
    polyout.set_testing(True)


def client(api: ScriptedAPI, *, max_wait: float = 1.0, max_retries: int = 3) -> polyout.Client:
    made = polyout.Client("platform", api_key="k", base_url=api.base_url)
    made.retry_policy = RetryPolicy(
        max_retries=max_retries, max_wait=max_wait, first_wait=FIRST_WAIT
    )
    return made


def waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [r.__dict__["polyout_wait"] for r in caplog.records if hasattr(r, "polyout_wait")]


async def trigger_after_429(
    api: ScriptedAPI, headers: dict[str, str], *, max_wait: float = 1.0
) -> polyout.Call:
    api.script(Reply(429, {"error": "slow down"}, headers=headers))
    api.script(Reply(200, {"call_sid": "OUT-ok"}))
    async with client(api, max_wait=max_wait) as made:
        # A wait that never ends would hang here: fail instead.
        return await asyncio.wait_for(made.trigger_call(NUMBER), 3)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "soon"},
        {"Retry-After": ""},
        {"Retry-After": "NaN"},
        {"Retry-After": "Fri, 99 Foo 20"},
        {"retry-after-ms": "NaN"},
        {"retry-after-ms": "a while"},
    ],
)
async def test_an_unreadable_wait_is_ignored_for_backoff(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    call = await trigger_after_429(api, headers)
    assert call.call_sid == "OUT-ok"
    assert len(api.seen) == 2
    [wait] = waits(caplog)
    assert FIRST_WAIT / 2 <= wait <= FIRST_WAIT


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "-5"},
        {"retry-after-ms": "-300"},
        {"retry-after-ms": "0", "Retry-After": "5"},  # the precise header wins, even at 0
        {"Retry-After": email.utils.formatdate(time.time() - 3600, usegmt=True)},
    ],
    ids=["negative", "negative-ms", "zero-ms", "past-date"],
)
async def test_a_wait_already_over_retries_at_once(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    call = await trigger_after_429(api, headers)
    assert call.call_sid == "OUT-ok"
    assert len(api.seen) == 2
    assert waits(caplog) == [0.0]


@pytest.mark.parametrize(
    "headers",
    [{"Retry-After": "inf"}, {"Retry-After": "1e12"}, {"retry-after-ms": "Infinity"}],
)
async def test_an_endless_wait_is_bounded_and_raised_at_once(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture, headers: dict[str, str]
) -> None:
    with pytest.raises(polyout.RateLimitError) as caught:
        await trigger_after_429(api, headers, max_wait=30)
    # Finite, so a caller can add it to a date; longer than the cap, so not retried.
    assert caught.value.retry_after == MAX_RETRY_AFTER
    assert len(api.seen) == 1
    assert waits(caplog) == []


async def test_a_wait_exactly_at_max_retry_wait_is_waited(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    call = await trigger_after_429(api, {"retry-after-ms": "200"}, max_wait=0.2)
    assert call.call_sid == "OUT-ok"
    assert waits(caplog) == [0.2]
    assert time.monotonic() - started >= 0.2


async def test_a_wait_just_over_max_retry_wait_is_raised(api: ScriptedAPI) -> None:
    with pytest.raises(polyout.RateLimitError) as caught:
        await trigger_after_429(api, {"retry-after-ms": "201"}, max_wait=0.2)
    assert caught.value.retry_after == pytest.approx(0.201)
    assert len(api.seen) == 1


async def test_a_future_http_date_is_waited_for(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    await trigger_after_429(api, {"Retry-After": when}, max_wait=5)
    [wait] = waits(caplog)
    assert 0.9 <= wait <= 2.0  # HTTP dates have one-second resolution


async def test_backoff_is_jittered_and_capped_by_max_retry_wait(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    rounds = 3
    for _ in range(rounds):
        api.script(*[Reply(502, {"error": "x"})] * 4, Reply(200, {"call_sid": "OUT-1"}))
        async with client(api, max_wait=0.12, max_retries=4) as made:
            await made.trigger_call(NUMBER)
    seen = waits(caplog)
    assert len(seen) == 4 * rounds
    ceilings = [0.05, 0.1, 0.12, 0.12] * rounds  # doubling, then held at max_retry_wait
    for wait, ceiling in zip(seen, ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling
    # Jittered: not the ceiling, nor its half, nor the same from one run to the next.
    assert all(
        wait not in (ceiling, ceiling / 2) for wait, ceiling in zip(seen, ceilings, strict=True)
    )
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize(
    ("fields", "setting"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 2.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"max_wait": -0.1}, "max_retry_wait"),
        ({"max_wait": float("nan")}, "max_retry_wait"),
        ({"max_wait": float("inf")}, "max_retry_wait"),
        ({"first_wait": 0}, "first_wait"),
        ({"first_wait": float("nan")}, "first_wait"),
    ],
)
def test_retry_settings_that_cannot_work_are_configuration_errors(
    fields: dict[str, float], setting: str
) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        RetryPolicy(**fields)  # type: ignore[arg-type]
    assert caught.value.setting == setting


async def test_no_wait_and_no_retries_are_valid_settings(api: ScriptedAPI) -> None:
    """``max_retry_wait=0``: retry only what may be retried at once, raise the rest."""
    api.script(Reply(502, {"error": "x"}), Reply(429, {}, headers={"Retry-After": "1"}))
    async with polyout.Client(
        "platform", api_key="k", base_url=api.base_url, max_retry_wait=0
    ) as made:
        with pytest.raises(polyout.RateLimitError):
            await made.trigger_call(NUMBER)
    assert len(api.seen) == 2  # the 502 retried without a wait, the 429 asked for one
    assert RetryPolicy(max_retries=0, max_wait=0).max_retries == 0
