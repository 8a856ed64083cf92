"""Polling efficiency: status requests per completed call, and how soon an ended call is seen.

The same contacts are called twice against the sandbox (its own process, calls of
realistic length on a clock running ``SCALE`` times faster):

* polyout: a ``Campaign`` with its default adaptive poll interval (2 s, growing to 5 s
  while nothing changes) and default rates, the end seen when its ``finished`` event
  fires;
* the baseline: fixed 2 s polling, ``Client.wait_for_call(sid, poll_interval=2)`` per call.

Detection delay is the time from the call's end on the sandbox (``/_sandbox/calls``) to
the moment the side reports it, in the calls' own (simulated) seconds.

    python benchmarks/bench_polling.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import _harness as h
import aiohttp
import attrs

import polyout
from polyout._campaign import Campaign, CampaignEvent, Contact, EventKind, ScaledClock

SCALE = 50.0  # simulated seconds per real second, for the sandbox and the campaign alike
FIXED_INTERVAL = 2.0  # simulated seconds
# The campaign's default budgets, in simulated time: 1 trigger and 20 status polls per
# second (rates are real seconds, so they are sped up by hand).
RATE = 1.0 * SCALE
POLL_RATE = 20.0 * SCALE
DELAY_TARGET = 6.0  # the longest poll interval (5 s) with its +20% jitter: seen within one


@attrs.define
class Followed:
    """When each call's end was reported (wall time), and how many status polls were made."""

    seen: dict[str, float] = attrs.Factory(dict)
    polls: int = 0


def count_polls(client: polyout.Client, followed: Followed) -> None:
    original = client.get_status

    async def counted(
        call_sid: str, *, pacer: polyout.RequestPacer | None = None
    ) -> polyout.CallStatus:
        followed.polls += 1
        return await original(call_sid, pacer=pacer)

    client.get_status = counted  # type: ignore[method-assign]


async def with_campaign(url: str, numbers: list[str], workdir: Path) -> Followed:
    followed = Followed()

    def on_event(event: CampaignEvent) -> None:
        if event.kind is EventKind.FINISHED and event.call_sid is not None:
            followed.seen[event.call_sid] = time.time()

    contacts = [Contact(id=f"c{n}", phone=number) for n, number in enumerate(numbers)]
    async with polyout.Client("platform", api_key=h.API_KEY, base_url=url) as client:
        count_polls(client, followed)
        campaign = Campaign(
            client,
            contacts,
            journal=workdir / "polling.db",
            rate=RATE,
            concurrency=len(numbers),
            max_attempts=1,
            poll_rate=POLL_RATE,
            clock=ScaledClock(scale=SCALE),
            on_event=on_event,
        )
        await campaign.run()
    return followed


async def with_fixed_polling(url: str, numbers: list[str]) -> Followed:
    followed = Followed()
    client = polyout.Client("platform", api_key=h.API_KEY, base_url=url, rate_limit=RATE)
    async with client:
        count_polls(client, followed)

        async def call(number: str) -> None:
            placed = await client.trigger_call(number)
            status = await client.wait_for_call(
                placed.call_sid, poll_interval=FIXED_INTERVAL / SCALE
            )
            if status.is_final:
                followed.seen[placed.call_sid] = time.time()

        await asyncio.gather(*(call(number) for number in numbers))
    return followed


async def delays(session: aiohttp.ClientSession, url: str, followed: Followed) -> list[float]:
    """Simulated seconds from each call's end on the sandbox to its report."""
    before = time.time()
    async with session.get(f"{url}/_sandbox/config") as response:
        sandbox_now = datetime.fromisoformat((await response.json())["now"]).timestamp()
    wall_at_now = (before + time.time()) / 2
    found = []
    for sid, seen in followed.seen.items():
        async with session.get(f"{url}/_sandbox/calls/{sid}") as response:
            ended = datetime.fromisoformat((await response.json())["ended_at"]).timestamp()
        ended_wall = wall_at_now + (ended - sandbox_now) / SCALE
        found.append((seen - ended_wall) * SCALE)
    return found


async def measure(count: int) -> dict[str, tuple[Followed, list[float]]]:
    results = {}
    async with h.sandbox("--time-scale", str(SCALE)) as server, aiohttp.ClientSession() as admin:
        with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
            for side, first in (("polyout", 0), ("fixed", count)):
                numbers = [f"+4474{n:08d}" for n in range(first, first + count)]
                if side == "polyout":
                    followed = await with_campaign(server.url, numbers, Path(workdir))
                else:
                    followed = await with_fixed_polling(server.url, numbers)
                results[side] = (followed, await delays(admin, server.url, followed))
    return results


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rows_from(results: dict[str, tuple[Followed, list[float]]], count: int) -> list[h.Row]:
    (ours, our_delays), (fixed, fixed_delays) = results["polyout"], results["fixed"]
    per_call = ours.polls / max(len(ours.seen), 1)
    fixed_per_call = fixed.polls / max(len(fixed.seen), 1)
    baseline = f"fixed {FIXED_INTERVAL:g} s polling"
    p95 = percentile(our_delays, 0.95)
    return [
        h.Row(
            f"6. polling, {count} calls: status requests per completed call",
            per_call,
            fixed_per_call,
            "",
            target="<= 1.00x",
            met=len(ours.seen) == count and per_call <= fixed_per_call,
            baseline_name=baseline,
        ),
        h.Row(
            "6. polling: detection delay p50 (call's seconds)",
            percentile(our_delays, 0.5),
            percentile(fixed_delays, 0.5),
            "s",
            baseline_name=baseline,
        ),
        h.Row(
            "6. polling: detection delay p95 (call's seconds)",
            p95,
            percentile(fixed_delays, 0.95),
            "s",
            target=f"<= {DELAY_TARGET:g} s",
            met=h.at_most(p95, DELAY_TARGET),
            baseline_name=baseline,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    count = h.pick(args, full=300, quick=150, smoke=20)
    results = asyncio.run(measure(count))
    h.report(rows_from(results, count), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
