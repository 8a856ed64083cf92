"""Exactly what goes over the wire for each API: paths, headers, body keys."""

from __future__ import annotations

import json

import pytest

import polyout
from tests.client.servers import Reply, ScriptedAPI

NUMBER = "+14155552671"


async def test_agents_trigger_and_status(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"callSid": "OUT-a1", "status": "QUEUED"}),
        Reply(200, {"callSid": "OUT-a1", "status": "CALLING", "reason": ""}),
    )
    async with polyout.Client(
        "agents",
        api_key="key-1",
        base_url=api.base_url,
        agent_id="PROJECT-58RP822I",
        environment="sandbox",
    ) as client:
        call = await client.trigger_call(
            "(415) 555-2671",
            country_code="us",
            metadata={"customer_name": "Paul Smith"},
            encryption="tls_srtp",
            variant_id="variant-7",
        )
        status = await client.get_status(call.call_sid)

    trigger, poll = api.seen
    assert trigger.method == "POST"
    assert trigger.path == "/v1/agents/PROJECT-58RP822I/telephony/outbound-calls"
    assert trigger.headers["X-API-KEY"] == "key-1"
    assert trigger.headers["Content-Type"] == "application/json"
    assert trigger.json() == {
        "toNumber": NUMBER,
        "environment": "sandbox",
        "variantId": "variant-7",
        "encryption": "tls_srtp",
        "metadata": {"customer_name": "Paul Smith"},
    }
    assert call.call_sid == "OUT-a1"
    assert call.state is polyout.CallState.QUEUED
    assert poll.method == "GET"
    assert poll.path == "/v1/agents/PROJECT-58RP822I/telephony/outbound-calls/OUT-a1/status"
    assert poll.query == {"environment": "sandbox"}
    assert poll.headers["X-API-KEY"] == "key-1"
    assert status.state is polyout.CallState.CALLING


async def test_platform_trigger_and_status(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"call_sid": "OUT-p1"}),
        Reply(200, {"status": "success", "reason": ""}),
    )
    async with polyout.Client("platform", api_key="tok", base_url=api.base_url) as client:
        call = await client.trigger_call(NUMBER, encryption=polyout.Encryption.UDP_RTP)
        status = await client.get_status(call.call_sid)

    trigger, poll = api.seen
    assert trigger.path == "/v1/outbound-calling"
    assert trigger.headers["X-PolyAi-Auth-Token"] == "tok"
    assert "X-API-KEY" not in trigger.headers
    assert trigger.json() == {"to_number": NUMBER, "encryption": "UDP/RTP"}
    assert poll.path == "/v1/outbound-calling/OUT-p1/status"
    assert poll.query == {}
    assert status.state is polyout.CallState.SUCCESS
    assert status.reason == ""


async def test_connector_trigger_and_status(api: ScriptedAPI) -> None:
    api.script(
        Reply(200, {"conversation_id": "OUT-c1"}),
        Reply(200, {"call_sid": "OUT-c1", "status": "no-answer", "event_history": []}),
    )
    async with polyout.Client(
        "connector",
        api_key="conn-9",
        base_url=api.base_url + "/",
        account_id="acct",
        project_id="proj",
    ) as client:
        call = await client.trigger_call(NUMBER, metadata={"k": "v"})
        status = await client.get_status(call.call_sid)

    trigger, poll = api.seen
    assert trigger.path == "/api/v1/acct/proj/outbound-call/trigger"
    assert trigger.headers["X-CONNECTOR-ID"] == "conn-9"
    assert trigger.json() == {"phone_number": NUMBER, "metadata": {"k": "v"}}
    assert poll.path == "/api/v1/acct/proj/outbound-call/status/OUT-c1"
    assert status.state is polyout.CallState.NO_ANSWER
    assert status.reason == "no-answer"
    assert status.raw["event_history"] == []


async def test_optional_fields_are_omitted_not_nulled(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"callSid": "OUT-x"}))
    async with polyout.Client(
        "agents", api_key="k", base_url=api.base_url, agent_id="PROJECT-1"
    ) as client:
        await client.trigger_call(NUMBER)
    assert api.seen[0].json() == {"toNumber": NUMBER, "environment": "live"}


async def test_ids_cannot_add_path_segments(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"conversation_id": "OUT-1"}))
    async with polyout.Client(
        "connector", api_key="k", base_url=api.base_url, account_id="a/../b", project_id="p"
    ) as client:
        await client.trigger_call(NUMBER)
    assert api.seen[0].raw_path == "/api/v1/a%2F..%2Fb/p/outbound-call/trigger"


@pytest.mark.parametrize("dots", [".", ".."])
def test_dot_ids_are_refused_because_urls_would_drop_them(dots: str) -> None:
    with pytest.raises(polyout.ValidationError, match="dots"):
        polyout.Client("connector", api_key="k", region="us", account_id=dots, project_id="p")
    with pytest.raises(polyout.ValidationError, match="dots"):
        polyout.Client("agents", api_key="k", region="us", agent_id=dots)


async def test_user_agent_names_polyout(api: ScriptedAPI) -> None:
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        await client.trigger_call(NUMBER)
    assert api.seen[0].headers["User-Agent"].startswith(f"polyout/{polyout.__version__} ")


@pytest.mark.parametrize(
    ("api_name", "raw", "expected"),
    [
        ("agents", "QUEUED", "queued"),
        ("agents", "CALLING", "calling"),
        ("agents", "SUCCESS", "success"),
        ("agents", "FAILURE", "failure"),
        ("platform", "queued", "queued"),
        ("platform", "calling", "calling"),
        ("platform", "success", "success"),
        ("platform", "failure", "failure"),
        ("connector", "CREATED", "queued"),
        ("connector", "queued", "queued"),
        ("connector", "ringing", "calling"),
        ("connector", "in-progress", "in_progress"),
        ("connector", "completed", "success"),
        ("connector", "failed", "failure"),
        ("connector", "no-answer", "no_answer"),
        ("connector", "busy", "busy"),
        ("connector", "cancelled", "cancelled"),
    ],
)
async def test_status_mapping(api: ScriptedAPI, api_name: str, raw: str, expected: str) -> None:
    api.script(Reply(200, {"status": raw, "reason": "r"}))
    async with polyout.Client(
        api_name,  # type: ignore[arg-type]
        api_key="k",
        base_url=api.base_url,
        agent_id="P",
        account_id="a",
        project_id="p",
    ) as client:
        status = await client.get_status("OUT-1")
    assert status.state.value == expected
    assert status.raw_status == raw


@pytest.mark.parametrize("raw", ["VOICEMAIL", "transferring", "", None, 7, {"nested": 1}])
async def test_unheard_of_status_is_kept_raw_and_not_final(api: ScriptedAPI, raw: object) -> None:
    api.script(Reply(200, {"status": raw}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        status = await client.get_status("OUT-1")
    assert status.state is polyout.CallState.UNKNOWN
    assert not status.is_final
    assert status.raw["status"] == raw


async def test_correlation_id_is_kept_on_success(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"call_sid": "OUT-1"}, headers={"X-PolyAI-Correlation-Id": "abc"}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        call = await client.trigger_call(NUMBER)
    assert call.correlation_id == "abc"


async def test_trigger_answer_is_read_tolerantly(api: ScriptedAPI) -> None:
    # The Platform API documents call_sid, but a callSid is understood too.
    api.script(Reply(200, {"callSid": "OUT-t", "status": "QUEUED", "extra": [1, 2]}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        call = await client.trigger_call(NUMBER)
    assert call.call_sid == "OUT-t"


async def test_trigger_body_bytes_are_compact_utf8_json(api: ScriptedAPI) -> None:
    # The body is encoded by a scanner made once per process: these are the exact
    # bytes json.dumps(separators=(",", ":"), ensure_ascii=False) gives, escapes and all.
    api.script(Reply(200, {"call_sid": "OUT-1"}))
    metadata = {"name": 'Zoë "Z" \\ O\'Neil', "note": "✓ tab\there"}
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        await client.trigger_call(NUMBER, metadata=metadata)
    expected = {"to_number": NUMBER, "metadata": metadata}
    assert api.seen[0].body == json.dumps(
        expected, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
