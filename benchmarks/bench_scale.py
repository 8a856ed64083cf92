"""Scale: 10,000 calls in flight followed at once, as a campaign's poller follows them.

The sandbox (its own process) holds 10,000 long calls. Each side then follows all of
them for the same wall time, every call polled about every ``P`` seconds:

* polyout: the campaign's ``Poller``, one task and one heap for every call, status
  requests under their own pacer and at most 32 at a time;
* the baseline: one task per call, ``Client.wait_for_call(sid, poll_interval=P)``
  (what ``asyncio.gather`` over the SDK's single-call API gives).

Each side runs in a fresh interpreter, so its CPU per status poll, event-loop lag p99
(how late a 5 ms sleeper wakes) and peak RSS are its own.

    python benchmarks/bench_scale.py [--quick] [--smoke]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _harness as h
import aiohttp

import polyout
import polyout.campaign
from polyout._campaign._clock import SystemClock
from polyout._campaign._poller import FollowedCall, Poller

CPU_TARGET = 1.05  # polyout costs no more per poll than the baseline (within noise)
LAG_TARGET = 0.05  # seconds: the loop stays responsive


def numbers(count: int) -> list[str]:
    """Distinct UK mobiles ending in 0-6: the last-digit rule answers them (long calls)."""
    return [f"+4474{n:07d}{n % 7}" for n in range(count)]


async def place_calls(url: str, count: int) -> list[str]:
    headers = {"X-PolyAi-Auth-Token": h.API_KEY}
    sids: list[str] = []
    pending = iter(numbers(count))

    async def worker(session: aiohttp.ClientSession) -> None:
        for number in pending:
            body = {"to_number": number}
            async with session.post(f"{url}/v1/outbound-calling", json=body, headers=headers) as r:
                r.raise_for_status()
                sids.append((await r.json())["call_sid"])

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(32)))
    return sids


# -- the two followers (each in its own interpreter) ---------------------------------------
async def follow_with_poller(client: polyout.Client, sids: list[str], period: float) -> int:
    def ignore(*_: object) -> None:
        pass

    clock = SystemClock()
    poller = Poller(
        client,
        clock,
        interval=(period, period),
        rate=10_000.0,  # the budget never binds here: the interval does
        parallel=32,
        on_change=ignore,
        on_end=ignore,
        on_error=ignore,
        on_fatal=ignore,
        seed=1,
    )
    now = clock.time()
    for seq, sid in enumerate(sids):
        poller.follow(FollowedCall(seq, f"c{seq}", 1, 1, sid, now, now + 7200))
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(FOLLOW_SECONDS)
    poller.halt()
    await task
    return poller.requests_sent


async def follow_with_tasks(client: polyout.Client, sids: list[str], period: float) -> int:
    polls = 0
    original = client.get_status

    async def counted(
        call_sid: str, *, pacer: polyout.campaign.RequestPacer | None = None
    ) -> polyout.CallStatus:
        nonlocal polls
        polls += 1
        return await original(call_sid, pacer=pacer)

    client.get_status = counted  # type: ignore[method-assign]
    tasks = [asyncio.create_task(client.wait_for_call(sid, poll_interval=period)) for sid in sids]
    await asyncio.sleep(FOLLOW_SECONDS)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return polls


FOLLOW_SECONDS = 10.0


async def follow(side: str, url: str, sids: list[str], period: float) -> dict[str, Any]:
    async with polyout.Client("platform", api_key=h.API_KEY, base_url=url) as client:
        await client.get_status(sids[0])  # open the session before measuring
        async with h.LoopLag() as lag:
            with h.measured() as spent:
                if side == "polyout":
                    polls = await follow_with_poller(client, sids, period)
                else:
                    polls = await follow_with_tasks(client, sids, period)
    return {
        "polls": polls,
        "cpu": spent.cpu,
        "lag_p99": lag.percentile(0.99),
        "rss": h.peak_rss_mb(),
    }


def run_as_worker(args: argparse.Namespace) -> int:
    global FOLLOW_SECONDS
    FOLLOW_SECONDS = args.seconds
    sids = json.loads(Path(args.sids).read_text())
    h.emit_result(asyncio.run(follow(args.worker, args.url, sids, args.period)))
    return 0


# -- the parent ----------------------------------------------------------------------------
async def measure(count: int, seconds: float, period: float, workdir: Path) -> dict[str, Any]:
    flags = ("--outcome-rule", "last-digit", "--call-duration", "86400")
    async with h.sandbox(*flags) as server:
        sids = await place_calls(server.url, count)
        sid_file = workdir / "sids.json"
        sid_file.write_text(json.dumps(sids))
        results = {}
        for side in ("polyout", "tasks"):
            args = ["--worker", side, "--url", server.url, "--sids", str(sid_file)]
            args += ["--seconds", str(seconds), "--period", str(period)]
            results[side] = await asyncio.to_thread(h.run_worker, __file__, *args)
    return results


def rows_from(results: dict[str, Any], count: int) -> list[h.Row]:
    ours, tasks = results["polyout"], results["tasks"]
    per_poll = {side: r["cpu"] / max(r["polls"], 1) * 1e6 for side, r in results.items()}
    cpu_ratio = per_poll["polyout"] / per_poll["tasks"]
    baseline = "task per call"
    return [
        h.Row(
            f"3. scale, {count:,} calls followed: CPU per status poll",
            per_poll["polyout"],
            per_poll["tasks"],
            "us",
            target=f"<= {CPU_TARGET:.2f}x",
            met=h.at_most(cpu_ratio, CPU_TARGET),
            baseline_name=baseline,
        ),
        h.Row(
            f"3. scale, {count:,} calls followed: event-loop lag p99",
            ours["lag_p99"] * 1000,
            tasks["lag_p99"] * 1000,
            "ms",
            target=f"< {LAG_TARGET * 1000:.0f} ms",
            met=ours["lag_p99"] < LAG_TARGET,
            baseline_name=baseline,
        ),
        h.Row(
            f"3. scale, {count:,} calls followed: peak RSS",
            ours["rss"],
            tasks["rss"],
            "MB",
            target="<= 1.00x",
            met=ours["rss"] <= tasks["rss"],
            baseline_name=baseline,
        ),
        h.Row(
            f"3. scale, {count:,} calls followed: status polls made",
            ours["polls"],
            tasks["polls"],
            "",
            baseline_name=baseline,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = h.parser(__doc__)
    parser.add_argument("--worker", choices=["polyout", "tasks"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--sids", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=FOLLOW_SECONDS, help=argparse.SUPPRESS)
    parser.add_argument("--period", type=float, default=4.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_as_worker(args)
    count = h.pick(args, full=10_000, quick=3_000, smoke=200)
    seconds = float(h.pick(args, full=10, quick=6, smoke=1))
    period = {10_000: 4.0, 3_000: 2.0}.get(count, 0.5)
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
        results = asyncio.run(measure(count, seconds, period, Path(workdir)))
    h.report(rows_from(results, count), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
