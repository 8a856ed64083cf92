"""The ``polyout`` command in a child process, what an operator must read when it fails,
and a campaign stopped part-way to break.

Shared by the tests that break the journal from outside (a full or read-only disk,
scribbled values): each runs the command as an operator would, against the sandbox, with
a bound on time so that a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs

from polyout import Campaign, Client, EventKind
from polyout._cli._errors import ExitCode
from tests.cli.conftest import AGENT_ID, API_KEY, subprocess_env

__all__ = ["Finished", "client_for", "one_error_line", "polyout", "stop_after_the_first_call"]


@attrs.frozen
class Finished:
    """A command that ended by itself within its time (``hung``: it had to be killed)."""

    code: int
    err: str
    out: str
    hung: bool = False


def polyout(base_url: str, *argv: str, within: float = 30.0) -> Finished:
    """``polyout ARGV`` in a child process, connected to the sandbox at ``base_url``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "polyout", *argv],
        env=subprocess_env(base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return Finished(process.returncode, err, out, hung=True)
    return Finished(process.returncode, err, out)


def client_for(base_url: str) -> Client:
    """The connection the command builds from ``subprocess_env``: a resume checks it is the same."""
    return Client(
        "agents", api_key=API_KEY, base_url=base_url, agent_id=AGENT_ID, environment="sandbox"
    )


def one_error_line(done: Finished) -> str:
    """The one line a failed command says, progress lines aside; never a traceback."""
    assert not done.hung, f"the command hung:\n{done.err}"
    assert "Traceback" not in done.err, done.err
    assert done.code != ExitCode.INTERNAL, done.err
    said = [line for line in done.err.splitlines() if line and not line.startswith("[")]
    assert len(said) == 1, f"one line expected:\n{done.err}"
    assert said[0].startswith("polyout: error: "), done.err
    return said[0]


def stop_after_the_first_call(base_url: str, contacts: Path, journal: Path, **options: Any) -> None:
    """Run a campaign until its first call is placed, then stop it: the rest stay scheduled."""

    async def run() -> None:
        async with client_for(base_url) as client:
            # One call a second: the others are still scheduled when it is placed.
            campaign = Campaign(
                client, contacts, journal=journal, rate=1.0, poll_interval=0.05, **options
            )
            events = campaign.events()

            async def stop_at_the_first_call() -> None:
                async for event in events:
                    if event.kind is EventKind.PLACED:
                        campaign.stop()

            stopping = asyncio.create_task(stop_at_the_first_call())
            await campaign.run()
            await stopping

    asyncio.run(run())
