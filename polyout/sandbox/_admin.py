"""The tester's side door: ``/_sandbox/...`` routes, a prefix no PolyAI API uses.

Unauthenticated on purpose: the sandbox binds to loopback and holds no secrets.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from aiohttp import web

from ._config import SandboxConfig
from ._handlers import STATE, json_response
from ._lifecycle import iso_time

__all__ = ["ADMIN_PREFIX", "add_admin_routes", "config_json"]

ADMIN_PREFIX = "/_sandbox"


def config_json(config: SandboxConfig, seed: int) -> dict[str, Any]:
    """The config as JSON, with the seed actually in use and the API key masked."""

    def serialise(_: object, field: attrs.Attribute[Any] | None, value: Any) -> Any:
        if field is not None and field.name == "api_key":
            return None if value is None else "(set)"
        if field is not None and field.name == "forbidden_keys":
            return len(value)
        if isinstance(value, (set, frozenset)):
            return sorted(value)
        return value

    data = attrs.asdict(config, value_serializer=serialise)
    data["seed"] = seed
    return data


async def _ledger(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].ledger.to_json())


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return json_response({"reset": True})


async def _config(request: web.Request) -> web.Response:
    state = request.app[STATE]
    data = config_json(state.config, state.seed)
    data["now"] = iso_time(state.clock.now())
    data["calls_remembered"] = len(state.calls)
    return json_response(data)


async def _advance(request: web.Request) -> web.Response:
    """Move simulated time forward: ``{"seconds": 600}``."""
    state = request.app[STATE]
    try:
        seconds = json.loads(await request.read())["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(seconds)
        state.clock.advance(float(seconds))
    except (ValueError, KeyError, TypeError):
        body = {"error": 'expected {"seconds": N} with N >= 0', "code": "INVALID_BODY"}
        return json_response(body, 400)
    return json_response({"now": iso_time(state.clock.now())})


async def _call(request: web.Request) -> web.Response:
    """What the sandbox knows about one call, whichever API placed it."""
    state = request.app[STATE]
    sid = request.match_info["call_sid"]
    call = state.calls.get(sid)
    if call is None:
        return json_response({"error": f"no call {sid} remembered", "code": "CALL_NOT_FOUND"}, 404)
    now = state.clock.now()
    timeline = call.timeline
    return json_response(
        {
            "sid": call.sid,
            "api": call.api.value,
            "scope": list(call.scope),
            "number": call.number,
            "outcome": timeline.outcome.value,
            "phase": timeline.phase(now).name.lower(),
            "placed_at": iso_time(timeline.placed_at),
            "ended_at": iso_time(timeline.ended_at),
            "expires_at": iso_time(timeline.expires_at),
            "expired": now >= timeline.expires_at,
        }
    )


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get(f"{ADMIN_PREFIX}/ledger", _ledger)
    app.router.add_post(f"{ADMIN_PREFIX}/reset", _reset)
    app.router.add_get(f"{ADMIN_PREFIX}/config", _config)
    app.router.add_post(f"{ADMIN_PREFIX}/advance", _advance)
    app.router.add_get(f"{ADMIN_PREFIX}/calls/{{call_sid}}", _call)
