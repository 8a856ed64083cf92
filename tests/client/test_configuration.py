"""Settings that cannot work are refused when the client is built, as ConfigurationError.

And the constructor documents every parameter it takes (``help(polyout.Client)``).
"""

from __future__ import annotations

import inspect
import math

import pytest

import polyout
from tests.client.servers import ScriptedAPI

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", True),
        ("max_retries", "3"),
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", NAN),
        ("timeout", INF),
        ("timeout", "5"),
        ("max_retry_wait", -1),
        ("max_retry_wait", NAN),
        ("max_retry_wait", INF),
        ("rate_limit", 0),
        ("rate_limit", -5),
        ("rate_limit", NAN),
        ("rate_limit", INF),
        ("max_connections", 0),
        ("max_connections", 2.5),
    ],
)
def test_bad_setting_is_a_configuration_error(setting: str, value: object) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        polyout.Client("platform", api_key="k", region="us", **{setting: value})  # type: ignore[arg-type]
    assert caught.value.setting == setting
    assert isinstance(caught.value, polyout.PolyOutError)
    assert str(caught.value).startswith(f"{setting}: ")


@pytest.mark.parametrize(
    "fields",
    [
        {"connect": 0},
        {"read": -1},
        {"total": NAN},
        {"read": INF},
        {"connect": 10, "total": 5},
    ],
)
def test_bad_timeout_object_is_a_configuration_error(fields: dict[str, float]) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        polyout.Timeout(**fields)
    assert caught.value.setting == "timeout"


def test_sane_settings_are_kept() -> None:
    client = polyout.Client(
        "platform", api_key="k", region="us", timeout=2.5, max_retries=0, rate_limit=0.5
    )
    assert client.timeout == polyout.Timeout(connect=2.5, read=2.5, total=2.5)
    assert client.retry_policy.max_retries == 0


@pytest.mark.parametrize(
    ("setting", "value"),
    [("poll_interval", 0), ("poll_interval", NAN), ("deadline", -1), ("deadline", NAN)],
)
async def test_bad_wait_for_call_arguments_are_refused_before_polling(
    api: ScriptedAPI, setting: str, value: float
) -> None:
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.ConfigurationError) as caught:
            await client.wait_for_call("OUT-1", **{setting: value})
    assert caught.value.setting == setting
    assert api.seen == []


def test_help_documents_every_constructor_parameter() -> None:
    doc = inspect.getdoc(polyout.Client) or ""
    for name in inspect.signature(polyout.Client).parameters:
        assert f"{name}:" in doc or f"``{name}``" in doc, name
    assert "deadline" in (inspect.getdoc(polyout.Client.wait_for_call) or "")
    assert "asyncio.wait_for" in (inspect.getdoc(polyout.Client.trigger_call) or "")
