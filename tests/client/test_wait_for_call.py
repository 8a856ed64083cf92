"""Following a call to its end, or to the moment its status disappears."""

from __future__ import annotations

import pytest

import polyout
import polyout._following
from tests.client.servers import Reply, ScriptedAPI


def platform(api: ScriptedAPI) -> polyout.Client:
    return polyout.Client("platform", api_key="k", base_url=api.base_url)


async def test_polls_until_terminal(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"status": "queued", "reason": ""}),
        Reply(200, {"status": "calling", "reason": ""}),
        Reply(200, {"status": "failure", "reason": "call queueing: max timeout limit exceeded"}),
    )
    async with platform(api) as client:
        status = await client.wait_for_call("OUT-1", poll_interval=0.01)
    assert status.state is polyout.CallState.FAILURE
    assert status.reason == "call queueing: max timeout limit exceeded"
    assert len(api.seen) == 3


async def test_status_disappearing_after_being_seen_is_expired(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"status": "calling", "reason": ""}),
        Reply(404, {"error": "not found"}),
    )
    async with platform(api) as client:
        status = await client.wait_for_call("OUT-1", poll_interval=0.01)
    assert status.state is polyout.CallState.EXPIRED
    assert status.is_final
    assert "retention" in (status.reason or "")
    assert status.last_seen is not None
    assert status.last_seen.state is polyout.CallState.CALLING
    assert status.raw_status == "calling"


async def test_timeout_returns_expired_with_the_last_status(api: ScriptedAPI) -> None:
    api.default = Reply(200, {"status": "calling", "reason": ""})
    async with platform(api) as client:
        status = await client.wait_for_call("OUT-1", poll_interval=0.02, deadline=0.1)
    assert status.state is polyout.CallState.EXPIRED
    assert status.last_seen is not None
    assert status.last_seen.state is polyout.CallState.CALLING
    assert "not finished after 0.1 s" in (status.reason or "")


async def test_never_found_raises_after_the_grace(
    api: ScriptedAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(polyout._following, "NOT_FOUND_GRACE", 0.05)
    api.default = Reply(404, {"error": "unknown call"})
    async with platform(api) as client:
        with pytest.raises(polyout.NotFoundError):
            await client.wait_for_call("OUT-1", poll_interval=0.01)
    assert len(api.seen) >= 2  # a 404 right after a trigger is not believed at once


async def test_unknown_statuses_keep_polling(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"status": "VOICEMAIL_DETECTED"}),
        Reply(200, {"status": "success", "reason": ""}),
    )
    async with platform(api) as client:
        status = await client.wait_for_call("OUT-1", poll_interval=0.01)
    assert status.state is polyout.CallState.SUCCESS


async def test_poll_interval_must_be_positive(api: ScriptedAPI) -> None:
    async with platform(api) as client:
        with pytest.raises(ValueError, match="poll_interval"):
            await client.wait_for_call("OUT-1", poll_interval=0)
