"""The three outbound calling APIs: where to send, how to spell it, how to read the answer.

Each dialect is pure data and pure functions: no I/O, so the client stays one code path.

Status mapping (the server's word, compared case-insensitively, ``-`` read as ``_``):

    =====================  ==============  ===============  =====================
    polyout CallState      Agents API      Platform API     Connector API
    =====================  ==============  ===============  =====================
    queued                 QUEUED          queued           CREATED, queued
    calling                CALLING         calling          ringing
    in_progress            -               -                in-progress
    success                SUCCESS         success          completed
    failure                FAILURE         failure          failed
    no_answer              -               -                no-answer
    busy                   -               -                busy
    cancelled              -               -                cancelled
    unknown (not final)    anything else   anything else    anything else
    =====================  ==============  ===============  =====================

The table is shared: a status one API documents is understood from the others too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

import attrs

from polyout._errors import ValidationError
from polyout._models import CallRequest, CallState, Encryption

__all__ = [
    "API_NAMES",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_DEADLINE",
    "ENVIRONMENTS",
    "Dialect",
    "dialect_for",
    "state_from_raw",
]

ApiName = Literal["agents", "platform", "connector"]
API_NAMES: tuple[ApiName, ...] = ("agents", "platform", "connector")
ENVIRONMENTS = ("sandbox", "pre-release", "live")

_STATES: dict[str, CallState] = {
    "created": CallState.QUEUED,
    "queued": CallState.QUEUED,
    "calling": CallState.CALLING,
    "ringing": CallState.CALLING,
    "in_progress": CallState.IN_PROGRESS,
    "success": CallState.SUCCESS,
    "completed": CallState.SUCCESS,
    "failure": CallState.FAILURE,
    "failed": CallState.FAILURE,
    "no_answer": CallState.NO_ANSWER,
    "busy": CallState.BUSY,
    "cancelled": CallState.CANCELLED,
    "canceled": CallState.CANCELLED,
}


#: Status data disappears about two hours after a call ends; stop well before that.
DEFAULT_WAIT_DEADLINE = 2 * 3600 - 10 * 60
#: The Platform docs suggest polling every 2 to 5 seconds.
DEFAULT_POLL_INTERVAL = 3.0


def state_from_raw(raw_status: object) -> CallState:
    """Map a server status to a CallState; anything unexpected is ``UNKNOWN`` (not final)."""
    if not isinstance(raw_status, str):
        return CallState.UNKNOWN
    state = _STATES.get(raw_status)  # the documented lower-case words: nearly every answer
    if state is not None:
        return state
    key = raw_status.strip().lower().replace("-", "_").replace(" ", "_")
    return _STATES.get(key, CallState.UNKNOWN)


_PLATFORM_HOSTS = {
    "us-1": "https://api.us-1.platform.polyai.app",
    "uk-1": "https://api.uk-1.platform.polyai.app",
    "euw-1": "https://api.euw-1.platform.polyai.app",
}
_PLATFORM_REGION_ALIASES = {"us": "us-1", "uk": "uk-1", "eu": "euw-1", "euw": "euw-1"}
_AGENTS_HOSTS = {region: f"https://api.{region}.poly.ai" for region in ("us", "eu", "uk", "studio")}
_AGENTS_REGION_ALIASES = {"us-1": "us", "uk-1": "uk", "euw-1": "eu", "euw": "eu"}

_PLATFORM_ENCRYPTION = {
    Encryption.TLS_SRTP: "TLS/SRTP",
    Encryption.TLS_RTP: "TLS/RTP",
    Encryption.UDP_SRTP: "UDP/SRTP",
    Encryption.UDP_RTP: "UDP/RTP",
}


@attrs.frozen
class Dialect:
    """How one API spells a trigger and a status, given the client's account settings."""

    name: ApiName
    auth_header: str
    sid_key: str
    agent_id: str | None = None
    environment: str | None = None
    account_id: str | None = None
    project_id: str | None = None

    # -- where -------------------------------------------------------------------------
    def trigger_path(self) -> str:
        if self.name == "agents":
            return f"/v1/agents/{_seg(self.agent_id)}/telephony/outbound-calls"
        if self.name == "platform":
            return "/v1/outbound-calling"
        return f"/api/v1/{_seg(self.account_id)}/{_seg(self.project_id)}/outbound-call/trigger"

    def status_path(self, call_sid: str) -> str:
        before, after = self.status_path_around()
        return before + _seg(call_sid) + after

    def status_path_around(self) -> tuple[str, str]:
        """What comes before and after the (URL-safe) sid in a status path."""
        if self.name == "agents":
            return f"/v1/agents/{_seg(self.agent_id)}/telephony/outbound-calls/", "/status"
        if self.name == "platform":
            return "/v1/outbound-calling/", "/status"
        return f"/api/v1/{_seg(self.account_id)}/{_seg(self.project_id)}/outbound-call/status/", ""

    def status_params(self) -> dict[str, str]:
        # The Agents API needs the trigger's environment to find the call again.
        return {"environment": str(self.environment)} if self.name == "agents" else {}

    # -- what --------------------------------------------------------------------------
    def trigger_body(self, request: CallRequest) -> dict[str, Any]:
        if request.variant_id is not None and self.name != "agents":
            raise ValidationError("variant_id", "is only supported by the Agents API")
        body: dict[str, Any]
        if self.name == "agents":
            body = {"toNumber": request.to_number, "environment": self.environment}
            if request.variant_id is not None:
                body["variantId"] = request.variant_id
            if request.encryption is not None:
                body["encryption"] = request.encryption.value
        else:
            number_key = "to_number" if self.name == "platform" else "phone_number"
            body = {number_key: request.to_number}
            if request.encryption is not None:
                body["encryption"] = _PLATFORM_ENCRYPTION[request.encryption]
        if request.metadata:
            body["metadata"] = dict(request.metadata)
        return body

    # -- reading answers ---------------------------------------------------------------
    def sid_from_trigger(self, body: object) -> str | None:
        """The call sid in a trigger answer, under this API's key or any API's (tolerant)."""
        if not (type(body) is dict or isinstance(body, Mapping)):  # the ABC check is slow
            return None
        value = body.get(self.sid_key)  # nearly every answer: no tuple of keys to make
        if isinstance(value, str) and value:
            return value
        for key in _SID_KEYS:
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    def raw_status(self, body: Mapping[str, Any]) -> object:
        return body.get("status")

    def reason(self, body: Mapping[str, Any]) -> str | None:
        reason = body.get("reason")
        if isinstance(reason, str):
            return reason
        if self.name == "connector":
            # The Connector API has no reason field: its final status says why.
            status = body.get("status")
            return status if isinstance(status, str) else None
        return None


_SID_KEYS = ("callSid", "call_sid", "conversation_id")


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]+")


def _seg(value: str | None) -> str:
    """One URL path segment; ids never get to add path structure."""
    text = str(value)
    return text if _URL_SAFE.fullmatch(text) else quote(text, safe="")


def dialect_for(
    api: str,
    *,
    agent_id: str | None,
    environment: str | None,
    account_id: str | None,
    project_id: str | None,
) -> Dialect:
    """The dialect for ``api``, or ValidationError naming the setting that is missing."""
    if api == "agents":
        _require("agent_id", agent_id, "the Agents API (it is the project id, PROJECT-…)")
        if environment not in ENVIRONMENTS:
            raise ValidationError("environment", f"must be one of {', '.join(ENVIRONMENTS)}")
        return Dialect("agents", "X-API-KEY", "callSid", agent_id=agent_id, environment=environment)
    if api == "platform":
        return Dialect("platform", "X-PolyAi-Auth-Token", "call_sid")
    if api == "connector":
        _require("account_id", account_id, "the Connector API")
        _require("project_id", project_id, "the Connector API")
        return Dialect(
            "connector",
            "X-CONNECTOR-ID",
            "conversation_id",
            account_id=account_id,
            project_id=project_id,
        )
    raise ValidationError("api", f"{api!r} is not one of {', '.join(API_NAMES)}")


def _require(name: str, value: str | None, who: str) -> None:
    if not value or not isinstance(value, str) or not value.strip():
        raise ValidationError(name, f"is required by {who}")
    if value.strip(".") == "":
        # URLs normalise dot segments away (even percent-encoded), changing the path.
        raise ValidationError(name, "cannot be made of dots only")


def base_url_for(api: str, region: str) -> str:
    """The documented host of ``api`` in ``region`` (a few familiar aliases accepted)."""
    wanted = region.strip().lower()
    if api == "agents":
        hosts, aliases = _AGENTS_HOSTS, _AGENTS_REGION_ALIASES
    else:
        hosts, aliases = _PLATFORM_HOSTS, _PLATFORM_REGION_ALIASES
    key = aliases.get(wanted, wanted)
    if key not in hosts:
        raise ValidationError("region", f"{region!r} is not one of {', '.join(hosts)} for {api}")
    return hosts[key]
