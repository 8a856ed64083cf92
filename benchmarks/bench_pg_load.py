"""PostgreSQL load (issue 16): N contacts into a PostgreSQL campaign, against a bare COPY.

polyout: ``PostgresStore`` (a throwaway cluster, or ``POLYOUT_TEST_POSTGRES_URL``), one
campaign, and its ``append`` called as the feeder calls it: batches of the size the store
asks the feeder for (``feed_batch``: 1,024; ``--batch 256`` is the other stores'), each
with its feed position, built only when due (a million never sit in memory), then
``flush``. Every clause holds as in a run: the next ``seq``, replays, one dialable
contact per number (the unique index), the feed position in the same transaction. The
contacts are feeder-shaped (a UK mobile, a contact id, metadata, a time zone); planning
them (phonenumbers, calling windows) is the feeder's CPU, measured by bench_memory.

The baseline: the same rows, as the same binary ``COPY`` batches, into a plain table of
the same columns (no key, no index, no check), committed once: what the server does for
a load with no rule to keep. Each side has a fresh database of the same server.

Shown: contacts per second (target >= 20,000/s), the ratio, and peak RSS (flat: the
RSS after a tenth of the load and at its end).

    python benchmarks/bench_pg_load.py [--quick] [--smoke] [--contacts N] [--batch B]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import _harness as h

from polyout._campaign._pg_base import PgCampaignBase
from polyout._campaign._pg_rows import ENTRY_COLUMNS, ENTRY_TYPES, entry_row
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignDefinition, ContactEntry, FeedPosition

TARGET = 20_000.0
ZONES = ("Europe/London",)
PLAIN_TABLE = (
    "CREATE TABLE plain (campaign bigint, seq bigint, contact_id text, source_row bigint,"
    " to_number text, entry_state text, first_due double precision, request jsonb,"
    " zones jsonb, entry_reason text, state text, due double precision, reason text,"
    " finished_at double precision)"
)


def batch_of(first: int, stop: int, due: float) -> list[ContactEntry]:
    """The feeder's entries for items ``first..stop-1`` (as ``entry_for`` makes them)."""
    return [
        ContactEntry(
            seq=seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=f"+4474{seq:08d}",
            state=ContactState.SCHEDULED,
            due=due,
            request={
                "metadata": {"first_name": "Ada", "account": f"A-{seq}"},
                "encryption": None,
                "variant_id": None,
            },
            zones=ZONES,
        )
        for seq in range(first, stop)
    ]


def rss_mb() -> float:
    """The resident set size now (not the peak), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Load:
    """Seconds of one load, and the RSS after a tenth of it and at its end."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.rss_early = self.rss_end = 0.0

    def batches(self, count: int, batch: int) -> Iterator[tuple[int, int]]:
        for first in range(0, count, batch):
            if first >= count // 10 and not self.rss_early:
                self.rss_early = rss_mb()
            yield first, min(count, first + batch)
        self.rss_end = rss_mb()


async def polyout_load(url: str, count: int, batch: int) -> Load:
    load = Load()
    now = time.time()
    store = await PostgresStore.connect(url)
    try:
        definition = CampaignDefinition({"bench": True}, {"api": "agents"}, frozenset(), now)
        campaign = await store.create("load", definition)
        started = time.perf_counter()
        for first, stop in load.batches(count, batch):
            position = FeedPosition(stop, None, stop == count)
            await campaign.append(batch_of(first, stop, now), position, now=now)
        await campaign.flush()
        load.seconds = time.perf_counter() - started
    finally:
        await store.aclose()
    return load


async def bare_copy(url: str, count: int, batch: int) -> Load:
    import psycopg

    load = Load()
    now = time.time()
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute(PLAIN_TABLE)
        await conn.commit()
        statement = f"COPY plain ({ENTRY_COLUMNS}) FROM STDIN (FORMAT BINARY)"
        started = time.perf_counter()
        for first, stop in load.batches(count, batch):
            async with conn.cursor().copy(statement.encode()) as copy:
                copy.set_types(ENTRY_TYPES)
                for entry in batch_of(first, stop, now):
                    await copy.write_row(entry_row(1, entry, now))
        await conn.commit()
        load.seconds = time.perf_counter() - started
    return load


@contextlib.contextmanager
def postgres() -> Iterator[object]:
    """The tests' server: POLYOUT_TEST_POSTGRES_URL's, else a throwaway cluster."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.pg_cluster import start_cluster

    with start_cluster() as server:
        yield server


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} CPUs"


def main(argv: Sequence[str] | None = None) -> int:
    parser = h.parser(__doc__)
    parser.add_argument("--contacts", type=int, help="how many (default: by size)")
    parser.add_argument(
        "--batch", type=int, default=PgCampaignBase.feed_batch, help="contacts per append"
    )
    args = parser.parse_args(argv)
    count = args.contacts or h.pick(args, full=1_000_000, quick=100_000, smoke=2_000)
    print(f"{count:,} contacts, {args.batch} per append; load average {load_average()}")
    with postgres() as server:
        create = server.create_database  # type: ignore[attr-defined]
        baseline = asyncio.run(bare_copy(create("polyout_bench"), count, args.batch))
        ours = asyncio.run(polyout_load(create("polyout_bench"), count, args.batch))
    print(f"after: load average {load_average()}")
    rate, bare = count / ours.seconds, count / baseline.seconds
    peak = h.peak_rss_mb()
    rows = [
        h.Row(
            f"PG load: {count:,} contacts into the store (append, COPY)",
            rate,
            bare,
            "contacts/s",
            target=f">= {TARGET:,.0f}/s",
            met=rate >= TARGET,
            baseline_name="bare COPY, plain table",
        ),
        h.Row(
            "PG load: RSS at the end over RSS after a tenth",
            ours.rss_end / ours.rss_early if ours.rss_early else float("nan"),
            baseline.rss_end / baseline.rss_early if baseline.rss_early else None,
            "x",
            target="flat (<= 1.1x)",
            met=bool(ours.rss_early) and ours.rss_end <= 1.1 * ours.rss_early,
            baseline_name="bare COPY",
        ),
        h.Row("PG load: peak RSS of the process", peak, None, "MB"),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
