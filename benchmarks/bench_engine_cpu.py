"""The campaign engine's CPU per contact on each store, against the calls it makes.

One campaign (every contact placed once, a minute-long call polled to its end) run by
the real engine on a ``VirtualClock`` with the fake placer (``polyout.testing.FakePlacer``),
on the in-memory store, on SQLite (the file on tmpfs where there is one) and on
PostgreSQL (a throwaway cluster started as the test suite starts it, or
``POLYOUT_TEST_POSTGRES_URL``; the row says so when neither is possible). The figure
is the CPU of this process, all threads, per contact, from start to final (the
PostgreSQL server's own CPU is in its processes, not counted).

The baseline, measured in the same run: the bare cost of the same calls, the same
number of ``place`` and ``get_status`` calls on the same fake placer and clock with
nothing around them. The ratio is what the engine (feeding, claiming, pacing, intents,
polling decisions, outcomes, events, the store) costs on top of the calls themselves.

    python benchmarks/bench_engine_cpu.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _harness as h

import polyout
from polyout._campaign._memory_store import MemoryStore
from polyout.testing import FakePlacer, VirtualClock

RATE, CONCURRENCY, DURATION = 20.0, 200, 60.0  # virtual triggers/s, calls in flight, call s
#: Real seconds the loop must be idle before virtual time jumps while a PostgreSQL answer
#: is on its way (its socket is read by the loop: a jump must not overtake it).
PG_IDLE = 0.001
PG_CONTACTS = 500
REPO = Path(__file__).resolve().parent.parent


def _people(count: int) -> list[polyout.Contact]:
    return [polyout.Contact(f"c{n}", f"+1415555{n:04d}") for n in range(count)]


class _NoPacer:
    """Lets every request go at once: the baseline measures the calls alone."""

    async def acquire(self) -> None:
        return None

    def on_rate_limited(self, retry_after: float | None) -> None:
        return None

    def on_success(self) -> None:
        return None

    def on_not_placed(self) -> None:
        return None


async def _engine(
    count: int, *, store: Any = None, journal: Path | None = None
) -> tuple[float, int, int]:
    """CPU seconds of one campaign, and the placements and polls it made."""
    async with VirtualClock(autojump_threshold=PG_IDLE if store is not None else 0.0) as clock:
        placer = FakePlacer(clock=clock, duration=DURATION, seed=1)
        campaign = polyout.Campaign(
            placer,
            _people(count),
            journal=journal,
            store=store if store is not None or journal is not None else MemoryStore(),
            rate=RATE,
            concurrency=CONCURRENCY,
            max_attempts=1,
            clock=clock,
            seed=1,
        )
        with h.measured() as spent:
            stats = await campaign.run()
    assert stats.complete, stats
    return spent.cpu, len(placer.ledger.placements), placer.ledger.polls


async def _bare_calls(count: int, placements: int, polls: int) -> float:
    """CPU seconds of the same calls on the same fake placer, with nothing around them."""
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, duration=DURATION, seed=1)
        pacer = _NoPacer()
        people = _people(count)
        with h.measured() as spent:
            sids = [
                (
                    await placer.place(polyout.build_request(people[n % count].phone), pacer=pacer)
                ).call_sid
                for n in range(placements)
            ]
            await asyncio.sleep(DURATION)  # every call ends: the polls read final states too
            for n in range(polls):
                await placer.get_status(sids[n % placements], pacer=pacer)
    return spent.cpu


@contextlib.contextmanager
def _postgres() -> Iterator[str | None]:
    """A database URL (a throwaway cluster, as the tests start one), or None with a reason
    printed when PostgreSQL is not available here."""
    sys.path.insert(0, str(REPO))
    import pytest

    from tests.pg_cluster import start_cluster

    try:
        with start_cluster() as server:
            yield server.create_database("polyout_bench")
    except pytest.skip.Exception as skipped:
        print(f"PostgreSQL row skipped: {skipped}", file=sys.stderr)
        yield None


async def _on_postgres(count: int, url: str) -> tuple[float, int, int]:
    from polyout.campaign import PostgresStore

    store = await PostgresStore.connect(url, min_size=1, max_size=10)
    try:
        return await _engine(count, store=store)
    finally:
        await store.aclose()


def main(argv: list[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    count = h.pick(args, full=2_000, quick=1_000, smoke=40)
    # Per contact, the figures are steady from a few hundred contacts on; PostgreSQL's run
    # is the long one (a round trip per statement), so it takes no more than it needs.
    pg_count = min(count, PG_CONTACTS)
    memory, placements, polls = asyncio.run(_engine(count))
    bare = asyncio.run(_bare_calls(count, placements, polls))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm, prefix="polyout-bench-") as folder:
        sqlite, _, _ = asyncio.run(_engine(count, journal=Path(folder) / "engine.db"))
    with _postgres() as url:
        postgres = None if url is None else asyncio.run(_on_postgres(pg_count, url))[0]

    def per_contact(seconds: float, contacts: int = count) -> float:
        return seconds / contacts * 1e6

    baseline = per_contact(bare)
    name = "the fake placer's calls alone"
    each = f"{count:,} contacts, {polls / count:.1f} polls each"
    rows = [
        h.Row(
            f"E2. engine CPU per contact, in-memory store, virtual clock ({each})",
            per_contact(memory),
            baseline,
            "µs",
            baseline_name=name,
        ),
        h.Row(
            "E2. engine CPU per contact, SQLite store (file on tmpfs)",
            per_contact(sqlite),
            baseline,
            "µs",
            baseline_name=name,
        ),
    ]
    if postgres is not None:
        rows.append(
            h.Row(
                f"E2. engine CPU per contact, PostgreSQL store ({pg_count:,} contacts; "
                "this process, the server not counted)",
                per_contact(postgres, pg_count),
                baseline,
                "µs",
                baseline_name=name,
            )
        )
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
