"""Construction, settings, session ownership and the closed state."""

from __future__ import annotations

import aiohttp
import pytest

import polyout
from tests.client.servers import ScriptedAPI


@pytest.mark.parametrize(
    ("api", "kwargs", "field"),
    [
        ("agents", {}, "agent_id"),
        ("agents", {"agent_id": "P", "environment": "prod"}, "environment"),
        ("connector", {"account_id": "a"}, "project_id"),
        ("connector", {"project_id": "p"}, "account_id"),
        ("skype", {}, "api"),
    ],
)
def test_missing_settings_fail_at_construction(
    api: str, kwargs: dict[str, str], field: str
) -> None:
    with pytest.raises(polyout.ValidationError) as caught:
        polyout.Client(api, api_key="k", region="us", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_api_key_is_required() -> None:
    with pytest.raises(polyout.ValidationError, match="POLYAI_API_KEY"):
        polyout.Client("platform", region="us-1")


def test_api_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYAI_API_KEY", "from-env")
    monkeypatch.setenv("POLYAI_BASE_URL", "http://127.0.0.1:9/")
    client = polyout.Client("platform")
    assert client.base_url == "http://127.0.0.1:9"
    assert client._sender._api_key.reveal() == "from-env"


@pytest.mark.parametrize(
    ("api", "region", "url"),
    [
        ("agents", "us", "https://api.us.poly.ai"),
        ("agents", "EU", "https://api.eu.poly.ai"),
        ("agents", "uk", "https://api.uk.poly.ai"),
        ("agents", "studio", "https://api.studio.poly.ai"),
        ("platform", "us-1", "https://api.us-1.platform.polyai.app"),
        ("platform", "uk", "https://api.uk-1.platform.polyai.app"),
        ("platform", "euw-1", "https://api.euw-1.platform.polyai.app"),
        ("connector", "eu", "https://api.euw-1.platform.polyai.app"),
    ],
)
def test_regions_map_to_documented_hosts(api: str, region: str, url: str) -> None:
    client = polyout.Client(
        api,  # type: ignore[arg-type]
        api_key="k",
        region=region,
        agent_id="P",
        account_id="a",
        project_id="p",
    )
    assert client.base_url == url


def test_unknown_region_lists_the_choices() -> None:
    with pytest.raises(polyout.ValidationError, match="us-1, uk-1, euw-1"):
        polyout.Client("platform", api_key="k", region="mars")


def test_base_url_or_region_is_required() -> None:
    with pytest.raises(polyout.ValidationError, match="region= or base_url="):
        polyout.Client("platform", api_key="k")


def test_base_url_must_be_http() -> None:
    with pytest.raises(polyout.ValidationError, match="https://"):
        polyout.Client("platform", api_key="k", base_url="ftp://example.invalid")


@pytest.mark.parametrize(
    "url",
    [
        "http://ops:pw-secret@127.0.0.1:99999",
        "http://ops:pw-secret@[::1",
        "http://",
        "https://api.example.invalid/?x=1",
    ],
)
def test_unusable_base_url_is_refused_at_construction(url: str) -> None:
    # Refused later, each trigger would fail as "may have been placed".
    with pytest.raises(polyout.ValidationError) as caught:
        polyout.Client("platform", api_key="k", base_url=url)
    assert caught.value.field == "base_url"
    assert "pw-secret" not in str(caught.value)


async def test_closed_client_says_so(api: ScriptedAPI) -> None:
    client = polyout.Client("platform", api_key="k", base_url=api.base_url)
    async with client:
        await client.get_status("OUT-1")
    assert "closed" in repr(client)
    with pytest.raises(polyout.ClientClosedError, match="closed"):
        await client.get_status("OUT-1")
    with pytest.raises(polyout.ClientClosedError):
        async with client:
            pass
    await client.aclose()  # closing twice is harmless


async def test_client_works_without_context_manager(api: ScriptedAPI) -> None:
    client = polyout.Client("platform", api_key="k", base_url=api.base_url)
    assert "unopened" in repr(client)
    await client.get_status("OUT-1")
    assert client._holder.session is not None
    session = client._holder.session
    await client.aclose()
    assert session.closed


async def test_caller_owned_session_is_used_and_never_closed(api: ScriptedAPI) -> None:
    async with aiohttp.ClientSession(headers={"X-Caller": "mine"}) as session:
        async with polyout.Client(
            "platform", api_key="k", base_url=api.base_url, session=session
        ) as client:
            await client.get_status("OUT-1")
        assert not session.closed
        assert api.seen[0].headers["X-Caller"] == "mine"


def test_bad_numeric_settings_are_refused() -> None:
    with pytest.raises(polyout.ConfigurationError, match="max_retries"):
        polyout.Client("platform", api_key="k", region="us", max_retries=-1)
    with pytest.raises(polyout.ConfigurationError, match="more than zero"):
        polyout.Client("platform", api_key="k", region="us", timeout=0)
    with pytest.raises(polyout.ConfigurationError, match="connect"):
        polyout.Timeout(connect=10, total=5)
