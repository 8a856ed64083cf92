"""Store (row 5): the campaign's transitions through the SQLite store the engine uses.

Each call goes through the transitions the engine writes, through ``SQLiteStore`` from
the event loop (every statement runs on the store's writer thread and is awaited):
the intent and the sid (each committed and fsync'd before the call returns: WAL,
synchronous=FULL), two statuses and the outcome (batched: committed every 2,000 writes
or 0.2 s). The target is that the store is never the bottleneck at 5,000 transitions
per second, with 100 calls in flight (as the follower records them) and for a whole
call (its two durable records one after another, as the dispatcher opens them, then
its three batched ones). Also shown: the batched transitions awaited one by one (the
thread hand-off per write) and the latency of the durable intent + sid (p50, p99).
The baseline is the synchronous journal under the store, driven directly
(``bench_journal.py``, the 0.1 engine's way).

    python benchmarks/bench_sqlite_store.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h
import bench_journal

from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignStore,
    ContactEntry,
    DueContact,
    FeedPosition,
    StoredCampaign,
)

WORKER = "bench"
TARGET = 5_000.0


async def planned(store: CampaignStore, calls: int) -> StoredCampaign:
    """A campaign of ``calls`` contacts, all due now, stored and committed."""
    campaign = await store.create(
        "bench", CampaignDefinition({"bench": True}, {}, frozenset(), time.time())
    )
    now = time.time()
    entries = [
        ContactEntry(
            seq=seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=f"+4474{seq:08d}",
            state=ContactState.SCHEDULED,
            due=now,
            request={"metadata": {"first_name": "Ada"}, "encryption": None, "variant_id": None},
        )
        for seq in range(calls)
    ]
    for first in range(0, calls, 1024):  # as the feeder hands them over
        batch = entries[first : first + 1024]
        await campaign.append(batch, FeedPosition(first + len(batch), None, False), now=now)
    await campaign.append([], FeedPosition(calls, None, True), now=now)
    await campaign.flush()
    return campaign


async def place_all(campaign: StoredCampaign, calls: int) -> list[float]:
    """Intent + sid for every contact, one after another; each call's durable latency in
    seconds."""
    latencies: list[float] = []
    due = await campaign.claim_due(WORKER, time.time(), calls)
    for contact in due:
        started = time.perf_counter()
        await place_one(campaign, contact)
        latencies.append(time.perf_counter() - started)
    return latencies


async def place_together(campaign: StoredCampaign, calls: int, in_flight: int) -> float:
    """Seconds for intent + sid of every contact, ``in_flight`` contacts at a time (as the
    dispatcher's trigger workers open them): durable writes that meet share a commit."""
    due = await campaign.claim_due(WORKER, time.time(), calls)
    started = time.perf_counter()
    for first in range(0, calls, in_flight):
        await asyncio.gather(
            *(place_one(campaign, contact) for contact in due[first : first + in_flight])
        )
    return time.perf_counter() - started


async def place_one(campaign: StoredCampaign, contact: DueContact) -> None:
    now = time.time()
    intent = await campaign.open_intent(WORKER, contact.seq, after=contact.intents, now=now)
    await campaign.record_placement(
        contact.seq,
        intent,
        call_sid=f"OUT-{contact.seq:012d}",
        call_status="queued",
        correlation_id=f"corr-{contact.seq}",
        deadline=now + 6600,
        now=now,
    )


async def follow(campaign: StoredCampaign, seq: int, now: float) -> None:
    for status in ("calling", "in_progress"):
        await campaign.record_status(seq, 1, status, now)
    await campaign.record_outcome(
        seq,
        1,
        outcome=ContactState.SUCCESS,
        retry_due=None,
        reason=None,
        now=now,
        call_status="completed",
    )


async def batched(campaign: StoredCampaign, calls: int, in_flight: int) -> float:
    """Seconds for the batched transitions of every call, ``in_flight`` calls at a time."""
    now = time.time()
    started = time.perf_counter()
    for first in range(0, calls, in_flight):
        seqs = range(first, min(first + in_flight, calls))
        await asyncio.gather(*(follow(campaign, seq, now) for seq in seqs))
    await campaign.flush()
    return time.perf_counter() - started


async def measure(calls: int, workdir: Path) -> dict[str, float]:
    got: dict[str, float] = {}
    for in_flight in (1, 100):
        store = SQLiteStore(workdir / f"{in_flight}.db")
        try:
            campaign = await planned(store, calls)
            if in_flight == 1:
                latencies = await place_all(campaign, calls)
            else:
                got[f"durable {in_flight}"] = await place_together(campaign, calls, in_flight)
            got[f"batched {in_flight} s"] = await batched(campaign, calls, in_flight)
            got[f"batched {in_flight}"] = 3 * calls / got[f"batched {in_flight} s"]
        finally:
            await store.aclose()
        if in_flight == 1:
            got["p50"], got["p99"] = h.percentile(latencies, 0.5), h.percentile(latencies, 0.99)
            got["durable"] = sum(latencies)
    return got


def main(argv: Sequence[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    calls = h.pick(args, full=4_000, quick=1_500, smoke=100)
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
        got = asyncio.run(measure(calls, Path(workdir)))
        sync_dir = Path(workdir) / "sync"
        sync_dir.mkdir()
        journal = bench_journal.measure(calls, sync_dir, ("polyout",))["polyout"]
    sync_batched = (bench_journal.TRANSITIONS_PER_CALL - 2) * calls / journal[1]
    sync_whole = bench_journal.TRANSITIONS_PER_CALL * calls / sum(journal)
    whole = bench_journal.TRANSITIONS_PER_CALL * calls / (got["durable"] + got["batched 100 s"])
    together = (
        bench_journal.TRANSITIONS_PER_CALL * calls / (got["durable 100"] + got["batched 100 s"])
    )
    rows = [
        h.Row(
            "5. store, batched transitions (status, outcome), 100 calls in flight",
            got["batched 100"],
            sync_batched,
            "/s",
            target=f">= {TARGET:,.0f}/s",
            met=got["batched 100"] >= TARGET,
            baseline_name="sync Journal",
        ),
        h.Row(
            "5. store, whole call (intent+sid fsync'd, 3 batched)",
            whole,
            sync_whole,
            "/s",
            target=f">= {TARGET:,.0f}/s",
            met=whole >= TARGET,
            baseline_name="sync Journal",
        ),
        h.Row(
            "5. store, whole call, 100 calls in flight (intent+sid group-committed, 3 batched)",
            together,
            sync_whole,
            "/s",
            target=f">= {TARGET:,.0f}/s",
            met=together >= TARGET,
            baseline_name="sync Journal, one at a time",
        ),
        h.Row(
            "5. store, batched transitions, awaited one by one",
            got["batched 1"],
            sync_batched,
            "/s",
            baseline_name="sync Journal",
        ),
        h.Row(
            "5. store, durable intent+sid, one after another",
            calls / got["durable"],
            calls / journal[0],
            "triggers/s",
            baseline_name="sync Journal",
        ),
        h.Row(
            "5. store, durable intent+sid, 100 calls in flight",
            calls / got["durable 100"],
            calls / journal[0],
            "triggers/s",
            baseline_name="sync Journal, one at a time",
        ),
        h.Row("5. store, intent+sid latency p50", got["p50"] * 1000, None, "ms"),
        h.Row("5. store, intent+sid latency p99", got["p99"] * 1000, None, "ms"),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
