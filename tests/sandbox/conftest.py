"""Fixtures: a sandbox on 127.0.0.1 with a manual clock, and a raw aiohttp session to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from polyout.sandbox import ManualClock, Sandbox, SandboxConfig

from .harness import Harness

StartSandbox = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def start() -> AsyncIterator[StartSandbox]:
    """Start sandboxes (``await start(config)``); all are closed after the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def _start(config: SandboxConfig | None = None, **kwargs: object) -> Harness:
            if config is None:
                config = SandboxConfig(outcomes="last-digit", **kwargs)  # type: ignore[arg-type]
            clock = ManualClock()
            sandbox = await stack.enter_async_context(Sandbox(config, clock=clock))
            session = await stack.enter_async_context(aiohttp.ClientSession())
            return Harness(sandbox, clock, session)

        yield _start


@pytest.fixture
async def harness(start: StartSandbox) -> Harness:
    """A sandbox with the default settings and the last-digit outcome rule."""
    return await start()
