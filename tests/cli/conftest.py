"""Fixtures for the ``polyout`` command: a sandbox on 127.0.0.1 in a background thread.

The command runs its own event loop (``asyncio.run``), in this process through
``main([...])`` or in a child process, so the sandbox serves from another thread with
a loop of its own. Calls run 600 simulated seconds per real second: a call's two
minutes of queueing, ringing and talking take a fifth of a second.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs
import pytest

from polyout._cli import main
from polyout.sandbox import Sandbox, SandboxConfig

API_KEY = "cli-test-key-0123456789"
AGENT_ID = "PROJECT-CLI"
TIME_SCALE = 600.0


class SandboxThread:
    """A started sandbox serving from its own thread until :meth:`stop`."""

    def __init__(self, config: SandboxConfig) -> None:
        self._started: Future[Sandbox] = Future()
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="sandbox", daemon=True)
        self._config = config
        self._thread.start()
        self.sandbox = self._started.result(timeout=10)
        self.base_url = self.sandbox.base_url

    def _serve(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        try:
            async with Sandbox(self._config) as sandbox:
                self._started.set_result(sandbox)
                await self._stopping.wait()
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            raise

    def placements(self) -> int:
        return len(self.sandbox.ledger.placements)

    def stop(self) -> None:
        assert self._stopping is not None
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)


def start_sandbox(**overrides: Any) -> SandboxThread:
    config = SandboxConfig(outcomes="last-digit", api_key=API_KEY, time_scale=TIME_SCALE, seed=1)
    return SandboxThread(attrs.evolve(config, **overrides))


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxThread]:
    """A sandbox, with the environment pointing the command at it (key and agent id)."""
    running = start_sandbox()
    for name, value in connection_env(running.base_url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POLYOUT_LOG", raising=False)
    monkeypatch.delenv("POLYOUT_API", raising=False)
    yield running
    running.stop()


def connection_env(base_url: str) -> dict[str, str]:
    return {
        "POLYAI_API_KEY": API_KEY,
        "POLYAI_BASE_URL": base_url,
        "POLYAI_AGENT_ID": AGENT_ID,
        "POLYAI_ENVIRONMENT": "sandbox",
    }


@attrs.frozen
class Result:
    code: int
    out: str
    err: str


def run_polyout(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``polyout ARGV`` in this process."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def subprocess_env(base_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYAI_", "POLYOUT_"))}
    if base_url is not None:
        env.update(connection_env(base_url))
    # The child imports polyout from this checkout, as the tests do.
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    return env


def spawn_polyout(
    *argv: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "polyout", *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_dialling(process: subprocess.Popen[str]) -> None:
    """Read the child's plain progress lines until one shows a call placed."""
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("[") and "dialled " in line and "dialled 0 " not in line:
            return


@pytest.fixture
def slow_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxThread]:
    """Calls last about two seconds (the sandbox at 30x): in flight when a command comes.
    The connection settings are in this process's environment, for ``main``."""
    running = start_sandbox(time_scale=30.0)
    env = subprocess_env(running.base_url)
    for name in ("POLYAI_API_KEY", "POLYAI_BASE_URL", "POLYAI_AGENT_ID", "POLYAI_ENVIRONMENT"):
        monkeypatch.setenv(name, env[name])
    yield running
    running.stop()
