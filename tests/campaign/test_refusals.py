"""400s to requests polyout already validated: one contact's problem, or the campaign's?"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp import web

import polyout
from polyout._campaign._clock import ScaledClock

from .helpers import contacts, states

Refuses = Callable[[str], bool]


class RefusingAPI:
    """A Platform API that answers 400 to the numbers ``refuses`` picks; calls succeed."""

    def __init__(self, refuses: Refuses) -> None:
        self.refuses = refuses
        self.triggers: list[str] = []
        self.placed: list[str] = []

    async def trigger(self, request: web.Request) -> web.Response:
        number = (await request.json())["to_number"]
        self.triggers.append(number)
        if self.refuses(number):
            body = {"error": "outbound calling is not configured for this number", "code": "X"}
            return web.json_response(body, status=400)
        self.placed.append(number)
        return web.json_response({"call_sid": f"OUT-{uuid.uuid4()}"})

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "success", "reason": ""})


Serve = Callable[[Refuses], Awaitable[tuple[RefusingAPI, polyout.Client]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start a RefusingAPI on 127.0.0.1 and a Platform client to it; both closed after."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(refuses: Refuses) -> tuple[RefusingAPI, polyout.Client]:
            api = RefusingAPI(refuses)
            app = web.Application()
            app.router.add_post("/v1/outbound-calling", api.trigger)
            app.router.add_get("/v1/outbound-calling/{sid}/status", api.status)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            client = polyout.Client("platform", api_key="k", base_url=base_url)
            await stack.enter_async_context(client)
            return api, client

        yield start


def campaign_for(
    client: polyout.Client, people: list[polyout.Contact], journal: Path
) -> polyout.Campaign:
    return polyout.Campaign(
        client,
        people,
        journal=journal,
        rate=200,
        poll_interval=(20.0, 50.0),
        poll_rate=500,
        clock=ScaledClock(datetime(2026, 1, 5, 12, tzinfo=timezone.utc), scale=1000),
    )


async def test_a_contact_refused_twice_is_invalid_and_the_rest_go_on(
    serve: Serve, tmp_path: Path
) -> None:
    api, client = await serve(lambda number: number.endswith("9"))
    people = [*contacts(4), *contacts(1, 9, start=10)]
    stats = await campaign_for(client, people, tmp_path / "j.db").run()
    assert stats.states == {"success": 4, "invalid": 1}
    refused = [n for n in api.triggers if n.endswith("9")]
    assert len(refused) == 2  # one more chance, then invalid with the server's reason
    (result,) = [r for r in polyout.iter_results(tmp_path / "j.db") if r.state == "invalid"]
    assert result.reason == "outbound calling is not configured for this number"


async def test_refusals_in_a_row_stop_the_campaign_and_charge_nobody(
    serve: Serve, tmp_path: Path
) -> None:
    api, client = await serve(lambda number: True)
    journal = tmp_path / "j.db"
    with pytest.raises(polyout.CampaignError, match="refused 3 triggers in a row"):
        await campaign_for(client, contacts(20), journal).run()
    results = list(polyout.iter_results(journal))
    assert api.placed == []
    assert "invalid" not in states(results)  # everyone is still there to dial after a fix
    assert len(api.triggers) < 10

    api.refuses = lambda number: False  # the set-up is fixed
    resumed = polyout.Campaign.resume(
        client,
        journal,
        clock=ScaledClock(datetime(2026, 1, 5, 13, tzinfo=timezone.utc), scale=1000),
    )
    stats = await resumed.run()
    assert stats.states == {"success": 20}
    assert sorted(api.placed) == sorted(set(api.placed))
