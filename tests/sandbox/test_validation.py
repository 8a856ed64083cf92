"""Every documented 400, 401 and 404 of each API, in each API's error shape."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from polyout.sandbox import SandboxConfig

from .conftest import StartSandbox
from .harness import (
    AGENTS,
    CONNECTOR,
    CORRELATION,
    KEY,
    NUMBER,
    PLATFORM,
    SPEC_IDS,
    SPECS,
    ApiSpec,
    Harness,
    Reply,
    error_code,
    error_message,
)

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def assert_error_shape(spec: ApiSpec, reply: Reply, *, fields: bool = False) -> None:
    """The body has exactly the documented keys of the shape this API answers with."""
    body = reply.json
    if spec is AGENTS and fields:
        assert set(body) == {"message", "errors"}
        assert body["errors"]
        for item in body["errors"]:
            assert set(item) == {"field", "message"}
    elif spec is AGENTS:
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "id", "message", "correlation_id"}
        assert body["error"]["correlation_id"] == reply.headers[CORRELATION]
    elif spec is PLATFORM:
        assert set(body) == {"success", "error", "error_id", "error_code", "error_message", "data"}
        assert body["success"] is False
        assert body["data"] is None
        assert UPPER_SNAKE.match(body["error_code"])
    else:
        assert set(body) == {"error", "code"}
        assert isinstance(body["error"], str)
    uuid.UUID(reply.headers[CORRELATION])


# Each case: a change to a valid body, and a word the error message must contain.
BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "missing number": ({"$number": None}, "required"),
    "empty number": ({"$number": ""}, "required"),
    "number not a string": ({"$number": 442079460950}, "string"),
    "unparseable number": ({"$number": "+not a number"}, "phone number"),
    "invalid number": ({"$number": "+4420794609"}, "valid"),
    "non-E.164 without country code": ({"$number": "020 7946 0950"}, "E.164"),
    "unknown country code": ({"$country": "XX", "$number": "020 7946 0950"}, "country"),
    "country code of 3 letters": ({"$country": "GBR"}, "country"),
    "country code not a string": ({"$country": 44}, "country"),
    "metadata a string": ({"metadata": "name=Paul"}, "metadata"),
    "metadata a list": ({"metadata": ["Paul"]}, "metadata"),
    "metadata nested object": ({"metadata": {"patient": {"name": "Paul"}}}, "string"),
    "metadata number": ({"metadata": {"age": 44}}, "string"),
    "metadata boolean": ({"metadata": {"vip": True}}, "string"),
    "metadata null value": ({"metadata": {"note": None}}, "string"),
    "metadata too large": ({"metadata": {"blob": "x" * 20_000}}, "large"),
    "unknown encryption": ({"encryption": "AES-256"}, "encryption"),
    "encryption not a string": ({"encryption": 1}, "encryption"),
    "unknown field": ({"callback_url": "https://example.invalid"}, "callback_url"),
}


def bad_body(spec: ApiSpec, change: dict[str, Any]) -> dict[str, Any]:
    body = spec.body()
    for key, value in change.items():
        name = {"$number": spec.number_field, "$country": spec.country_field}.get(key, key)
        if value is None and key == "$number":
            body.pop(name)
        else:
            body[name] = value
    return body


@pytest.mark.parametrize(
    ("spec", "case"),
    [
        pytest.param(spec, case, id=f"{spec.api.value}-{case}")
        for spec in SPECS
        for case in BAD_BODIES
        # The Agents API's schema allows other fields: test_requests.py.
        if not (spec is AGENTS and case == "unknown field")
    ],
)
async def test_invalid_trigger_body_is_400_and_not_placed(
    harness: Harness, spec: ApiSpec, case: str
) -> None:
    change, word = BAD_BODIES[case]
    reply = await harness.trigger(spec, bad_body(spec, change))
    assert reply.status == 400, reply.text
    assert_error_shape(spec, reply, fields=True)
    assert word.lower() in error_message(reply).lower()
    ledger = harness.sandbox.ledger
    assert ledger.placements == []
    assert [(r.status, r.endpoint, r.api) for r in ledger.rejections] == [
        (400, "trigger", spec.api.value)
    ]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_the_other_apis_encryption_spelling_is_rejected(
    harness: Harness, spec: ApiSpec
) -> None:
    other = PLATFORM if spec is AGENTS else AGENTS
    reply = await harness.trigger(spec, spec.body(encryption=other.encryptions[0]))
    assert reply.status == 400


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"\xff\xfe", b"[]", b'"+442079460950"', b"42", b"null"]
)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_body_not_a_json_object_is_400(harness: Harness, spec: ApiSpec, raw: bytes) -> None:
    reply = await harness.request(
        "POST",
        spec.trigger_path,
        data=raw,
        headers={spec.key_header: KEY, "Content-Type": "application/json"},
    )
    assert reply.status == 400, reply.text
    assert error_message(reply)
    assert harness.sandbox.ledger.placements == []


async def test_agents_lists_every_field_problem(harness: Harness) -> None:
    body = {"toNumber": "12", "metadata": {"a": 1}, "variantId": None}
    reply = await harness.trigger(AGENTS, body)
    assert reply.status == 400
    fields = {item["field"] for item in reply.json["errors"]}
    assert {"toNumber", "environment", "variantId"} <= fields
    assert any(field.startswith("metadata") for field in fields)


@pytest.mark.parametrize(
    ("environment", "word"),
    [
        (None, "required"),
        ("production", "environment"),
        (1, "environment"),
        ("LIVE", "environment"),
    ],
)
async def test_agents_trigger_environment_is_required_and_checked(
    harness: Harness, environment: object, word: str
) -> None:
    body = AGENTS.body()
    if environment is None:
        body.pop("environment")
    else:
        body["environment"] = environment
    reply = await harness.trigger(AGENTS, body)
    assert reply.status == 400
    assert_error_shape(AGENTS, reply, fields=True)
    assert word in error_message(reply)
    assert [item["field"] for item in reply.json["errors"]] == ["environment"]


async def test_agents_variant_id_must_be_a_string(harness: Harness) -> None:
    reply = await harness.trigger(AGENTS, AGENTS.body(variantId=7))
    assert reply.status == 400
    assert reply.json["errors"][0]["field"] == "variantId"


@pytest.mark.parametrize("environment", ["sandbox", "pre-release", "live"])
async def test_every_documented_environment_is_accepted(harness: Harness, environment: str) -> None:
    sid = await harness.place(AGENTS, environment=environment)
    assert (await harness.status(AGENTS, sid, environment=environment)).status == 200


# --- status requests ---------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_status_of_sid_without_out_prefix_is_400(harness: Harness, spec: ApiSpec) -> None:
    sid = await harness.place(spec)
    reply = await harness.status(spec, sid.removeprefix("OUT-"))
    assert reply.status == 400
    assert_error_shape(spec, reply, fields=True)
    assert "OUT-" in error_message(reply)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_status_of_unknown_sid_is_404(harness: Harness, spec: ApiSpec) -> None:
    reply = await harness.status(spec, f"OUT-{uuid.uuid4()}")
    assert reply.status == 404
    assert_error_shape(spec, reply)
    assert error_code(reply) == "CALL_NOT_FOUND"
    assert harness.sandbox.ledger.rejections[-1].status == 404


@pytest.mark.parametrize(("environment", "status"), [(None, 400), ("prod", 400), ("live", 200)])
async def test_agents_status_requires_the_environment_parameter(
    harness: Harness, environment: str | None, status: int
) -> None:
    sid = await harness.place(AGENTS)
    reply = await harness.status(AGENTS, sid, environment=environment)
    assert reply.status == status
    if status == 400:
        assert [item["field"] for item in reply.json["errors"]] == ["environment"]


# --- authentication ----------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_missing_or_empty_credential_is_401(
    harness: Harness, spec: ApiSpec, key: str | None
) -> None:
    trigger = await harness.trigger(spec, key=key)
    status = await harness.status(spec, f"OUT-{uuid.uuid4()}", key=key)
    for reply in (trigger, status):
        assert reply.status == 401
        assert_error_shape(spec, reply)
        assert error_code(reply) == "UNAUTHORIZED"
    assert harness.sandbox.ledger.placements == []
    assert [r.status for r in harness.sandbox.ledger.rejections] == [401, 401]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_another_apis_credential_header_does_not_count(
    harness: Harness, spec: ApiSpec
) -> None:
    others = {other.key_header: KEY for other in SPECS if other is not spec}
    reply = await harness.request("POST", spec.trigger_path, json_body=spec.body(), headers=others)
    assert reply.status == 401


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_configured_key_is_the_only_one_accepted(start: StartSandbox, spec: ApiSpec) -> None:
    harness = await start(SandboxConfig(api_key="s3cret"))
    assert (await harness.trigger(spec, key=KEY)).status == 401
    assert (await harness.trigger(spec, key="S3CRET")).status == 401
    reply = await harness.trigger(spec, key="s3cret")
    assert reply.status == 200
    sid = reply.json[spec.sid_field]
    assert (await harness.status(spec, sid, key=KEY)).status == 401
    assert (await harness.status(spec, sid, key="s3cret")).status == 200


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_forbidden_key_is_403_even_beside_a_configured_key(
    start: StartSandbox, spec: ApiSpec
) -> None:
    harness = await start(SandboxConfig(api_key="s3cret", forbidden_keys={"read-only"}))
    sid = (await harness.trigger(spec, key="s3cret")).json[spec.sid_field]
    for reply in (
        await harness.trigger(spec, key="read-only"),
        await harness.status(spec, sid, key="read-only"),
    ):
        assert reply.status == 403
        assert_error_shape(spec, reply)
        assert error_code(reply) == "FORBIDDEN"
    assert len(harness.sandbox.ledger.placements) == 1


async def test_api_key_is_not_shown_in_repr_or_config(start: StartSandbox) -> None:
    harness = await start(SandboxConfig(api_key="s3cret", forbidden_keys={"r-o"}))
    assert "s3cret" not in repr(harness.sandbox.config)
    assert "r-o" not in repr(harness.sandbox.config)
    reply = await harness.request("GET", "/_sandbox/config")
    assert "s3cret" not in reply.text
    assert "r-o" not in reply.text
    assert (reply.json["api_key"], reply.json["forbidden_keys"]) == ("(set)", 1)


# --- environments without a connector -----------------------------------------------


async def test_environment_without_connector_is_404(start: StartSandbox) -> None:
    harness = await start(SandboxConfig(environments={"sandbox"}))
    reply = await harness.trigger(AGENTS, AGENTS.body(environment="live"))
    assert reply.status == 404
    assert_error_shape(AGENTS, reply)
    assert reply.json["error"]["message"] == "No connector found for the specified environment"
    sid = await harness.place(AGENTS, environment="sandbox")
    reply = await harness.status(AGENTS, sid, environment="live")
    assert reply.status == 404
    assert reply.json["error"]["message"] == "No connector found for the specified environment"
    assert (await harness.status(AGENTS, sid, environment="sandbox")).status == 200
    assert len(harness.sandbox.ledger.placements) == 1


# --- routes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/v2/outbound-calling", 404),
        ("POST", "/v1/agents/A/telephony/outbound-calls/extra", 404),
        ("GET", "/v1/outbound-calling", 405),
        ("PUT", "/api/v1/a/p/outbound-call/trigger", 405),
        ("DELETE", "/v1/outbound-calling/OUT-1/status", 405),
    ],
)
async def test_unknown_routes_and_methods(
    harness: Harness, method: str, path: str, status: int
) -> None:
    reply = await harness.request(method, path)
    assert reply.status == status
    uuid.UUID(reply.headers[CORRELATION])
    assert error_code(reply) in {"NOT_FOUND", "METHOD_NOT_ALLOWED"}
    assert harness.sandbox.ledger.rejections[-1].status == status


async def test_unknown_route_under_an_api_answers_in_its_shape(harness: Harness) -> None:
    reply = await harness.request("GET", "/v1/agents/A/telephony/nothing-here")
    assert_error_shape(AGENTS, reply)
    reply = await harness.request("GET", "/v1/outbound-calling/OUT-1")
    assert_error_shape(PLATFORM, reply)
    reply = await harness.request("GET", "/api/v1/a/p/outbound-call")
    assert_error_shape(CONNECTOR, reply)


async def test_a_sandbox_bug_still_answers_500_with_a_correlation_id(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    sid = await harness.place(AGENTS)
    monkeypatch.setattr(harness.sandbox.calls, "find", broken)
    reply = await harness.status(AGENTS, sid)
    assert reply.status == 500
    assert_error_shape(AGENTS, reply)
    assert "boom" in caplog.text


async def test_oversized_body_is_refused_with_a_correlation_id(harness: Harness) -> None:
    reply = await harness.request(
        "POST",
        PLATFORM.trigger_path,
        data=b'{"to_number": "' + b"1" * (2 * 1024 * 1024) + b'"}',
        headers={PLATFORM.key_header: KEY},
    )
    assert reply.status == 413
    uuid.UUID(reply.headers[CORRELATION])
    assert harness.sandbox.ledger.placements == []


async def test_rejection_records_the_number_sent(harness: Harness) -> None:
    await harness.trigger(PLATFORM, PLATFORM.body("+4420794609"))
    rejection = harness.sandbox.ledger.rejections[-1]
    assert (rejection.number, rejection.status, rejection.code) == (
        "+4420794609",
        400,
        "INVALID_PHONE_NUMBER",
    )
    await harness.trigger(PLATFORM, key=None)
    assert harness.sandbox.ledger.rejections[-1].number is None
    assert NUMBER not in {r.number for r in harness.sandbox.ledger.rejections}
