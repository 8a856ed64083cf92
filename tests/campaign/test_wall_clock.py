"""Calling windows hold when the wall clock steps or the machine sleeps.

Issue 17 item 4: ``SystemClock`` read the wall clock once and then added the monotonic
clock, which stops during a suspend and never sees an NTP step. A VM that slept at
19:55 and woke at 03:00 dialled at 3 am. The window is now checked against the wall
clock at the moment of each intent, and a long sleep wakes to look at it again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import polyout
import polyout.campaign
from polyout.sandbox import Sandbox, SandboxConfig

from .helpers import AGENT_ID, contacts

_NINE_57 = datetime(2025, 3, 4, 9, 57, tzinfo=ZoneInfo("America/New_York")).timestamp()
_STEP = 14 * 3600.0  # to 23:57, hours after the window closed


class _SteppingClock:
    """Real time from 09:57 in New York (the contacts' zone), until ``step()``.

    A step moves the wall clock on by 14 hours, as NTP or a machine waking up would.
    """

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.offset = 0.0

    def time(self) -> float:
        return _NINE_57 + (time.monotonic() - self._origin) + self.offset

    def step(self) -> None:
        self.offset += _STEP

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(max(seconds, 0.0), 0.05))  # wake often, as SystemClock does


async def _placed(sandbox: Sandbox, calls: int) -> None:
    while sum(sandbox.ledger.placements_per_number().values()) < calls:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_no_call_after_the_wall_clock_steps_out_of_the_window(tmp_path: Path) -> None:
    people = contacts(400)
    clock = _SteppingClock()
    async with (
        Sandbox(SandboxConfig(outcomes="last-digit", time_scale=1000.0)) as sandbox,
        polyout.Client(
            "agents", api_key="k", base_url=sandbox.base_url, agent_id=AGENT_ID
        ) as client,
    ):
        campaign = polyout.Campaign(
            client,
            people,
            journal=tmp_path / "journal.db",
            rate=100.0,
            window="09:00-20:00",
            poll_interval=(1.0, 2.0),
            clock=clock,
        )
        running = asyncio.create_task(campaign.run())
        await asyncio.wait_for(_placed(sandbox, 5), 10)
        clock.step()
        at_step = sum(sandbox.ledger.placements_per_number().values())
        await asyncio.sleep(0.5)  # 50 more triggers' worth of time at 100/s
        campaign.stop()
        await asyncio.wait_for(running, 10)
    # At most the triggers already on the wire at the step went out.
    placed = sum(sandbox.ledger.placements_per_number().values())
    assert placed <= at_step + 2, (at_step, placed)


def test_system_clock_reads_the_wall_clock_at_every_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = polyout.campaign.SystemClock()
    wall = time.time()
    monkeypatch.setattr(time, "time", lambda: wall + 7 * 3600)  # NTP stepped, or we slept
    assert clock.time() == pytest.approx(wall + 7 * 3600)


async def test_a_long_sleep_ends_when_the_wall_clock_jumps_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = polyout.campaign.SystemClock(recheck=0.02)
    real_time = time.time
    jumped = 0.0

    def wall() -> float:
        return real_time() + jumped

    monkeypatch.setattr(time, "time", wall)
    sleeping = asyncio.create_task(clock.sleep(3600))  # an hour's wait for a window
    await asyncio.sleep(0.05)
    assert not sleeping.done()
    jumped = 3600.0  # the machine slept through it
    await asyncio.wait_for(sleeping, 1)
