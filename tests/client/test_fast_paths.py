"""The client's per-request fast paths answer exactly as the general paths do.

Status polls and triggers skip work when it provably changes nothing (issue 11's client
CPU): a plain sid goes into its path without quoting, JSON with nothing around it is
scanned directly, the fixed headers live on the client's own session. Each test here
would fail if a fast path answered differently from the path it shortcuts.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import polyout
from tests.client.servers import Reply, ScriptedAPI


def platform(base_url: str, **kwargs: object) -> polyout.Client:
    return polyout.Client("platform", api_key="k", base_url=base_url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sid", "raw_path"),
    [
        ("OUT-1_a.b~c", "/v1/outbound-calling/OUT-1_a.b~c/status"),  # plain: as it is
        (".hidden", "/v1/outbound-calling/.hidden/status"),
        ("OUT:1@x", "/v1/outbound-calling/OUT:1@x/status"),  # not plain: yarl keeps : and @
        ("OUT-é", "/v1/outbound-calling/OUT-%C3%A9/status"),
    ],
)
async def test_status_path_of_plain_and_other_sids(
    api: ScriptedAPI, sid: str, raw_path: str
) -> None:
    api.script(Reply(200, {"status": "calling"}))
    async with platform(api.base_url) as client:
        status = await client.get_status(sid)
    assert status.call_sid == sid
    assert api.seen[0].raw_path == raw_path


@pytest.mark.parametrize("sid", ["", ".", "...", "x" * 201, "a/b", "a b", 42])
async def test_sids_the_fast_path_must_not_let_through(api: ScriptedAPI, sid: object) -> None:
    async with platform(api.base_url) as client:
        with pytest.raises(polyout.ValidationError, match="call_sid"):
            await client.get_status(sid)  # type: ignore[arg-type]
    assert api.seen == []


@pytest.mark.parametrize(
    "raw", [b'{"status":"calling"}', b' \n{"status": "calling"}\r\n ', b'{"status":"calling"}\t']
)
async def test_status_json_with_or_without_whitespace_is_read(api: ScriptedAPI, raw: bytes) -> None:
    api.script(Reply(200, raw=raw))
    async with platform(api.base_url) as client:
        status = await client.get_status("OUT-1")
    assert status.state is polyout.CallState.CALLING


@pytest.mark.parametrize(
    "raw",
    [b'{"status":"calling"}x', b'{"status":"calling"}{}', b'\xef\xbb\xbf{"status":"calling"}'],
)
async def test_status_json_with_anything_else_around_it_is_refused(
    api: ScriptedAPI, raw: bytes
) -> None:
    api.script(Reply(200, raw=raw))
    async with platform(api.base_url, max_retries=0) as client:
        with pytest.raises(polyout.TransportError, match="not JSON"):
            await client.get_status("OUT-1")


@pytest.mark.parametrize("own_session", [True, False])
async def test_fixed_headers_reach_the_wire_on_any_session(
    api: ScriptedAPI, own_session: bool
) -> None:
    api.script(Reply(200, {"call_sid": "OUT-1"}), Reply(200, {"status": "calling"}))
    session = None if own_session else aiohttp.ClientSession()
    try:
        async with platform(api.base_url, session=session) as client:
            await client.trigger_call("+447911123456")
            await client.get_status("OUT-1")
    finally:
        if session is not None:
            await session.close()
    for seen in api.seen:
        assert seen.headers["Accept"] == "application/json"
        assert seen.headers["User-Agent"].startswith(f"polyout/{polyout.__version__} ")
        assert seen.headers["X-PolyAi-Auth-Token"] == "k"
    assert api.seen[0].headers["Content-Type"] == "application/json"
    assert "Content-Type" not in api.seen[1].headers


async def test_a_callers_session_is_not_given_the_credential(api: ScriptedAPI) -> None:
    # polyout's own session carries the credential's header for every request; a session
    # passed in stays the caller's: the header goes with each request, never onto it.
    api.script(Reply(200, {"status": "calling"}))
    async with aiohttp.ClientSession() as session:
        async with platform(api.base_url, session=session) as client:
            await client.get_status("OUT-1")
        assert dict(session.headers) == {}  # nothing of ours was set on it
    assert api.seen[0].headers["X-PolyAi-Auth-Token"] == "k"


async def test_an_aiohttp_without_the_direct_coroutine_takes_the_public_way(
    api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shortcut is aiohttp 3.x's private coroutine behind request(): without it, the
    # client must still send the same request through the public method.
    public = aiohttp.ClientSession.request
    calls: list[str] = []

    def counted(self: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
        calls.append(method)
        return public(self, method, url, **kwargs)

    monkeypatch.setattr("polyout._sending._DIRECT_REQUEST", False)
    monkeypatch.setattr(aiohttp.ClientSession, "request", counted)
    api.script(Reply(200, {"status": "calling"}))
    async with platform(api.base_url) as client:
        assert (await client.get_status("OUT-1")).state is polyout.CallState.CALLING
    assert calls == ["GET"]
    assert api.seen[0].headers["X-PolyAi-Auth-Token"] == "k"
