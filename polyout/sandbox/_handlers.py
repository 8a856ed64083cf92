"""The trigger and status endpoints, shared by the three APIs (``_apis`` spells them).

A trigger goes through, in order: authentication, reading the body, injected
latency, the rate limit, validation, the environment check, the 502/500 faults,
placement, and maybe a cut connection. Nothing from the rate-limit check to the
placement awaits, so concurrent requests cannot both take the last free slot.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any

from aiohttp import web

from ._apis import Dialect
from ._errors import ApiError
from ._faults import TriggerFault
from ._ledger import Placement, Rejection
from ._lifecycle import Timeline
from ._ratelimit import SlidingWindow, retry_after_headers
from ._state import SandboxState
from ._validation import FieldError, TriggerRequest, check_environment, validate_trigger

__all__ = [
    "CORRELATION_HEADER",
    "STATE",
    "api_handler",
    "correlation_id",
    "json_response",
    "record_rejection",
]

CORRELATION_HEADER = "X-PolyAI-Correlation-Id"
STATE = web.AppKey("polyout_sandbox_state", SandboxState)

# Set by the app's middleware for each request (each runs in a task of its own).
correlation_id: ContextVar[str] = ContextVar("polyout_sandbox_correlation_id")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def record_rejection(
    request: web.Request, api: str | None, endpoint: str, error: ApiError, number: str | None = None
) -> None:
    request.app[STATE].ledger.record_rejection(
        Rejection(
            api=api,
            endpoint=endpoint,
            status=error.status,
            code=error.code,
            reason=error.detail,
            number=number,
            sid=request.match_info.get("call_sid"),
            wall_time=time.time(),
            correlation_id=correlation_id.get(),
        )
    )


class _Seen:
    """What a request revealed before it was refused: the ledger records it."""

    __slots__ = ("number",)

    def __init__(self) -> None:
        self.number: str | None = None


def api_handler(dialect: Dialect, endpoint: str) -> Handler:
    """The route handler of one endpoint of one API, answering errors in its style."""
    serve = _trigger if endpoint == "trigger" else _status

    async def handle(request: web.Request) -> web.StreamResponse:
        seen = _Seen()
        try:
            return await serve(request, dialect, seen)
        except ApiError as error:
            record_rejection(request, dialect.api.value, endpoint, error, seen.number)
            body = dialect.error_body(error, correlation_id.get())
            return json_response(body, error.status, error.headers)

    return handle


def _authenticate(request: web.Request, dialect: Dialect, state: SandboxState) -> str:
    credential = request.headers.get(dialect.credential_header, "")
    config = state.config
    # A forbidden key is a real key without the permission: known, so not a 401.
    if credential in config.forbidden_keys:
        message = f"insufficient permissions for this {dialect.credential_name}"
        raise ApiError(403, "FORBIDDEN", message)
    if not credential.strip() or (config.api_key is not None and credential != config.api_key):
        header = dialect.credential_header
        message = f"missing or invalid {dialect.credential_name} (header {header})"
        raise ApiError(401, "UNAUTHORIZED", message)
    return credential


def _check_rate(window: SlidingWindow | None, key: object, now: float, what: str) -> None:
    if window is None:
        return
    wait = window.wait(key, now)
    if wait > 0.0:
        message = f"rate limit exceeded: at most {window.limit} {what} per second"
        raise ApiError(429, "RATE_LIMITED", message, headers=retry_after_headers(wait))


def _check_connector(dialect: Dialect, state: SandboxState, environment: str | None) -> None:
    if dialect.uses_environment and environment not in state.config.environments:
        raise ApiError(
            404, "CONNECTOR_NOT_FOUND", "No connector found for the specified environment"
        )


async def _delay(seconds: float) -> None:
    if seconds > 0.0:
        await asyncio.sleep(seconds)


def _parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        raise ApiError(400, "INVALID_JSON", "request body is not valid JSON") from None


async def _trigger(request: web.Request, dialect: Dialect, seen: _Seen) -> web.StreamResponse:
    state = request.app[STATE]
    credential = _authenticate(request, dialect, state)
    raw = await request.read()
    await _delay(state.faults.trigger_latency())
    # From here to the placement nothing awaits (see the module docstring).
    rate_key = (dialect.api, credential)
    real_now = state.clock.monotonic()
    _check_rate(state.trigger_window, rate_key, real_now, "calls")
    body = _parse_body(raw)
    number = body.get(dialect.schema.number) if isinstance(body, dict) else None
    seen.number = number if isinstance(number, str) else None
    checked = validate_trigger(body, dialect.schema)
    if isinstance(checked, list):
        raise ApiError.invalid(checked)
    _check_connector(dialect, state, checked.environment)

    fault = state.faults.next_trigger()
    if fault is TriggerFault.ERROR_502:
        raise ApiError(502, "SERVICE_UNAVAILABLE", "outbound calling service unavailable")
    if fault is TriggerFault.ERROR_500:
        raise ApiError(500, "CALL_PLACEMENT_FAILED", "failed to place the outbound call")

    call = state.place_call(
        dialect.api, _scope(request, dialect, checked.environment), checked.number, credential
    )
    if state.trigger_window is not None:
        state.trigger_window.record(rate_key, real_now)
    cut = fault is TriggerFault.CUT
    state.ledger.record_placement(
        _placement(request, dialect, checked, call.sid, call.timeline, cut)
    )
    if cut:
        return _drop_connection(request)
    return json_response(dialect.trigger_body(call))


def _placement(
    request: web.Request,
    dialect: Dialect,
    checked: TriggerRequest,
    sid: str,
    timeline: Timeline,
    cut: bool,
) -> Placement:
    ids = request.match_info
    return Placement(
        sid=sid,
        api=dialect.api.value,
        number=checked.number,
        metadata=checked.metadata,
        encryption=checked.encryption,
        outcome=timeline.outcome.value,
        environment=checked.environment,
        agent_id=ids.get("agent_id"),
        variant_id=checked.variant_id,
        account_id=ids.get("account_id"),
        project_id=ids.get("project_id"),
        wall_time=time.time(),
        simulated_time=timeline.placed_at,
        correlation_id=correlation_id.get(),
        cut=cut,
    )


def _scope(request: web.Request, dialect: Dialect, environment: str | None) -> tuple[str, ...]:
    ids = tuple(request.match_info[name] for name in dialect.path_ids)
    return (*ids, environment) if dialect.uses_environment and environment else ids


def _drop_connection(request: web.Request) -> web.StreamResponse:
    """Close the TCP connection without answering: the call is placed, the client can't know."""
    transport = request.transport
    if transport is not None:
        # abort() discards unsent data and closes at once (no FIN-after-flush).
        transport.abort()
    # aiohttp now fails to write this response, takes it for a client that went
    # away, and drops the connection without logging an error.
    return web.Response(status=200)


async def _status(request: web.Request, dialect: Dialect, _: _Seen) -> web.StreamResponse:
    state = request.app[STATE]
    credential = _authenticate(request, dialect, state)
    await _delay(state.faults.status_latency())
    if state.status_window is not None:
        rate_key = (dialect.api, credential)
        real_now = state.clock.monotonic()
        _check_rate(state.status_window, rate_key, real_now, "status requests")
        state.status_window.record(rate_key, real_now)

    sid = request.match_info["call_sid"]
    errors: list[FieldError] = []
    if not sid.startswith("OUT-"):
        field = "callSid" if dialect.uses_environment else "call_sid"
        errors.append(
            FieldError(
                field, f"invalid call sid {sid!r}: call sids start with OUT-", "INVALID_CALL_SID"
            )
        )
    environment = None
    if dialect.uses_environment:
        environment = check_environment(request.query.get("environment"), "environment", errors)
    if errors:
        raise ApiError.invalid(errors)
    _check_connector(dialect, state, environment)

    code = state.faults.next_status()
    if code is not None:
        raise _status_fault(code)

    now = state.clock.now()
    call = state.calls.find(sid, dialect.api, _scope(request, dialect, environment), now)
    if call is None:
        message = f"call {sid} not found (unknown, or its status expired after the call ended)"
        raise ApiError(404, "CALL_NOT_FOUND", message)
    return json_response(dialect.status_body(call, now))


def _status_fault(code: int) -> ApiError:
    if code == 500:
        return ApiError(500, "INTERNAL_ERROR", "failed to get the call status")
    return ApiError(code, "SERVICE_UNAVAILABLE", "outbound calling service unavailable")
