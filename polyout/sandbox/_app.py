"""The aiohttp application serving all three APIs and the admin routes at once."""

from __future__ import annotations

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
        response = _http_error(request, exc, value)
    response.headers[CORRELATION_HEADER] = value
    return response


def _http_error(request: web.Request, exc: web.HTTPException, value: str) -> web.Response:
    status = HTTPStatus(exc.status)
    error = ApiError(exc.status, status.name, f"{status.phrase}: {request.method} {request.path}")
    dialect = dialect_for_path(request.path)
    api = dialect.api.value if dialect is not None else None
    record_rejection(request, api, "route", error)
    body = dialect.error_body(error, value) if dialect is not None else flat_body(error)
    allow = exc.headers.get("Allow")
    return json_response(body, exc.status, {"Allow": allow} if allow else None)


def create_app(state: SandboxState) -> web.Application:
    """An application serving ``state``; run it with any aiohttp runner."""
    app = web.Application(middlewares=[_correlation])
    app[STATE] = state
    for dialect in DIALECTS:
        app.router.add_post(dialect.trigger_path, api_handler(dialect, "trigger"))
        app.router.add_get(dialect.status_path, api_handler(dialect, "status"))
    add_admin_routes(app)
    return app
