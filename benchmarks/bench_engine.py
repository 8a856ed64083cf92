"""The campaign engine's own CPU per contact: in-memory store, fake placer, virtual clock.

Nothing here waits or touches a disk or a socket: the in-memory store, the fake
placer (``polyout.testing.FakePlacer``: every call placed, a minute long) and a
``VirtualClock`` (hours of polling pass in loop turns). What is left is the engine:
feeding, claiming, pacing, intents, placements, polling decisions, outcomes, events,
and the store's bookkeeping, per contact, from start to final.

Then the same campaign on the SQLite store (``journal=PATH``), with the same fake and
clock (the file on /dev/shm where there is one), against the in-memory figure: what the
store and its writer thread add (all threads' CPU counts). Before the engine redesign,
the 0.1 engine on its journal measured 3.43 ms (2,000 contacts) and 3.79 ms (10,000)
per contact in this benchmark.

    python benchmarks/bench_engine.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import _harness as h

import polyout
from polyout._campaign._facade import Campaign as StoreCampaign
from polyout._campaign._memory_store import MemoryStore
from polyout.testing import FakePlacer, VirtualClock

RATE, CONCURRENCY = 20.0, 200  # triggers per second (virtual), calls in flight


def _people(count: int) -> list[polyout.Contact]:
    return [polyout.Contact(f"c{n}", f"+1415555{n:04d}") for n in range(count)]


async def _store_engine(count: int) -> tuple[float, int]:
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, duration=60.0, seed=1)
        campaign = StoreCampaign(
            placer,
            _people(count),
            store=MemoryStore(),
            rate=RATE,
            concurrency=CONCURRENCY,
            max_attempts=1,
            clock=clock,
            seed=1,
        )
        with h.measured() as spent:
            stats = await campaign.run()
    assert stats.complete, stats
    return spent.cpu, placer.ledger.polls


async def _sqlite_engine(count: int, folder: Path) -> tuple[float, int]:
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, duration=60.0, seed=1)
        campaign = polyout.Campaign(
            placer,
            _people(count),
            journal=folder / "engine.db",
            rate=RATE,
            concurrency=CONCURRENCY,
            max_attempts=1,
            clock=clock,
        )
        with h.measured() as spent:
            stats = await campaign.run()
    assert stats.complete, stats
    return spent.cpu, placer.ledger.polls


def main(argv: list[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    # Per contact, the figure is steady from a few hundred contacts on; 2,000 is also the
    # size the 0.1 engine was measured at here (3.43 ms).
    count = h.pick(args, full=2_000, quick=1_000, smoke=100)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    ours, polls = asyncio.run(_store_engine(count))
    with tempfile.TemporaryDirectory(dir=shm, prefix="polyout-bench-") as folder:
        theirs, _ = asyncio.run(_sqlite_engine(count, Path(folder)))
    each = f"{count:,} contacts, {polls / count:.0f} polls each"
    rows = [
        h.Row(
            f"E. engine CPU per contact, in-memory store, fake placer, virtual clock ({each})",
            ours / count * 1000,
            None,
            "ms",
        ),
        h.Row(
            "E. engine CPU per contact, SQLite store (same campaign, file on tmpfs)",
            theirs / count * 1000,
            ours / count * 1000,
            "ms",
            baseline_name="in-memory store",
        ),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
