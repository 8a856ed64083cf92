"""The documented successful requests of each API, with exact paths and response bodies."""

from __future__ import annotations

import re
import uuid

import pytest

from .harness import (
    ACCOUNT_ID,
    AGENT_ID,
    AGENTS,
    CONNECTOR,
    CORRELATION,
    KEY,
    NUMBER,
    PLATFORM,
    PROJECT_ID,
    SPEC_IDS,
    SPECS,
    ApiSpec,
    Harness,
)

SID = re.compile(r"^OUT-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


async def test_agents_trigger_answers_call_sid_and_queued(harness: Harness) -> None:
    reply = await harness.trigger(AGENTS)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    assert set(reply.json) == {"callSid", "status"}
    assert SID.match(reply.json["callSid"])
    assert reply.json["status"] == "QUEUED"


async def test_platform_trigger_answers_call_sid_only(harness: Harness) -> None:
    reply = await harness.trigger(PLATFORM)
    assert reply.status == 200
    assert set(reply.json) == {"call_sid"}
    assert SID.match(reply.json["call_sid"])


async def test_connector_trigger_answers_conversation_id_only(harness: Harness) -> None:
    reply = await harness.trigger(CONNECTOR)
    assert reply.status == 200
    assert set(reply.json) == {"conversation_id"}
    assert SID.match(reply.json["conversation_id"])


async def test_agents_status_body(harness: Harness) -> None:
    sid = await harness.place(AGENTS)
    reply = await harness.status(AGENTS, sid)
    assert reply.status == 200
    assert reply.json == {"callSid": sid, "status": "QUEUED", "reason": ""}


async def test_platform_status_body(harness: Harness) -> None:
    sid = await harness.place(PLATFORM)
    reply = await harness.status(PLATFORM, sid)
    assert reply.status == 200
    assert reply.json == {"status": "queued", "reason": ""}


async def test_connector_status_body(harness: Harness) -> None:
    sid = await harness.place(CONNECTOR)
    reply = await harness.status(CONNECTOR, sid, key="connector-42")
    body = reply.json
    assert reply.status == 200
    assert set(body) == {
        "call_sid",
        "account_id",
        "project_id",
        "client_env",
        "connector_id",
        "created_at",
        "status",
        "last_updated",
        "event_history",
    }
    assert body["call_sid"] == sid
    assert (body["account_id"], body["project_id"]) == (ACCOUNT_ID, PROJECT_ID)
    assert body["connector_id"] == KEY  # the id that placed the call
    assert isinstance(body["client_env"], str)
    assert body["client_env"]
    assert body["status"] == "CREATED"
    assert ISO.match(body["created_at"])
    assert body["last_updated"] == body["created_at"]
    assert body["event_history"] == [{"CREATED": body["created_at"]}]


async def test_connector_credential_header_is_case_insensitive(harness: Harness) -> None:
    reply = await harness.request(
        "POST",
        CONNECTOR.trigger_path,
        json_body=CONNECTOR.body(),
        headers={"x-connector-id": "lower-case-connector"},
    )
    assert reply.status == 200
    sid = reply.json["conversation_id"]
    status = await harness.request(
        "GET", CONNECTOR.status_path(sid), headers={"X-Connector-Id": "x"}
    )
    assert status.json["connector_id"] == "lower-case-connector"


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_every_sid_is_fresh(harness: Harness, spec: ApiSpec) -> None:
    sids = {await harness.place(spec) for _ in range(20)}
    assert len(sids) == 20


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_national_number_with_country_code_is_normalised(
    harness: Harness, spec: ApiSpec
) -> None:
    body = spec.body("020 7946 0958", **{spec.country_field: "GB"})
    reply = await harness.trigger(spec, body)
    assert reply.status == 200, reply.text
    assert harness.sandbox.ledger.placements[-1].number == "+442079460958"


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_every_documented_encryption_is_accepted_and_recorded(
    harness: Harness, spec: ApiSpec
) -> None:
    for encryption in spec.encryptions:
        reply = await harness.trigger(spec, spec.body(encryption=encryption))
        assert reply.status == 200, reply.text
        assert harness.sandbox.ledger.placements[-1].encryption == encryption
    await harness.place(spec)
    assert harness.sandbox.ledger.placements[-1].encryption == spec.encryptions[0]  # the default


@pytest.mark.parametrize("spec", [PLATFORM, CONNECTOR], ids=["platform", "connector"])
async def test_metadata_and_nulls_for_optional_fields(harness: Harness, spec: ApiSpec) -> None:
    # No schema types these APIs' fields (see the Agents API tests for one that does):
    # null stands for absent.
    metadata = {"patient_first_name": "Paul", "appointment_date": "2026-08-26", "emoji": "☎"}
    body = spec.body(metadata=metadata)
    body.update({spec.country_field: None, "encryption": None})
    reply = await harness.trigger(spec, body)
    assert reply.status == 200, reply.text
    placement = harness.sandbox.ledger.placements[-1]
    assert placement.metadata == metadata
    assert placement.encryption == spec.encryptions[0]


@pytest.mark.parametrize("field", ["countryCode", "encryption", "variantId", "metadata"])
async def test_agents_refuses_null_for_an_optional_field(harness: Harness, field: str) -> None:
    # The Agents API's OpenAPI document types each of them (a string, or an object of
    # strings) and allows no null: issue 10 found "metadata": null accepted.
    reply = await harness.trigger(AGENTS, {**AGENTS.body(), field: None})
    assert reply.status == 400, reply.text
    assert [item["field"] for item in reply.json["errors"]] == [field]
    assert "null" in reply.json["errors"][0]["message"] or field in ("variantId", "metadata")
    assert harness.sandbox.ledger.placements == []


async def test_agents_ignores_fields_its_schema_does_not_name(harness: Harness) -> None:
    # The OpenAPI document allows other properties (no additionalProperties: false).
    reply = await harness.trigger(AGENTS, AGENTS.body(callbackUrl="https://example.invalid"))
    assert reply.status == 200, reply.text
    assert [p.number for p in harness.sandbox.ledger.placements] == [NUMBER]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_every_sid_is_out_and_a_uuid_everywhere_it_shows(
    harness: Harness, spec: ApiSpec
) -> None:
    # The docs: "Unique call identifier (prefixed with OUT-)", e.g.
    # OUT-550e8400-e29b-41d4-a716-446655440000; clients refuse to poll anything else.
    sid = await harness.place(spec)
    assert SID.match(sid)
    status = await harness.status(spec, sid)
    assert status.status == 200, status.text
    echoed = status.json.get("callSid", status.json.get("call_sid", sid))
    assert echoed == sid
    assert [placement.sid for placement in harness.sandbox.ledger.placements] == [sid]


async def test_agents_variant_and_ids_reach_the_ledger(harness: Harness) -> None:
    reply = await harness.trigger(AGENTS, AGENTS.body(variantId="VARIANT-7", environment="sandbox"))
    assert reply.status == 200, reply.text
    placement = harness.sandbox.ledger.placements[-1]
    assert (placement.api, placement.agent_id) == ("agents", AGENT_ID)
    assert (placement.variant_id, placement.environment) == ("VARIANT-7", "sandbox")


async def test_connector_ids_reach_the_ledger(harness: Harness) -> None:
    await harness.place(CONNECTOR)
    placement = harness.sandbox.ledger.placements[-1]
    assert (placement.account_id, placement.project_id) == (ACCOUNT_ID, PROJECT_ID)
    assert placement.environment is None


async def test_any_agent_account_and_project_ids_are_accepted(harness: Harness) -> None:
    for agent in ("a", "PROJECT-X", "123"):
        path = f"/v1/agents/{agent}/telephony/outbound-calls"
        assert (await harness.trigger(AGENTS, path=path)).status == 200
    path = "/api/v1/other-account/other-project/outbound-call/trigger"
    assert (await harness.trigger(CONNECTOR, path=path)).status == 200


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_call_is_visible_only_through_its_own_api(harness: Harness, spec: ApiSpec) -> None:
    sid = await harness.place(spec)
    for other in SPECS:
        reply = await harness.status(other, sid)
        assert reply.status == (200 if other is spec else 404), other.api


async def test_agents_call_is_scoped_to_agent_and_environment(harness: Harness) -> None:
    sid = await harness.place(AGENTS)  # environment "live"
    other_agent = f"/v1/agents/PROJECT-OTHER/telephony/outbound-calls/{sid}/status"
    assert (await harness.status(AGENTS, sid, path=other_agent)).status == 404
    assert (await harness.status(AGENTS, sid, environment="sandbox")).status == 404
    assert (await harness.status(AGENTS, sid, environment="live")).status == 200


async def test_connector_call_is_scoped_to_account_and_project(harness: Harness) -> None:
    sid = await harness.place(CONNECTOR)
    for account, project in ((ACCOUNT_ID, "P-2"), ("A-2", PROJECT_ID)):
        path = f"/api/v1/{account}/{project}/outbound-call/status/{sid}"
        assert (await harness.status(CONNECTOR, sid, path=path)).status == 404
    assert (await harness.status(CONNECTOR, sid)).status == 200


async def test_correlation_ids_are_fresh_uuids_on_success(harness: Harness) -> None:
    replies = [await harness.trigger(spec) for spec in SPECS]
    ids = [reply.headers[CORRELATION] for reply in replies]
    assert len(set(ids)) == len(ids)
    for value in ids:
        uuid.UUID(value)
    assert harness.sandbox.ledger.placements[0].correlation_id == ids[0]


async def test_number_in_ledger_is_e164(harness: Harness) -> None:
    await harness.trigger(PLATFORM, PLATFORM.body("+44 20 7946 0950"))
    assert harness.sandbox.ledger.placements[-1].number == NUMBER
