"""Answers no documented server sends: each is a clean polyout error, never a crash.

A 2xx answer to a trigger means the call was probably placed, so any answer polyout
cannot use is ``TriggerOutcomeUnknown`` with the reason, sent exactly once. Status
answers are idempotent reads: an unusable one is a ``TransportError``.
"""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from urllib.parse import unquote

import pytest

import polyout
from tests.client.hostile_servers import RawAnswer, RawHTTP, RawRequest, nested_json, raw_http

NUMBER = "+14155552671"


def platform(base_url: str) -> polyout.Client:
    return polyout.Client("platform", api_key="k", base_url=base_url)


@pytest.mark.parametrize("depth", [100_000, 5_000, 65])
async def test_deeply_nested_trigger_answer_is_outcome_unknown(depth: int) -> None:
    async with (
        raw_http(lambda _: RawAnswer(200, nested_json(depth))) as server,
        platform(server.base_url) as client,
    ):
        with pytest.raises(polyout.TriggerOutcomeUnknown) as caught:
            await client.trigger_call(NUMBER)
    assert "nested" in str(caught.value)
    assert "+1*******671" in str(caught.value)
    assert len(server.posts()) == 1  # the call was probably placed: never re-sent


async def test_moderately_nested_trigger_answer_is_read() -> None:
    async with (
        raw_http(lambda _: RawAnswer(200, nested_json(30))) as server,
        platform(server.base_url) as client,
    ):
        call = await client.trigger_call(NUMBER)
    assert call.call_sid == "OUT-deep"


@pytest.mark.parametrize("depth", [100_000, 65])
async def test_deeply_nested_status_answer_is_a_clean_error(depth: int) -> None:
    async with (
        raw_http(lambda _: RawAnswer(200, nested_json(depth))) as server,
        platform(server.base_url) as client,
    ):
        with pytest.raises(polyout.TransportError, match="nested"):
            await client.get_status("OUT-1")
        with pytest.raises(polyout.TransportError, match="nested"):
            await client.wait_for_call("OUT-1", poll_interval=0.01)
    assert len(server.requests) == 2


async def test_deeply_nested_error_answer_keeps_its_status() -> None:
    async with (
        raw_http(lambda _: RawAnswer(400, nested_json(100_000))) as server,
        platform(server.base_url) as client,
    ):
        with pytest.raises(polyout.BadRequestError) as caught:
            await client.trigger_call(NUMBER)
    assert caught.value.parsed is None
    assert len(caught.value.body) <= 2000  # a bounded excerpt, not the whole hostile body


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<html>OK</html>", "not JSON"),
        (b'{"call_sid": "OUT-\xff"}', "not UTF-8"),
        (b'["OUT-1"]', "not a JSON object"),
        (b'{"status": "queued"}', "no call sid"),
        (b'{"call_sid": 12345}', "no call sid"),
        (b'{"call_sid": ""}', "no call sid"),
    ],
)
async def test_unusable_trigger_answer_is_unknown_with_the_reason(body: bytes, reason: str) -> None:
    async with (
        raw_http(lambda _: RawAnswer(200, body)) as server,
        platform(server.base_url) as client,
    ):
        with pytest.raises(polyout.TriggerOutcomeUnknown) as caught:
            await client.trigger_call(NUMBER)
    assert reason in str(caught.value)
    assert caught.value.status_code == 200
    assert caught.value.correlation_id == "corr-raw"
    assert len(server.posts()) == 1


# -- sids that are not OUT-…: accepted on both sides, as long as a URL can carry them ----


def sid_server(sid: str) -> AbstractAsyncContextManager[RawHTTP]:
    def answer(request: RawRequest) -> RawAnswer:
        if request.method == "POST":
            return RawAnswer(200, json.dumps({"call_sid": sid}).encode())
        return RawAnswer(200, b'{"status": "success"}')

    return raw_http(answer)


@pytest.mark.parametrize("sid", ["CA1234abcd", "call:42+7=x", "a?b#c%d", "OUT-ok", "ünï"])
async def test_any_sane_sid_is_followed(sid: str) -> None:
    async with sid_server(sid) as server, platform(server.base_url) as client:
        call = await client.trigger_call(NUMBER)
        status = await client.wait_for_call(call.call_sid, poll_interval=0.01)
    assert call.call_sid == sid
    assert status.state is polyout.CallState.SUCCESS
    # One path segment that decodes back to the sid: nothing read as a query or fragment.
    target = server.requests[1].target
    assert "?" not in target
    assert "#" not in target
    assert unquote(target) == f"/v1/outbound-calling/{sid}/status"


@pytest.mark.parametrize("sid", ["..", "a/b", "a\\b", "has space", "tab\there", "x" * 201])
async def test_sid_no_url_can_carry_is_unknown_at_trigger(sid: str) -> None:
    async with sid_server(sid) as server, platform(server.base_url) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown, match="cannot be followed"):
            await client.trigger_call(NUMBER)
        with pytest.raises(polyout.ValidationError, match="call_sid"):
            await client.get_status(sid)
    assert len(server.requests) == 1  # one trigger, never re-sent; no poll
