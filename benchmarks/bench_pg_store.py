"""The PostgreSQL store's transitions (issue 16), against the SQLite store in the same run.

Each call goes through what a worker writes for it: a claim of one due contact (``FOR
UPDATE SKIP LOCKED``), its intent and its sid (each committed before the call returns),
then two statuses and the outcome (batched: committed together by the next durable
write, a flush, or 0.2 s). Shown: the latency of claim + intent + sid (p50, p99), one
contact after another, as one dispatcher worker sees it; the batched transitions per
second with 100 calls in flight (as the follower records them); and whole calls per
second. The baseline is the SQLite store (``bench_sqlite_store``) doing the same in the
same run: the embedded default, with one writer thread and no network.

    python benchmarks/bench_pg_store.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h
from bench_pg_load import load_average, postgres
from bench_sqlite_store import WORKER, batched, place_one, planned

from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import (
    CampaignStore,
    StoredCampaign,
)

IN_FLIGHT = 100


async def claim_intent_sid(campaign: StoredCampaign, calls: int) -> list[float]:
    """Claim one contact, open its intent, record its sid: each call's latency."""
    latencies: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        (contact,) = await campaign.claim_due(WORKER, time.time(), 1)
        await place_one(campaign, contact)
        latencies.append(time.perf_counter() - started)
    return latencies


async def measure(store: CampaignStore, calls: int) -> dict[str, float]:
    try:
        campaign = await planned(store, calls)
        latencies = await claim_intent_sid(campaign, calls)
        seconds = await batched(campaign, calls, IN_FLIGHT)
    finally:
        await store.aclose()
    return {
        "p50": h.percentile(latencies, 0.5),
        "p99": h.percentile(latencies, 0.99),
        "batched": 3 * calls / seconds,
        "whole": calls / (sum(latencies) + seconds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    calls = h.pick(args, full=3_000, quick=1_000, smoke=100)
    print(f"{calls:,} calls; load average {load_average()}")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = asyncio.run(measure(SQLiteStore(Path(folder) / "bench.db"), calls))
    with postgres() as server:
        url = server.create_database("polyout_bench")  # type: ignore[attr-defined]

        async def on_postgres() -> dict[str, float]:
            return await measure(await PostgresStore.connect(url), calls)

        pg = asyncio.run(on_postgres())
    rows = [
        h.Row(
            "PostgreSQL store, claim + intent + sid latency p50",
            pg["p50"] * 1000,
            sqlite["p50"] * 1000,
            "ms",
            baseline_name="SQLite store",
        ),
        h.Row(
            "PostgreSQL store, claim + intent + sid latency p99",
            pg["p99"] * 1000,
            sqlite["p99"] * 1000,
            "ms",
            baseline_name="SQLite store",
        ),
        h.Row(
            f"PostgreSQL store, batched transitions, {IN_FLIGHT} calls in flight",
            pg["batched"],
            sqlite["batched"],
            "/s",
            baseline_name="SQLite store",
        ),
        h.Row(
            "PostgreSQL store, whole calls (claim, intent, sid, 3 batched)",
            pg["whole"],
            sqlite["whole"],
            " calls/s",
            baseline_name="SQLite store",
        ),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
