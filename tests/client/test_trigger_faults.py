"""Where a trigger failed decides whether it may be re-sent: the "never connected" line.

A trigger is retried only when it provably never left: no connection was made, or none
came free in the pool within the connect timeout. Once the request was written, a
failure (a reset, a cut, a timeout) is ``TriggerOutcomeUnknown``, and never re-sent.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest

import polyout
from tests.client.servers import (
    RawServer,
    Reply,
    ScriptedAPI,
    closed_port,
    raw_server,
    read_request,
    reset_after_request,
)

NUMBER = "+14155552671"
RawBehaviour = Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def test_a_tcp_reset_after_the_trigger_was_read_is_unknown_and_sent_once() -> None:
    """A reset is an OS error like a refused connection, but it came after the send."""
    async with (
        raw_server(reset_after_request) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        with pytest.raises(polyout.TriggerOutcomeUnknown, match="may have been placed") as caught:
            await client.trigger_call(NUMBER)
    assert server.requests_read == 1
    assert server.connections == 1
    assert caught.value.masked_number == "+1*******671"


async def test_a_status_read_reset_by_the_server_is_retried() -> None:
    async with (
        raw_server(reset_after_request) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        with pytest.raises(polyout.TransportError) as caught:
            await client.get_status("OUT-1")
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)
    assert server.requests_read >= 4  # every try reached the server: a GET may repeat


def one_connection(base_url: str, max_retries: int) -> polyout.Client:
    """A client whose single pooled connection times out 50 ms into a wait for it."""
    return polyout.Client(
        "platform",
        api_key="k",
        base_url=base_url,
        max_connections=1,
        max_retries=max_retries,
        timeout=polyout.Timeout(connect=0.05, read=2.0, total=3.0),
    )


async def test_a_trigger_that_never_got_a_pooled_connection_was_not_sent(
    api: ScriptedAPI,
) -> None:
    api.script(Reply(200, {"call_sid": "OUT-slow"}, delay=0.5))  # holds the one connection
    async with one_connection(api.base_url, max_retries=0) as client:
        slow = asyncio.create_task(client.trigger_call(NUMBER))
        await asyncio.sleep(0.1)  # the slow one has the connection
        with pytest.raises(polyout.TransportError, match="could not connect") as caught:
            await client.trigger_call("+14155552672")
        assert len(api.seen) == 1  # the second never reached the server...
        assert (await slow).call_sid == "OUT-slow"
    # ...so it is "not sent", safe to retry, not "may have been placed".
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)


async def test_a_trigger_waiting_for_a_pooled_connection_is_retried_until_sent(
    api: ScriptedAPI,
) -> None:
    api.script(Reply(200, {"call_sid": "OUT-slow"}, delay=0.3), Reply(200, {"call_sid": "OUT-2"}))
    async with one_connection(api.base_url, max_retries=60) as client:
        slow = asyncio.create_task(client.trigger_call(NUMBER))
        await asyncio.sleep(0.05)
        second = await client.trigger_call("+14155552672")
        first = await slow
    assert (first.call_sid, second.call_sid) == ("OUT-slow", "OUT-2")
    assert [seen.json()["to_number"] for seen in api.seen] == [NUMBER, "+14155552672"]


async def test_a_refused_connection_names_the_request_it_could_not_send() -> None:
    async with polyout.Client(
        "platform", api_key="k", base_url=f"http://127.0.0.1:{closed_port()}", max_retries=0
    ) as client:
        with pytest.raises(polyout.TransportError, match="could not connect") as caught:
            await client.trigger_call(NUMBER)
    assert (caught.value.method, caught.value.path) == ("POST", "/v1/outbound-calling")


OVERSIZED = b"x" * (2 * 1024 * 1024)  # over the 1 MiB no documented answer comes near


async def test_an_oversized_answer_to_a_trigger_is_unknown_and_sent_once(api: ScriptedAPI) -> None:
    api.script(Reply(200, raw=OVERSIZED))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown, match="may have been placed"):
            await client.trigger_call(NUMBER)
    assert len(api.seen) == 1


async def test_an_oversized_answer_to_a_status_read_is_a_transport_error(api: ScriptedAPI) -> None:
    api.script(*[Reply(200, raw=OVERSIZED)] * 4)
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.TransportError, match="larger than") as caught:
            await client.get_status("OUT-1")
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)
    assert len(api.seen) == 4  # retried, as any failed read of a status


@pytest.mark.parametrize("status", [300, 301, 308])
async def test_a_redirect_is_an_error_status_never_a_placed_call(
    api: ScriptedAPI, status: int
) -> None:
    api.script(Reply(status, {"call_sid": "OUT-moved"}, headers={"Location": "https://x/"}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.APIStatusError) as caught:
            await client.trigger_call(NUMBER)
    assert caught.value.status_code == status
    assert len(api.seen) == 1  # not followed, not retried


def raw_answer(head: bytes, body: bytes) -> RawBehaviour:
    async def answer(
        state: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await read_request(reader)
        state.requests_read += 1
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + head + body)
        await writer.drain()

    return answer


async def test_a_chunked_answer_without_a_length_is_read() -> None:
    body = b'{"status": "calling"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    behaviour = raw_answer(b"Transfer-Encoding: chunked\r\n\r\n", chunked)
    async with (
        raw_server(behaviour) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        status = await client.get_status("OUT-1")
    assert status.state is polyout.CallState.CALLING


async def test_a_small_compressed_answer_that_inflates_past_the_cap_is_refused() -> None:
    """A gzip bomb: 2 KiB on the wire, over 1 MiB once inflated. Only the inflated size
    counts, or a hostile server could make a client inflate gigabytes."""
    inflated = b'{"status": "calling", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    body = gzip.compress(inflated)
    head = b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    async with (
        raw_server(raw_answer(head, body)) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url, max_retries=0) as client,
    ):
        with pytest.raises(polyout.TransportError, match="larger than"):
            await client.get_status("OUT-1")
    assert len(body) < 10_000
