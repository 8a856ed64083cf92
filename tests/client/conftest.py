from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.client.servers import ScriptedAPI, scripted_api


@pytest.fixture
async def api() -> AsyncIterator[ScriptedAPI]:
    async with scripted_api() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_polyai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POLYAI_API_KEY", "POLYAI_BASE_URL", "POLYOUT_LOG"):
        monkeypatch.delenv(name, raising=False)
