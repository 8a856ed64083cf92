"""Fixtures: a sandbox on 127.0.0.1 sharing a fast clock with the campaign under test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from polyout._campaign._clock import ScaledClock
from polyout.sandbox import Sandbox, SandboxConfig

from .helpers import SCALE, Rig, client_for

StartRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def start_rig(tmp_path: Path) -> AsyncIterator[StartRig]:
    """``await start_rig(api=..., start=..., scale=..., **sandbox settings)``; all closed after.

    ``start`` sets the campaign clock's first instant (for calling windows); the sandbox
    keeps its own simulated time, which only measures how long its calls last.
    """
    async with contextlib.AsyncExitStack() as stack:
        count = 0

        async def start(
            *,
            api: str = "agents",
            start: datetime | None = None,
            scale: float = SCALE,
            config: SandboxConfig | None = None,
            **settings: Any,
        ) -> Rig:
            nonlocal count
            count += 1
            if config is None:
                config = SandboxConfig(outcomes="last-digit", time_scale=scale, **settings)
            sandbox = await stack.enter_async_context(Sandbox(config))
            client = await stack.enter_async_context(client_for(api, sandbox.base_url))
            clock = ScaledClock(start, scale=scale)
            return Rig(sandbox, client, clock, tmp_path / f"journal-{count}.db")

        yield start
