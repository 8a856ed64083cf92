"""What differs between the three APIs: paths, credentials, field names, bodies, errors.

The request handling itself is shared (``_handlers``); each ``Dialect`` here only
says how its API spells things. Error shapes per API:

=========  ===========================================================
Agents     fields shape for validation, nested shape for everything else
Platform   envelope shape (``success: false`` …)
Connector  flat shape (``{"error", "code"}``)
=========  ===========================================================

Only the Agents API publishes a schema of its trigger body (an OpenAPI document, copied
in ``tests/sandbox/agents_openapi.yaml``): there it decides which bodies are accepted
(``TriggerSchema.typed``). The other two APIs document a list of fields in prose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._calls import Api, CallRecord
from ._errors import ApiError, envelope_body, fields_body, flat_body, nested_body
from ._lifecycle import (
    AGENTS_STATUS,
    CONNECTOR_END_STATUS,
    CONNECTOR_STATUS,
    Phase,
    failure_reason,
    iso_time,
)
from ._outcomes import Outcome
from ._validation import TriggerSchema

__all__ = ["AGENTS", "CONNECTOR", "DIALECTS", "PLATFORM", "Dialect", "dialect_for_path"]

# The Connector API has no environments; its status body still names one.
CONNECTOR_CLIENT_ENV = "live"

_PLATFORM_ENCRYPTIONS = ("TLS/SRTP", "TLS/RTP", "UDP/SRTP", "UDP/RTP")


@attrs.frozen
class Dialect:
    """How one API spells its requests, responses and errors."""

    api: Api
    trigger_path: str
    status_path: str
    credential_header: str
    credential_name: str
    path_ids: tuple[str, ...]
    """Path parameters that scope a call (a status request must repeat them)."""
    schema: TriggerSchema
    trigger_body: Callable[[CallRecord], dict[str, Any]]
    status_body: Callable[[CallRecord, float], dict[str, Any]]
    error_body: Callable[[ApiError, str], dict[str, Any]]

    @property
    def uses_environment(self) -> bool:
        return self.schema.environment is not None


def _status_and_reason(call: CallRecord, now: float, *, agents: bool) -> tuple[str, str]:
    """Status (Agents spelling) and reason; the Platform API lowercases the status."""
    phase = call.timeline.phase(now)
    if phase is not Phase.ENDED:
        return AGENTS_STATUS[phase], ""
    outcome = call.timeline.outcome
    status = "SUCCESS" if outcome is Outcome.COMPLETED else "FAILURE"
    return status, failure_reason(outcome, agents=agents)


def _agents_status(call: CallRecord, now: float) -> dict[str, Any]:
    status, reason = _status_and_reason(call, now, agents=True)
    return {"callSid": call.sid, "status": status, "reason": reason}


def _platform_status(call: CallRecord, now: float) -> dict[str, Any]:
    status, reason = _status_and_reason(call, now, agents=False)
    return {"status": status.lower(), "reason": reason}


def _connector_name(call: CallRecord, phase: Phase) -> str:
    if phase is Phase.ENDED:
        return CONNECTOR_END_STATUS[call.timeline.outcome]
    return CONNECTOR_STATUS[phase]


def _connector_status(call: CallRecord, now: float) -> dict[str, Any]:
    events = call.timeline.events(now)
    account_id, project_id = call.scope
    return {
        "call_sid": call.sid,
        "account_id": account_id,
        "project_id": project_id,
        "client_env": CONNECTOR_CLIENT_ENV,
        "connector_id": call.connector_id,
        "created_at": iso_time(call.timeline.placed_at),
        "status": _connector_name(call, events[-1][0]),
        "last_updated": iso_time(events[-1][1]),
        "event_history": [{_connector_name(call, phase): iso_time(at)} for phase, at in events],
    }


def _agents_error(error: ApiError, correlation_id: str) -> dict[str, Any]:
    if error.fields:
        return fields_body(error)
    return nested_body(error, correlation_id)


AGENTS = Dialect(
    api=Api.AGENTS,
    trigger_path="/v1/agents/{agent_id}/telephony/outbound-calls",
    status_path="/v1/agents/{agent_id}/telephony/outbound-calls/{call_sid}/status",
    credential_header="X-API-KEY",
    credential_name="API key",
    path_ids=("agent_id",),
    schema=TriggerSchema(
        number="toNumber",
        country_code="countryCode",
        encryptions=("tls_srtp", "tls_rtp", "udp_srtp", "udp_rtp"),
        environment="environment",
        variant="variantId",
        typed=True,
    ),
    trigger_body=lambda call: {"callSid": call.sid, "status": "QUEUED"},
    status_body=_agents_status,
    error_body=_agents_error,
)

PLATFORM = Dialect(
    api=Api.PLATFORM,
    trigger_path="/v1/outbound-calling",
    status_path="/v1/outbound-calling/{call_sid}/status",
    credential_header="X-PolyAi-Auth-Token",
    credential_name="authentication token",
    path_ids=(),
    schema=TriggerSchema(
        number="to_number", country_code="country_code", encryptions=_PLATFORM_ENCRYPTIONS
    ),
    trigger_body=lambda call: {"call_sid": call.sid},
    status_body=_platform_status,
    error_body=lambda error, _: envelope_body(error),
)

CONNECTOR = Dialect(
    api=Api.CONNECTOR,
    trigger_path="/api/v1/{account_id}/{project_id}/outbound-call/trigger",
    status_path="/api/v1/{account_id}/{project_id}/outbound-call/status/{call_sid}",
    # Header lookup is case-insensitive (aiohttp's CIMultiDict), as the API's is.
    credential_header="X-CONNECTOR-ID",
    credential_name="connector id",
    path_ids=("account_id", "project_id"),
    schema=TriggerSchema(
        number="phone_number", country_code="country_code", encryptions=_PLATFORM_ENCRYPTIONS
    ),
    trigger_body=lambda call: {"conversation_id": call.sid},
    status_body=_connector_status,
    error_body=lambda error, _: flat_body(error),
)

DIALECTS: tuple[Dialect, ...] = (AGENTS, PLATFORM, CONNECTOR)


def dialect_for_path(path: str) -> Dialect | None:
    """The API a path belongs to by its prefix, to answer unknown routes in its style."""
    if path.startswith("/v1/agents/"):
        return AGENTS
    if path.startswith("/v1/outbound-calling"):
        return PLATFORM
    if path.startswith("/api/v1/"):
        return CONNECTOR
    return None
