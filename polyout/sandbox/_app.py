"""The aiohttp application serving all three APIs and the admin routes at once."""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus

from aiohttp import web

from ._admin import add_admin_routes
from ._apis import DIALECTS, dialect_for_path
from ._errors import ApiError, flat_body
from ._handlers import (
    CORRELATION_HEADER,
    STATE,
    Handler,
    api_handler,
    correlation_id,
    json_response,
    record_rejection,
)
from ._state import SandboxState

__all__ = ["create_app"]

_log = logging.getLogger("polyout.sandbox")


@web.middleware
async def _correlation(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every response, errors and unknown routes included, a fresh correlation id."""
    value = str(uuid.uuid4())
    correlation_id.set(value)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # Unknown route, wrong method, body too large: answered by aiohttp, but
        # still in the style of the API the path belongs to.
        allow = exc.headers.get("Allow")
        response = _error(request, exc.status, value, {"Allow": allow} if allow else None)
    except Exception:
        # A sandbox bug must still look like a server error a client can log.
        _log.exception("sandbox error handling %s %s", request.method, request.path)
        response = _error(request, 500, value)
    response.headers[CORRELATION_HEADER] = value
    return response


def _error(
    request: web.Request, code: int, value: str, headers: dict[str, str] | None = None
) -> web.Response:
    status = HTTPStatus(code)
    error = ApiError(code, status.name, f"{status.phrase}: {request.method} {request.path}")
    dialect = dialect_for_path(request.path)
    api = dialect.api.value if dialect is not None else None
    record_rejection(request, api, "route", error)
    body = dialect.error_body(error, value) if dialect is not None else flat_body(error)
    return json_response(body, code, headers)


def create_app(state: SandboxState) -> web.Application:
    """An application serving ``state``; run it with any aiohttp runner."""
    app = web.Application(middlewares=[_correlation])
    app[STATE] = state
    for dialect in DIALECTS:
        app.router.add_post(dialect.trigger_path, api_handler(dialect, "trigger"))
        app.router.add_get(dialect.status_path, api_handler(dialect, "status"))
    add_admin_routes(app)
    return app
