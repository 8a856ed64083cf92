"""The client against the project's own sandbox: the whole path, for each API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import polyout
from polyout.sandbox import FaultConfig, ManualClock, Sandbox, SandboxConfig

API_SETTINGS: dict[str, dict[str, Any]] = {
    "agents": {"agent_id": "PROJECT-58RP822I", "environment": "sandbox"},
    "platform": {},
    "connector": {"account_id": "acct-1", "project_id": "proj-1"},
}


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxConfig(outcomes="last-digit"), clock=ManualClock()) as server:
        yield server


def client_for(sandbox: Sandbox, api: str, **kwargs: Any) -> polyout.Client:
    return polyout.Client(
        api,  # type: ignore[arg-type]
        api_key="sandbox-key",
        base_url=sandbox.base_url,
        **API_SETTINGS[api],
        **kwargs,
    )


@pytest.mark.parametrize("api", list(API_SETTINGS))
@pytest.mark.parametrize(
    ("number", "final"),
    [
        ("+14155552670", polyout.CallState.SUCCESS),  # last digit 0-6 answers
        ("+14155552679", polyout.CallState.FAILURE),  # 9 fails
    ],
)
async def test_call_lifecycle_end_to_end(
    sandbox: Sandbox, api: str, number: str, final: polyout.CallState
) -> None:
    async with client_for(sandbox, api) as client:
        call = await client.trigger_call(number, metadata={"customer": "Ann"})
        assert call.call_sid.startswith("OUT-")
        first = await client.get_status(call.call_sid)
        assert first.state in {polyout.CallState.QUEUED, polyout.CallState.CALLING}
        sandbox.advance(3600)
        status = await client.wait_for_call(call.call_sid, poll_interval=0.01)
    assert status.state is final
    assert status.correlation_id
    (placement,) = sandbox.ledger.placements
    assert placement.number == number
    assert placement.metadata == {"customer": "Ann"}


async def test_connector_reports_no_answer_and_busy(sandbox: Sandbox) -> None:
    async with client_for(sandbox, "connector") as client:
        no_answer = await client.trigger_call("+14155552677")
        busy = await client.trigger_call("+14155552678")
        sandbox.advance(3600)
        assert (await client.get_status(no_answer.call_sid)).state is polyout.CallState.NO_ANSWER
        assert (await client.get_status(busy.call_sid)).state is polyout.CallState.BUSY


async def test_platform_failure_keeps_the_reason(sandbox: Sandbox) -> None:
    async with client_for(sandbox, "platform") as client:
        call = await client.trigger_call("+14155552677")
        sandbox.advance(3600)
        status = await client.get_status(call.call_sid)
    assert status.state is polyout.CallState.FAILURE
    assert status.reason


async def test_retention_expiry_is_reported_as_expired(sandbox: Sandbox) -> None:
    async with client_for(sandbox, "agents") as client:
        call = await client.trigger_call("+14155552670")
        waiting = asyncio.create_task(client.wait_for_call(call.call_sid, poll_interval=0.02))
        await asyncio.sleep(0.1)  # a few polls see the call queued
        sandbox.advance(4 * 3600)  # the call ended and its status retention passed
        status = await waiting
    assert status.state is polyout.CallState.EXPIRED
    assert status.last_seen is not None
    assert status.last_seen.state is polyout.CallState.QUEUED


@pytest.mark.parametrize("api", list(API_SETTINGS))
async def test_wrong_key_is_an_authentication_error(api: str) -> None:
    config = SandboxConfig(api_key="the-right-key")
    async with Sandbox(config) as sandbox, client_for(sandbox, api) as client:
        with pytest.raises(polyout.AuthenticationError) as caught:
            await client.trigger_call("+14155552670")
    assert caught.value.correlation_id
    assert sandbox.ledger.placements == []


async def test_unknown_call_is_not_found(sandbox: Sandbox) -> None:
    async with client_for(sandbox, "platform") as client:
        with pytest.raises(polyout.NotFoundError):
            await client.get_status("OUT-00000000-0000-0000-0000-000000000000")


async def test_agents_environment_without_connector_is_not_found() -> None:
    config = SandboxConfig(environments={"live"})
    async with Sandbox(config) as sandbox, client_for(sandbox, "agents") as client:
        with pytest.raises(polyout.NotFoundError):
            await client.trigger_call("+14155552670")


async def test_what_the_client_accepts_the_sandbox_accepts(sandbox: Sandbox) -> None:
    """Client-side validation is never looser than the server's."""
    largest = {"k": "v" * 19400}
    async with client_for(sandbox, "platform") as client:
        await client.trigger_call(
            "020 7183 8750", country_code="GB", metadata=largest, encryption="UDP/SRTP"
        )
    assert sandbox.ledger.placements[0].number == "+442071838750"


@pytest.mark.parametrize("api", list(API_SETTINGS))
async def test_cut_connection_is_unknown_and_placed_once(api: str) -> None:
    config = SandboxConfig(faults=FaultConfig(cut_on=[1]))
    async with Sandbox(config) as sandbox, client_for(sandbox, api) as client:
        with pytest.raises(polyout.TriggerOutcomeUnknown):
            await client.trigger_call("+14155552670")
    assert sandbox.ledger.placement_count("+14155552670") == 1


@pytest.mark.parametrize("fault", ["trigger_500_on", "trigger_502_on"])
async def test_not_placed_faults_are_retried_to_one_placement(fault: str) -> None:
    schedule: dict[str, Any] = {fault: [1, 2]}
    config = SandboxConfig(faults=FaultConfig(**schedule))
    async with Sandbox(config) as sandbox, client_for(sandbox, "platform") as client:
        call = await client.trigger_call("+14155552670")
    assert call.call_sid.startswith("OUT-")
    assert sandbox.ledger.placement_count("+14155552670") == 1
    assert len(sandbox.ledger.rejections) == 2


async def test_rate_limited_triggers_are_paced_and_all_placed() -> None:
    config = SandboxConfig(faults=FaultConfig(rate_limit=5))
    async with (
        Sandbox(config) as sandbox,
        client_for(sandbox, "platform", rate_limit=5, max_retries=8) as client,
    ):
        numbers = [f"+1415555{n:04d}" for n in range(2670, 2680)]
        for number in numbers:
            await client.trigger_call(number)
    assert sorted(sandbox.ledger.placements_per_number()) == sorted(numbers)
    assert not [r for r in sandbox.ledger.rejections if r.status == 429]


async def test_status_errors_are_retried(sandbox: Sandbox) -> None:
    config = SandboxConfig(faults=FaultConfig(status_error_on=[1, 2]))
    async with Sandbox(config) as server, client_for(server, "platform") as client:
        call = await client.trigger_call("+14155552670")
        status = await client.get_status(call.call_sid)
    assert status.state is polyout.CallState.QUEUED
