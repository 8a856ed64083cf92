"""One intent covers one send: a trigger refused and waiting to retry is not ``unknown``.

Issue 17 item 7: the intent was committed once before the client's retry loop, so a
run cancelled (a double Ctrl-C, ``task.cancel()``) while the client waited out a 429 or
a 502 left contacts "may have been placed" that the server never placed. The client
now reports each try that provably placed nothing before it waits, and the campaign
closes that try's intent at once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import polyout
import polyout.campaign
from polyout import Contact
from polyout.sandbox import Sandbox, SandboxConfig

from ..client.servers import Reply, ScriptedAPI, scripted_api
from .helpers import AGENT_ID, SCALE, contacts


async def _seen(api: ScriptedAPI, requests: int) -> None:
    while len(api.seen) < requests:  # noqa: ASYNC110 (the server has no event to wait on)
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("status", [429, 502])
async def test_a_cancel_during_a_retry_wait_leaves_nobody_unknown(
    tmp_path: Path, status: int
) -> None:
    polyout.set_testing(False)  # the client really waits out the Retry-After
    people: list[Contact] = contacts(6)
    journal = tmp_path / "journal.db"
    async with scripted_api() as api:
        port = int(api.base_url.rsplit(":", 1)[1])
        api.default = Reply(status, {"error": "not now"}, {"Retry-After": "20"})
        async with polyout.Client(
            "agents", api_key="k", base_url=api.base_url, agent_id=AGENT_ID
        ) as client:
            campaign = polyout.Campaign(
                client,
                people,
                journal=journal,
                rate=200.0,
                clock=polyout.campaign.ScaledClock(scale=SCALE),
            )
            running = asyncio.create_task(campaign.run())
            # A 502 is each contact's own; a 429 pauses every trigger after the first.
            expected = len(people) if status == 502 else 1
            await asyncio.wait_for(_seen(api, expected), 10)
            await asyncio.sleep(0.3)  # every try sent is now in its 20 s wait
            running.cancel()
            running.cancel()  # the second Ctrl-C
            with pytest.raises(asyncio.CancelledError):
                await running
        tries = len(api.seen)
    states = {result.contact_id: result.state for result in polyout.iter_results(journal)}
    assert set(states.values()) == {"scheduled"}, states  # none unknown: none was sent twice
    assert tries == expected

    # Resumed against a server that places calls (the same address): each is dialled once.
    async with (
        Sandbox(SandboxConfig(port=port, outcomes="last-digit", time_scale=SCALE)) as sandbox,
        polyout.Client(
            "agents", api_key="k", base_url=sandbox.base_url, agent_id=AGENT_ID
        ) as client,
    ):
        resumed = polyout.Campaign.resume(
            client, journal, contacts=people, clock=polyout.campaign.ScaledClock(scale=SCALE)
        )
        summary = await asyncio.wait_for(resumed.run(), 20)
    assert summary.states == {"success": len(people)}
    assert sandbox.ledger.placements_per_number() == {person.phone: 1 for person in people}
