"""Raw-HTTP helpers for the sandbox conformance tests: no client of ours, only aiohttp.

``ApiSpec`` restates each API's documented spelling (paths, headers, field names)
independently of the sandbox's own tables, so a typo there fails a test here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import attrs
from multidict import CIMultiDictProxy

from polyout.sandbox import Api, ManualClock, Sandbox

KEY = "test-key"
NUMBER = "+442079460950"  # last digit 0: completes under the last-digit rule
AGENT_ID = "PROJECT-58RP822I"
ACCOUNT_ID = "ACCOUNT-1"
PROJECT_ID = "PROJECT-1"
CORRELATION = "X-PolyAI-Correlation-Id"


@attrs.frozen
class ApiSpec:
    api: Api
    trigger_path: str
    status_template: str
    key_header: str
    number_field: str
    country_field: str
    encryptions: tuple[str, ...]
    sid_field: str
    """Where the trigger response puts the sid."""

    def status_path(self, sid: str) -> str:
        return self.status_template.format(sid=sid)

    def body(self, number: str = NUMBER, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {self.number_field: number}
        if self.api is Api.AGENTS:
            body["environment"] = "live"
        body.update(extra)
        return body


AGENTS = ApiSpec(
    api=Api.AGENTS,
    trigger_path=f"/v1/agents/{AGENT_ID}/telephony/outbound-calls",
    status_template=f"/v1/agents/{AGENT_ID}/telephony/outbound-calls/{{sid}}/status",
    key_header="X-API-KEY",
    number_field="toNumber",
    country_field="countryCode",
    encryptions=("tls_srtp", "tls_rtp", "udp_srtp", "udp_rtp"),
    sid_field="callSid",
)
PLATFORM = ApiSpec(
    api=Api.PLATFORM,
    trigger_path="/v1/outbound-calling",
    status_template="/v1/outbound-calling/{sid}/status",
    key_header="X-PolyAi-Auth-Token",
    number_field="to_number",
    country_field="country_code",
    encryptions=("TLS/SRTP", "TLS/RTP", "UDP/SRTP", "UDP/RTP"),
    sid_field="call_sid",
)
CONNECTOR = ApiSpec(
    api=Api.CONNECTOR,
    trigger_path=f"/api/v1/{ACCOUNT_ID}/{PROJECT_ID}/outbound-call/trigger",
    status_template=f"/api/v1/{ACCOUNT_ID}/{PROJECT_ID}/outbound-call/status/{{sid}}",
    key_header="X-CONNECTOR-ID",
    number_field="phone_number",
    country_field="country_code",
    encryptions=("TLS/SRTP", "TLS/RTP", "UDP/SRTP", "UDP/RTP"),
    sid_field="conversation_id",
)
SPECS = (AGENTS, PLATFORM, CONNECTOR)
SPEC_IDS = [spec.api.value for spec in SPECS]


@attrs.frozen
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def error_message(reply: Reply) -> str:
    """The human message of any of the four documented error shapes."""
    body = reply.json
    if "errors" in body:
        return " ".join(item["message"] for item in body["errors"])
    if "error_message" in body:
        return str(body["error_message"])
    error = body["error"]
    return str(error["message"]) if isinstance(error, dict) else str(error)


def error_code(reply: Reply) -> str | None:
    body = reply.json
    if "error_code" in body:
        return str(body["error_code"])
    error = body.get("error")
    if isinstance(error, dict):
        return str(error["code"])
    return str(body["code"]) if "code" in body else None


@attrs.define
class Harness:
    """A running sandbox, its manual clock, and a raw HTTP session to it."""

    sandbox: Sandbox
    clock: ManualClock
    session: aiohttp.ClientSession

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        async with self.session.request(
            method,
            self.sandbox.base_url + path,
            json=json_body,
            data=data,
            headers=headers,
            params=params,
        ) as response:
            return Reply(response.status, response.headers, await response.text())

    async def trigger(
        self, spec: ApiSpec, body: Any = None, *, key: str | None = KEY, path: str | None = None
    ) -> Reply:
        headers = {spec.key_header: key} if key is not None else {}
        return await self.request(
            "POST",
            path or spec.trigger_path,
            json_body=spec.body() if body is None else body,
            headers=headers,
        )

    async def place(self, spec: ApiSpec, number: str = NUMBER, **extra: Any) -> str:
        reply = await self.trigger(spec, spec.body(number, **extra))
        assert reply.status == 200, reply.text
        sid: str = reply.json[spec.sid_field]
        return sid

    async def status(
        self,
        spec: ApiSpec,
        sid: str,
        *,
        key: str | None = KEY,
        environment: str | None = "live",
        path: str | None = None,
    ) -> Reply:
        headers = {spec.key_header: key} if key is not None else {}
        params = {"environment": environment} if spec.api is Api.AGENTS and environment else None
        return await self.request(
            "GET", path or spec.status_path(sid), headers=headers, params=params
        )

    async def status_name(self, spec: ApiSpec, sid: str) -> str:
        reply = await self.status(spec, sid)
        assert reply.status == 200, reply.text
        name: str = reply.json["status"]
        return name
