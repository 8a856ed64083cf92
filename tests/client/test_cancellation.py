"""Cancelling a trigger, or closing the client under one, never loses a placed call in silence.

Once a trigger's request has left, the answer is still read after the caller stops
waiting, and the outcome is logged (with the sid when there is one). Before it leaves,
cancelling sends nothing. ``aclose()`` lets sent triggers finish and tells everyone
else ``ClientClosedError``, never a bare ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

import polyout
from tests.client.hostile_servers import RawAnswer, RawRequest, raw_http
from tests.client.servers import never_answer, raw_server

NUMBER = "+14155552671"
MASKED = "+1*******671"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def wait_until(predicate: object, seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if callable(predicate) and predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


def slow_trigger(request: RawRequest) -> RawAnswer:
    if request.method == "POST":
        return RawAnswer(200, b'{"call_sid": "OUT-late"}', delay=0.3)
    return RawAnswer(200, b'{"status": "queued"}')


async def test_trigger_cancelled_after_sending_still_reads_and_logs_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="polyout")
    async with (
        raw_http(slow_trigger) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.trigger_call(NUMBER), 0.1)
        cancelled = warnings(caplog)
        await wait_until(lambda: any("OUT-late" in text for text in warnings(caplog)))
    # At once: the caller learns the call may have been placed, with the masked number.
    assert any(MASKED in text and "may have been placed" in text for text in cancelled)
    # Then the answer is read (not cut by the cancellation) and the placed call named.
    late = [text for text in warnings(caplog) if "OUT-late" in text]
    assert MASKED in late[0]
    assert "placed" in late[0]
    assert server.answered == 1
    assert len(server.posts()) == 1
    assert NUMBER not in "\n".join(r.getMessage() for r in caplog.records)


async def test_trigger_cancelled_before_sending_sends_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="polyout")
    # One trigger per 5 s: the second waits for its turn, then is cancelled.
    async with (
        raw_http(slow_trigger) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url, rate_limit=0.2) as client,
    ):
        first = asyncio.create_task(client.trigger_call(NUMBER))
        await wait_until(lambda: len(server.posts()) == 1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.trigger_call("+14155552672"), 0.05)
        assert (await first).call_sid == "OUT-late"
    assert len(server.posts()) == 1
    assert not any("may have been placed" in text for text in warnings(caplog))


async def test_aclose_lets_sent_triggers_finish_and_refuses_the_rest() -> None:
    async with raw_http(slow_trigger) as server:
        client = polyout.Client(
            "platform", api_key="k", base_url=server.base_url, max_connections=1
        )
        async with client:
            sent = asyncio.create_task(client.trigger_call(NUMBER))
            await wait_until(lambda: len(server.posts()) == 1)
            # These two wait for the one pooled connection: nothing of theirs has left.
            queued = asyncio.create_task(client.trigger_call("+14155552672"))
            polling = asyncio.create_task(client.get_status("OUT-1"))
            await asyncio.sleep(0.05)
            await client.aclose()
            outcomes = await asyncio.gather(sent, queued, polling, return_exceptions=True)
    assert isinstance(outcomes[0], polyout.Call)
    assert outcomes[0].call_sid == "OUT-late"
    assert isinstance(outcomes[1], polyout.ClientClosedError)
    assert "nothing was placed" in str(outcomes[1])
    assert isinstance(outcomes[2], polyout.ClientClosedError)
    assert len(server.posts()) == 1


async def test_aclose_refuses_a_trigger_whose_exchange_has_not_begun() -> None:
    # The trigger's exchange (a task of its own) is created, but has not taken its first
    # step when the client closes: it never runs a line, so its caller must still hear.
    async with raw_http(slow_trigger) as server:
        client = polyout.Client("platform", api_key="k", base_url=server.base_url)
        placing = asyncio.create_task(client.trigger_call(NUMBER))
        await asyncio.sleep(0)  # placing creates the exchange's task and waits on it
        await client.aclose()
        outcome = await asyncio.wait_for(asyncio.gather(placing, return_exceptions=True), 2)
    assert isinstance(outcome[0], polyout.ClientClosedError)
    assert "nothing was placed" in str(outcome[0])
    assert server.posts() == []


async def test_aclose_bounds_its_wait_by_the_timeout() -> None:
    async with raw_server(never_answer) as server:
        client = polyout.Client("platform", api_key="k", base_url=server.base_url, timeout=0.3)
        sent = asyncio.create_task(client.trigger_call(NUMBER))
        await wait_until(lambda: server.requests_read == 1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.aclose()
        with pytest.raises(polyout.TriggerOutcomeUnknown):
            await sent
    assert loop.time() - started < 1.0


async def test_cancelling_a_poll_still_cancels() -> None:
    async with (
        raw_server(never_answer) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        polling = asyncio.create_task(client.get_status("OUT-1"))
        await wait_until(lambda: server.requests_read == 1)
        polling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await polling


async def test_aclose_tells_polls_waiting_for_a_connection_the_client_closed() -> None:
    async with raw_server(never_answer) as server:
        client = polyout.Client(
            "platform", api_key="k", base_url=server.base_url, max_connections=1
        )
        # The first poll holds the one connection; the second waits in the pool for it.
        holding = asyncio.create_task(client.get_status("OUT-1"))
        await wait_until(lambda: server.requests_read == 1)
        waiting = asyncio.create_task(client.get_status("OUT-2"))
        await asyncio.sleep(0.05)
        await client.aclose()
        outcomes = await asyncio.gather(holding, waiting, return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [polyout.ClientClosedError] * 2
    assert server.requests_read == 1
