"""Every error status becomes its exception, with everything a user needs to act on it."""

from __future__ import annotations

import pytest

import polyout
from tests.client.servers import Reply, ScriptedAPI

NUMBER = "+14155552671"


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [
        (400, polyout.BadRequestError),
        (401, polyout.AuthenticationError),
        (403, polyout.PermissionDeniedError),
        (404, polyout.NotFoundError),
        (409, polyout.APIStatusError),
        (422, polyout.APIStatusError),
    ],
)
async def test_client_errors_map_to_their_exception_and_are_not_retried(
    api: ScriptedAPI, status: int, exc_type: type[polyout.APIStatusError]
) -> None:
    api.script(Reply(status, {"error": "nope", "code": "X"}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(exc_type) as caught:
            await client.get_status("OUT-1")
    assert type(caught.value) is exc_type
    assert caught.value.status_code == status
    assert len(api.seen) == 1


async def test_server_errors_after_retries_are_server_errors(api: ScriptedAPI) -> None:
    api.script(*[Reply(503, {"error": "down"})] * 4)
    async with polyout.Client(
        "platform", api_key="k", base_url=api.base_url, max_retries=3
    ) as client:
        with pytest.raises(polyout.ServerError) as caught:
            await client.get_status("OUT-1")
    assert caught.value.status_code == 503
    assert len(api.seen) == 4


@pytest.mark.parametrize(
    ("body", "message", "code", "correlation_id"),
    [
        ({"error": "bad number", "code": "INVALID_NUMBER"}, "bad number", "INVALID_NUMBER", None),
        (
            {
                "success": False,
                "error": "short",
                "error_id": "e1",
                "error_code": "METADATA_TOO_LARGE",
                "error_message": "metadata exceeds 26 KB",
                "data": None,
            },
            "metadata exceeds 26 KB",
            "METADATA_TOO_LARGE",
            None,
        ),
        (
            {"error": {"code": "E42", "id": "i", "message": "deep", "correlation_id": "body-c"}},
            "deep",
            "E42",
            "body-c",
        ),
        (
            {"message": "Validation failed", "errors": [{"field": "to_number", "message": "bad"}]},
            "Validation failed (to_number: bad)",
            None,
            None,
        ),
    ],
)
async def test_documented_error_shapes_are_parsed(
    api: ScriptedAPI, body: object, message: str, code: str | None, correlation_id: str | None
) -> None:
    headers = {} if correlation_id is None else {"X-PolyAI-Correlation-Id": ""}
    api.script(Reply(400, body, headers=headers))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.BadRequestError) as caught:
            await client.trigger_call(NUMBER)
    error = caught.value
    assert error.message == message
    assert error.code == code
    assert error.correlation_id == (correlation_id or "corr-123")
    assert error.parsed == body
    assert error.method == "POST"
    assert error.path == "/v1/outbound-calling"
    assert message in str(error)


async def test_non_json_error_body_is_kept_and_summarised(api: ScriptedAPI) -> None:
    api.script(Reply(403, raw=b"<html><body>\n  Forbidden   by proxy</body></html>"))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.PermissionDeniedError) as caught:
            await client.get_status("OUT-1")
    assert caught.value.body.startswith("<html>")
    assert caught.value.message == "<html><body> Forbidden by proxy</body></html>"
    assert caught.value.parsed is None
    assert "correlation id corr-123" in str(caught.value)


async def test_empty_error_body_still_explains(api: ScriptedAPI) -> None:
    api.script(Reply(401, raw=b""))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.AuthenticationError, match="HTTP 401"):
            await client.get_status("OUT-1")


async def test_status_404_for_unknown_call(api: ScriptedAPI) -> None:
    api.script(Reply(404, {"error": "call not found"}))
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.NotFoundError, match="call not found"):
            await client.get_status("OUT-gone")


async def test_every_exception_is_a_polyout_error() -> None:
    for name in polyout.__all__:
        value = getattr(polyout, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, polyout.PolyOutError)
