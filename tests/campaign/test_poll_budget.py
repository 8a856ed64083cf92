"""The status polls' budget (issue 11): it follows the work, a set rate overrides it, and
it backs off together on 429, from polls or from triggers.

The campaign tests run the sandbox and the campaign on one clock five times faster than
real time; poll budgets stay in real seconds (what a server counts), so 150 calls at a
2 s interval ask for 375 polls a real second, almost twenty times the old fixed budget.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from polyout import CallStatus, Client
from polyout._campaign._clock import Clock, ScaledClock
from polyout._campaign._events import CampaignEvent, EventKind
from polyout._campaign._poll_budget import AutoPollBudget
from polyout._campaign._runner import Campaign
from polyout._pacing import Pacer
from polyout.campaign import RequestPacer
from polyout.sandbox import SandboxConfig

from .conftest import StartRig
from .helpers import AGENT_ID, contacts

SCALE = 5.0
LONGEST = 5.0  # the default poll interval grows from 2 s to 5 s
SLACK = 3.0  # clock seconds (0.6 s real): one round trip on a loaded machine, and its loop lag


class PollLog(Client):
    """A client that notes when each call's status was read, in campaign clock seconds."""

    def __init__(self, clock: Clock, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.read: dict[str, list[float]] = defaultdict(list)
        self.real: list[float] = []

    async def get_status(self, call_sid: str, *, pacer: RequestPacer | None = None) -> CallStatus:
        status = await super().get_status(call_sid, pacer=pacer)
        self.read[call_sid].append(self.clock.time())
        self.real.append(time.monotonic())
        return status


def fast_calls(duration: float) -> SandboxConfig:
    """A sandbox on the tests' clock whose successful calls last about ``duration`` seconds."""
    return SandboxConfig(
        outcomes="last-digit",
        time_scale=SCALE,
        queue_duration=1.0,
        ring_duration=1.0,
        call_duration=duration - 2.0,
    )


async def test_the_default_budget_polls_every_call_in_flight_within_its_interval(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(config=fast_calls(12.0), scale=SCALE)
    clock = ScaledClock(scale=SCALE)
    placed: dict[str, float] = {}

    def on_event(event: CampaignEvent) -> None:
        if event.kind is EventKind.PLACED and event.call_sid is not None:
            placed[event.call_sid] = clock.time()

    client = PollLog(
        clock, "agents", api_key="test-key", base_url=rig.sandbox.base_url, agent_id=AGENT_ID
    )
    async with client:
        campaign = Campaign(
            client,
            contacts(150),
            journal=rig.journal,
            rate=2000.0,
            concurrency=150,
            max_attempts=1,
            clock=clock,
            on_event=on_event,
        )  # no poll_rate: the default budget
        summary = await campaign.run()
    assert {k: n for k, n in summary.states.items() if n} == {"success": 150}
    waits = [
        later - earlier
        for sid, at in placed.items()
        for earlier, later in zip([at, *client.read[sid]], client.read[sid], strict=False)
    ]
    # The fixed budget of 20/s polled each of these calls every 37.5 clock seconds.
    assert max(waits) <= LONGEST + SLACK, sorted(waits)[-10:]


async def test_an_explicit_poll_rate_overrides_the_automatic_budget(start_rig: StartRig) -> None:
    rig = await start_rig(config=fast_calls(4.0), scale=SCALE)
    clock = ScaledClock(scale=SCALE)
    client = PollLog(
        clock, "agents", api_key="test-key", base_url=rig.sandbox.base_url, agent_id=AGENT_ID
    )
    async with client:
        campaign = Campaign(
            client,
            contacts(6),
            journal=rig.journal,
            rate=2000.0,
            concurrency=6,
            max_attempts=1,
            poll_rate=10.0,  # the work asks for 15/s: 6 calls every 0.4 real seconds
            clock=clock,
        )
        summary = await campaign.run()
    assert {k: n for k, n in summary.states.items() if n} == {"success": 6}
    sent = client.real
    assert len(sent) >= 10
    assert (len(sent) - 1) / (sent[-1] - sent[0]) <= 10.0 * 1.05


async def test_the_automatic_budget_caps_polls_at_its_ceiling() -> None:
    budget = AutoPollBudget(ceiling=200.0)
    started = time.monotonic()
    await asyncio.gather(*(budget.acquire() for _ in range(100)))
    # A burst of 5% of the ceiling (10 polls) leaves at once, the rest at 200/s.
    assert time.monotonic() - started >= 85 / 200


async def test_a_429_pauses_every_poll_for_its_retry_after_and_halves_the_budget() -> None:
    budget = AutoPollBudget(ceiling=1000.0)
    await budget.acquire()
    budget.on_rate_limited(0.2)
    budget.on_rate_limited(0.2)  # polls already on their way: one signal, one halving
    assert budget.rate == 500.0
    started = time.monotonic()
    await asyncio.gather(*(budget.acquire() for _ in range(5)))
    assert time.monotonic() - started >= 0.19
    assert budget.rate_limited == 2


async def test_a_429_on_a_trigger_halves_the_poll_budget_too() -> None:
    triggers = Pacer(10.0)
    budget = AutoPollBudget(ceiling=1000.0, triggers=triggers)
    await budget.acquire()
    assert budget.rate == 1000.0
    triggers.on_rate_limited(0.01)  # the account may count polls against the same limit
    await budget.acquire()
    assert budget.rate == 500.0
    assert budget.rate_limited == 0  # no poll met a 429: polls are not paused
