"""Campaign speed on a real clock: how soon the last result comes, and ends seen under load.

Both use a default ``Campaign`` (no ``poll_rate``: the poll budget follows the work)
against the sandbox in its own process, on the wall clock.

* Fast campaign (issue 11's scenario): 1,600 calls of 0.5 s at rate 200 and
  concurrency 2,000, the sandbox allowing 200 triggers per sliding second. The ideal
  wall time is the trigger span plus one call, (N-1)/R + 0.5 s; the target is the last
  final result within 6 s of the last call's end. Polls per call are counted.
* Detection under load: K calls in flight (1,000 and 10,000). One call in ten is not
  answered and ends a few seconds after every call was placed; the others stay
  connected for minutes. So the no-answer calls end while about K calls are in flight,
  and the delay from each one's end on the sandbox to the campaign's ``finished``
  event is what a slot costs beyond its call. Target: p95 under 5 s.

    python benchmarks/bench_campaign_speed.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import _harness as h
import aiohttp
import attrs

import polyout
from polyout._campaign import Campaign, CampaignEvent, Contact, EventKind

FAST_RATE = 200.0
FAST_CALL = 0.5  # seconds: queued 0.1, ringing 0.1, connected 0.3
FAST_TARGET = 6.0  # seconds from the last call's end to its final result
DELAY_TARGET = 5.0  # seconds: the longest poll interval
NO_ANSWER_SHARE = 0.1


def numbers(count: int, first: int = 0) -> list[Contact]:
    return [Contact(id=f"c{n}", phone=f"+4474{n:08d}") for n in range(first, first + count)]


@attrs.define
class Run:
    followed: h.Followed
    wall: float
    ended: list[str] = attrs.Factory(list)
    """Call sids the sandbox ended (and the campaign should have seen end)."""


async def run_campaign(
    url: str,
    contacts: list[Contact],
    journal: Path,
    *,
    rate: float,
    stop_when: Callable[[h.Followed], Awaitable[None]] | None = None,
) -> Run:
    """A default campaign; stopped once ``stop_when`` returns (calls in flight left as they are)."""
    followed = h.Followed()

    def on_event(event: CampaignEvent) -> None:
        if event.kind is EventKind.FINISHED and event.call_sid is not None:
            followed.seen[event.call_sid] = time.time()
        elif event.kind is EventKind.PLACED:
            followed.placed += 1
            followed.last_placed = time.time()

    async with polyout.Client("platform", api_key=h.API_KEY, base_url=url) as client:
        h.count_polls(client, followed)
        campaign = Campaign(
            client,
            contacts,
            journal=journal,
            rate=rate,
            concurrency=len(contacts) + 400,
            max_attempts=1,
            stop_grace=0.0,
            on_event=on_event,
        )
        started = time.perf_counter()
        running = asyncio.create_task(campaign.run())
        if stop_when is not None:
            waiting = asyncio.ensure_future(stop_when(followed))
            await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            campaign.stop()
        await running
        return Run(followed, time.perf_counter() - started)


async def fast_campaign(count: int, workdir: Path) -> list[h.Row]:
    flags = ("--rate-limit", f"{FAST_RATE:g}", "--outcomes", "success=1")
    durations = ("--queue-duration", "0.1", "--ring-duration", "0.1", "--call-duration", "0.3")
    async with h.sandbox(*flags, *durations) as server, aiohttp.ClientSession() as admin:
        run = await run_campaign(server.url, numbers(count), workdir / "fast.db", rate=FAST_RATE)
        ends = await h.call_ends(admin, server.url, list(run.followed.seen), 1.0)
    seen = run.followed.seen
    after_last_end = max(seen.values()) - max(ends.values()) if ends else float("nan")
    ideal = (count - 1) / FAST_RATE + FAST_CALL
    label = f"7. fast campaign, {count:,} calls of 0.5 s at {FAST_RATE:g}/s"
    return [
        h.Row(
            f"{label}: last final result after the last call's end",
            after_last_end,
            None,
            "s",
            target=f"<= {FAST_TARGET:g} s",
            met=len(seen) == count and h.at_most(after_last_end, FAST_TARGET),
        ),
        h.Row(
            f"{label}: wall time",
            run.wall,
            ideal,
            "s",
            baseline_name="ideal: (N-1)/R + one call",
        ),
        h.Row(
            f"{label}: status polls per call",
            run.followed.polls / max(len(seen), 1),
            None,
            "",
        ),
    ]


async def no_answer_calls(session: aiohttp.ClientSession, url: str, count: int) -> list[str] | None:
    """The sids of the calls the sandbox will not answer; None until ``count`` are placed."""
    async with session.get(f"{url}/_sandbox/ledger") as response:
        placements = (await response.json())["placements"]
    if len(placements) < count:
        return None
    return [found["sid"] for found in placements if found["outcome"] == "no_answer"]


async def under_load(in_flight: int, workdir: Path) -> list[h.Row]:
    # Placing takes about `placing` seconds at the rate asked; the no-answer calls ring 1-3 s
    # past that, so they end with every call placed and the answered ones still connected.
    # The campaign may place more slowly than asked (each intent is committed in turn): only
    # the no-answer calls that ended after the last placement count, so that every delay is
    # measured with all K calls in flight (less the no-answer ones already ended).
    rate = 500.0 if in_flight <= 1000 else 1000.0
    placing = in_flight / rate
    ring = placing + max(1.0, min(3.0, placing))
    flags = (
        *("--outcomes", f"success={1 - NO_ANSWER_SHARE:g},no_answer={NO_ANSWER_SHARE:g}"),
        *("--queue-duration", "1", "--ring-duration", f"{ring:g}", "--call-duration", "600"),
    )
    async with h.sandbox(*flags) as server, aiohttp.ClientSession() as admin:
        no_answer: list[str] = []

        async def all_ended_calls_seen(followed: h.Followed) -> None:
            # The ledger knows each call's outcome from its placement: once every call is
            # placed (the campaign's own count: fetching the whole ledger again and again
            # would load the sandbox and this process while they are measured), read it
            # once, then wait for the no-answer ones (or well past their detection target).
            for _ in range(1500):
                if followed.placed >= in_flight:
                    break
                await asyncio.sleep(0.2)
            no_answer[:] = await no_answer_calls(admin, server.url, in_flight) or []
            for _ in range(int((1.0 + ring + DELAY_TARGET + 3.0) / 0.2)):
                if set(no_answer) <= followed.seen.keys():
                    return
                await asyncio.sleep(0.2)

        run = await run_campaign(
            server.url,
            numbers(in_flight),
            workdir / f"load-{in_flight}.db",
            rate=rate,
            stop_when=all_ended_calls_seen,
        )
        ends = await h.call_ends(admin, server.url, no_answer, 1.0)
    seen = run.followed.seen
    # When the last of the K calls was placed (never, if some were not: nothing counts).
    all_placed = run.followed.last_placed if run.followed.placed >= in_flight else float("inf")
    # A no-answer call never seen to end counts as never detected.
    delays = [
        seen.get(sid, float("inf")) - ended for sid, ended in ends.items() if ended >= all_placed
    ]
    p95 = h.percentile(delays, 0.95)
    label = f"8. detection, {in_flight:,} calls in flight"
    return [
        h.Row(
            f"{label}: delay p95 (end on the sandbox to 'finished')",
            p95,
            None,
            "s",
            target=f"< {DELAY_TARGET:g} s",
            met=bool(delays) and p95 < DELAY_TARGET,
        ),
        h.Row(f"{label}: delay p50", h.percentile(delays, 0.5), None, "s"),
        h.Row(
            f"{label}: no-answer calls that ended with all {in_flight:,} placed (measured)",
            len(delays),
            len(ends),
            "",
            baseline_name="no-answer calls",
        ),
    ]


async def measure(fast: int, loads: Sequence[int]) -> list[h.Row]:
    rows: list[h.Row] = []
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
        rows += await fast_campaign(fast, Path(workdir))
        for in_flight in loads:
            rows += await under_load(in_flight, Path(workdir))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    fast = h.pick(args, full=1600, quick=800, smoke=40)
    loads = (40,) if args.smoke else (1000,) if args.quick else (1000, 10_000)
    rows = asyncio.run(measure(fast, loads))
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
