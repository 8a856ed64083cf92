"""Each retry rule. The one that matters most: a trigger that may have placed a call is
sent exactly once."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Iterator

import pytest

import polyout
from polyout._retry import RetryPolicy
from tests.client.servers import (
    RawServer,
    Reply,
    ScriptedAPI,
    closed_port,
    cut_after_request,
    never_answer,
    raw_server,
    read_request,
)

NUMBER = "+14155552671"


@pytest.fixture
def real_waits() -> Iterator[None]:
    polyout.set_testing(False)
    yield
    polyout.set_testing(True)


def platform(base_url: str, **kwargs: object) -> polyout.Client:
    return polyout.Client("platform", api_key="k", base_url=base_url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [429, 500, 502])
async def test_trigger_retried_when_server_says_not_placed(api: ScriptedAPI, status: int) -> None:
    api.script(Reply(status, {"error": "not placed"}), Reply(200, {"call_sid": "OUT-ok"}))
    async with platform(api.base_url) as client:
        call = await client.trigger_call(NUMBER)
    assert call.call_sid == "OUT-ok"
    assert len(api.seen) == 2


@pytest.mark.parametrize("status", [503, 504])
async def test_trigger_not_retried_on_undocumented_5xx(api: ScriptedAPI, status: int) -> None:
    api.script(Reply(status, {"error": "gateway"}))
    async with platform(api.base_url) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown) as caught:
            await client.trigger_call(NUMBER)
    assert len(api.seen) == 1
    assert caught.value.status_code == status
    assert caught.value.correlation_id == "corr-123"
    assert (caught.value.method, caught.value.path) == ("POST", "/v1/outbound-calling")


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_trigger_client_errors_are_not_retried(api: ScriptedAPI, status: int) -> None:
    api.script(Reply(status, {"error": "no"}))
    async with platform(api.base_url) as client:
        with pytest.raises(polyout.APIStatusError):
            await client.trigger_call(NUMBER)
    assert len(api.seen) == 1


async def test_trigger_retries_are_bounded(api: ScriptedAPI) -> None:
    api.script(*[Reply(502, {"error": "x"})] * 10)
    async with platform(api.base_url, max_retries=2) as client:
        with pytest.raises(polyout.ServerError):
            await client.trigger_call(NUMBER)
    assert len(api.seen) == 3


async def test_cut_connection_after_trigger_is_sent_exactly_once() -> None:
    async with raw_server(cut_after_request) as server, platform(server.base_url) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown) as caught:
            await client.trigger_call(NUMBER)
    assert server.requests_read == 1
    assert caught.value.masked_number == "+1*******671"
    assert NUMBER not in str(caught.value)


async def test_read_timeout_after_trigger_is_sent_exactly_once() -> None:
    timeout = polyout.Timeout(connect=1.0, read=0.2, total=5.0)
    async with (
        raw_server(never_answer) as server,
        platform(server.base_url, timeout=timeout) as client,
    ):
        with pytest.raises(polyout.TriggerOutcomeUnknown, match="may have been placed"):
            await client.trigger_call(NUMBER)
    assert server.requests_read == 1


async def test_total_timeout_after_trigger_is_unknown_too() -> None:
    async with raw_server(never_answer) as server, platform(server.base_url, timeout=0.3) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown):
            await client.trigger_call(NUMBER)
    assert server.requests_read == 1


async def test_status_is_retried_after_cut_connection() -> None:
    async with raw_server(cut_after_request) as server, platform(server.base_url) as client:
        with pytest.raises(polyout.TransportError) as caught:
            await client.get_status("OUT-1")
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)
    # Four tries; aiohttp itself may re-send an idempotent GET once per try.
    assert 4 <= server.requests_read <= 8


async def test_trigger_on_a_reused_connection_is_never_resent_by_aiohttp() -> None:
    """aiohttp re-sends idempotent requests when a kept-alive connection drops; a POST
    must never be one of them, or a stale connection would ring someone twice."""

    async def answer_once_then_cut(
        state: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        state.requests_read += 1
        body = b'{"call_sid": "OUT-first"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        await read_request(reader)
        state.requests_read += 1
        writer.transport.abort()

    async with raw_server(answer_once_then_cut) as server, platform(server.base_url) as client:
        first = await client.trigger_call(NUMBER)
        with pytest.raises(polyout.TriggerOutcomeUnknown):
            await client.trigger_call(NUMBER)
    assert first.call_sid == "OUT-first"
    assert server.connections == 1
    assert server.requests_read == 2


def retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if hasattr(r, "polyout_wait")]


async def test_refused_connection_is_retried_for_triggers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="polyout")
    async with platform(f"http://127.0.0.1:{closed_port()}", max_retries=2) as client:
        with pytest.raises(polyout.TransportError, match="could not connect") as caught:
            await client.trigger_call(NUMBER)
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)
    assert [r.__dict__["polyout_tries"] for r in retry_records(caplog)] == [1, 2]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_status_retries_transient_errors(api: ScriptedAPI, status: int) -> None:
    api.script(Reply(status, {"error": "x"}), Reply(200, {"status": "calling"}))
    async with platform(api.base_url) as client:
        status_read = await client.get_status("OUT-1")
    assert status_read.state is polyout.CallState.CALLING
    assert len(api.seen) == 2


async def test_garbled_status_body_is_a_transport_error(api: ScriptedAPI) -> None:
    api.script(Reply(200, raw=b"not json"), Reply(200, {"status": "calling"}))
    async with platform(api.base_url) as client:
        with pytest.raises(polyout.TransportError, match="no JSON object"):
            await client.get_status("OUT-1")
    assert len(api.seen) == 1  # an answer came: reported as it is, not retried into another


async def test_trigger_answer_without_sid_is_unknown_not_resent(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"ok": True}))
    async with platform(api.base_url) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown, match="no call sid") as caught:
            await client.trigger_call(NUMBER)
    assert len(api.seen) == 1
    assert (caught.value.method, caught.value.path) == ("POST", "/v1/outbound-calling")
    assert caught.value.status_code == 200


async def test_trigger_answer_keeps_the_state_it_reports(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"call_sid": "OUT-ok", "status": "calling"}))
    async with platform(api.base_url) as client:
        call = await client.trigger_call(NUMBER)
    assert call.state is polyout.CallState.CALLING


# -- Retry-After, with real waits ---------------------------------------------------------


async def timed_retry(api: ScriptedAPI, headers: dict[str, str]) -> float:
    api.script(
        Reply(429, {"error": "slow down"}, headers=headers), Reply(200, {"status": "queued"})
    )
    async with platform(api.base_url) as client:
        started = time.monotonic()
        await client.get_status("OUT-1")
        return time.monotonic() - started


@pytest.mark.usefixtures("real_waits")
async def test_retry_after_ms_is_honoured_exactly(api: ScriptedAPI) -> None:
    elapsed = await timed_retry(api, {"retry-after-ms": "300", "Retry-After": "5"})
    assert 0.3 <= elapsed < 1.0


@pytest.mark.usefixtures("real_waits")
async def test_retry_after_seconds_is_never_shortened(api: ScriptedAPI) -> None:
    elapsed = await timed_retry(api, {"Retry-After": "1"})
    assert 1.0 <= elapsed < 1.6


@pytest.mark.usefixtures("real_waits")
async def test_retry_after_http_date(api: ScriptedAPI) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    elapsed = await timed_retry(api, {"Retry-After": when})
    # HTTP dates have one-second resolution: the wait lands between 1 and 2 s.
    assert 0.9 <= elapsed < 2.5


async def test_retry_after_beyond_the_cap_is_raised_at_once(api: ScriptedAPI) -> None:
    api.script(Reply(429, {"error": "later"}, headers={"Retry-After": "120"}))
    async with platform(api.base_url, max_retry_wait=10) as client:
        with pytest.raises(polyout.RateLimitError) as caught:
            await client.trigger_call(NUMBER)
    assert caught.value.retry_after == 120
    assert len(api.seen) == 1


@pytest.mark.usefixtures("real_waits")
async def test_backoff_without_retry_after_grows_and_is_jittered(
    api: ScriptedAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="polyout")
    api.script(*[Reply(502, {"error": "x"})] * 3, Reply(200, {"call_sid": "OUT-1"}))
    async with platform(api.base_url) as client:
        client.retry_policy = RetryPolicy(max_retries=3, max_wait=0.4, first_wait=0.1)
        await client.trigger_call(NUMBER)
    waits = [r.__dict__["polyout_wait"] for r in retry_records(caplog)]
    for wait, ceiling in zip(waits, [0.1, 0.2, 0.4], strict=True):
        assert ceiling / 2 <= wait <= ceiling


async def test_testing_switch_makes_waits_zero(api: ScriptedAPI) -> None:
    api.script(Reply(429, {}, headers={"Retry-After": "20"}), Reply(200, {"status": "queued"}))
    async with platform(api.base_url) as client:
        started = time.monotonic()
        await client.get_status("OUT-1")
    assert time.monotonic() - started < 0.5


@pytest.mark.usefixtures("real_waits")
async def test_cancellation_is_not_swallowed_by_retries(api: ScriptedAPI) -> None:
    api.script(Reply(503, {"error": "busy"}), Reply(200, {"status": "queued"}))
    async with platform(api.base_url) as client:
        client.retry_policy = RetryPolicy(max_retries=3, max_wait=10, first_wait=4)
        task = asyncio.create_task(client.get_status("OUT-1"))
        await asyncio.sleep(0.3)
        assert len(api.seen) == 1  # the first try was answered: now in the 2-4 s retry wait
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 1)
        await asyncio.sleep(0.1)
    assert len(api.seen) == 1  # the cancelled wait sent nothing more
