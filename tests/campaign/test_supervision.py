"""A part of the run that dies stops the run at once, resumable, with the cause.

Issue 17 item 11: status polling died (a RecursionError on deeply nested JSON) and the
run hung: the trigger workers dialled up to the concurrency limit, then waited for ever
for slots only the poller frees.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import polyout
import polyout.campaign
from polyout.sandbox import Sandbox, SandboxConfig

from .helpers import AGENT_ID, SCALE, contacts


class _DyingStatusClient(polyout.Client):
    """Any client whose status reads fail in a way polyout did not foresee."""

    async def get_status(
        self, call_sid: str, *, pacer: polyout.campaign.RequestPacer | None = None
    ) -> polyout.CallStatus:
        raise RecursionError("maximum recursion depth exceeded while decoding a JSON object")


async def test_a_dead_poller_stops_the_run_at_once_resumably(tmp_path: Path) -> None:
    people = contacts(12)
    journal = tmp_path / "journal.db"
    async with (
        Sandbox(SandboxConfig(outcomes="last-digit", time_scale=SCALE)) as sandbox,
        _DyingStatusClient(
            "agents", api_key="k", base_url=sandbox.base_url, agent_id=AGENT_ID
        ) as dying,
    ):
        campaign = polyout.Campaign(
            dying,
            people,
            journal=journal,
            rate=200.0,
            concurrency=4,
            poll_interval=(1.0, 2.0),
            clock=polyout.campaign.ScaledClock(scale=SCALE),
        )
        with pytest.raises(polyout.CampaignError, match="RecursionError") as raised:
            await asyncio.wait_for(campaign.run(), 5)  # hung for ever before
        assert isinstance(raised.value.__cause__, RecursionError)
        placed_before = sum(sandbox.ledger.placements_per_number().values())
        assert placed_before <= 4  # stopped at the concurrency limit, not past it
        async with polyout.Client(
            "agents", api_key="k", base_url=sandbox.base_url, agent_id=AGENT_ID
        ) as client:
            resumed = polyout.Campaign.resume(
                client, journal, contacts=people, clock=polyout.campaign.ScaledClock(scale=SCALE)
            )
            summary = await asyncio.wait_for(resumed.run(), 20)
    assert summary.complete
    assert summary.states == {"success": len(people)}
    assert sandbox.ledger.placements_per_number() == {person.phone: 1 for person in people}
