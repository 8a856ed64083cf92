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
from pathlib import Path

import _harness as h
import aiohttp

import polyout
from polyout._campaign import Campaign, CampaignEvent, Contact, EventKind, ScaledClock

SCALE = 50.0  # simulated seconds per real second, for the sandbox and the campaign alike
FIXED_INTERVAL = 2.0  # simulated seconds
# Triggers at the campaign's default rate (1/s) and polls at the old fixed budget (20/s),
# sped up with the clock: rates are real seconds. This measures the interval schedule;
# the automatic budget would ask for 7,500 polls a real second at 50x, which is
# bench_campaign_speed's business (on a real clock).
RATE = 1.0 * SCALE
POLL_RATE = 20.0 * SCALE
DELAY_TARGET = 5.0  # the longest poll interval: no call waits longer between polls


async def with_campaign(url: str, numbers: list[str], workdir: Path) -> h.Followed:
    followed = h.Followed()

    def on_event(event: CampaignEvent) -> None:
        if event.kind is EventKind.FINISHED and event.call_sid is not None:
            followed.seen[event.call_sid] = time.time()

    contacts = [Contact(id=f"c{n}", phone=number) for n, number in enumerate(numbers)]
    async with polyout.Client("platform", api_key=h.API_KEY, base_url=url) as client:
        h.count_polls(client, followed)
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


async def with_fixed_polling(url: str, numbers: list[str]) -> h.Followed:
    followed = h.Followed()
    client = polyout.Client("platform", api_key=h.API_KEY, base_url=url, rate_limit=RATE)
    async with client:
        h.count_polls(client, followed)

        async def call(number: str) -> None:
            placed = await client.trigger_call(number)
            status = await client.wait_for_call(
                placed.call_sid, poll_interval=FIXED_INTERVAL / SCALE
            )
            if status.is_final:
                followed.seen[placed.call_sid] = time.time()

        await asyncio.gather(*(call(number) for number in numbers))
    return followed


async def delays(session: aiohttp.ClientSession, url: str, followed: h.Followed) -> list[float]:
    """Simulated seconds from each call's end on the sandbox to its report."""
    ends = await h.call_ends(session, url, list(followed.seen), SCALE)
    return [(seen - ends[sid]) * SCALE for sid, seen in followed.seen.items()]


async def measure(count: int) -> dict[str, tuple[h.Followed, list[float]]]:
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


def rows_from(results: dict[str, tuple[h.Followed, list[float]]], count: int) -> list[h.Row]:
    (ours, our_delays), (fixed, fixed_delays) = results["polyout"], results["fixed"]
    per_call = ours.polls / max(len(ours.seen), 1)
    fixed_per_call = fixed.polls / max(len(fixed.seen), 1)
    baseline = f"fixed {FIXED_INTERVAL:g} s polling"
    p95 = h.percentile(our_delays, 0.95)
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
            h.percentile(our_delays, 0.5),
            h.percentile(fixed_delays, 0.5),
            "s",
            baseline_name=baseline,
        ),
        h.Row(
            "6. polling: detection delay p95 (call's seconds)",
            p95,
            h.percentile(fixed_delays, 0.95),
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
