"""A large finished campaign written straight through the store API, and the report's cost.

``python -m tests.report.large N [FOLDER]`` writes an N-contact SQLite store (in FOLDER,
by default a temporary one in /dev/shm) and then, in a fresh interpreter, builds the
HTML report of it as the command does, printing the seconds, the peak RSS and the
page's size. Contacts are spread over five countries, one trigger every 50 ms; one in
four is not answered and is called again an hour later (not answered again), one in
a hundred ends unknown.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    ContactEntry,
    DueContact,
    FeedPosition,
    StoredCampaign,
)

S = ContactState
WORKER = "writer"
START = 1772442000.0  # 2026-03-02 09:00 UTC
#: Any time after every due time: claims take whatever is scheduled.
_LATER = START + 10 * 365 * 86400
_BATCH = 1000


def number(seq: int) -> str:
    """A valid number, in one of five countries by turns, over a hundred exchanges each
    (a thousand 9-digit prefixes per country, as real lists spread)."""
    k = seq // 5
    country = seq % 5
    if country == 0:
        return f"+4420{7900 + k % 100:04d}{k // 100:04d}"
    if country == 1:
        return f"+1{(415, 212, 312)[k % 3]}{555 + (k // 3) % 100:03d}{k // 300:04d}"
    if country == 2:
        return f"+331{42 + k % 50:02d}{k // 50:06d}"
    if country == 3:
        return f"+4930{9000 + k % 100:04d}{k // 100:04d}"
    return f"+612{9300 + k % 100:04d}{k // 100:04d}"


def placed_at(seq: int, attempt: int) -> float:
    return START + seq / 20.0 + (attempt - 1) * 3660


DEFINITION = CampaignDefinition(
    settings={"rate": 20.0, "max_attempts": 2, "retry_delay": 3600.0},
    connection={"api": "agents", "base_url": "http://127.0.0.1:8000"},
    suppressed=frozenset(),
    created_at=START,
)


async def write_campaign(path: Path, contacts: int) -> None:
    """A new SQLite store at ``path`` holding the campaign."""
    store, campaign = await SQLiteStore.create_path(path, DEFINITION)
    try:
        await fill(campaign, contacts)
    finally:
        await store.aclose()


async def fill(campaign: StoredCampaign, contacts: int) -> None:
    """Append ``contacts`` to a new campaign and take each to its end, batch by batch."""
    for first in range(0, contacts, _BATCH):
        seqs = range(first, min(first + _BATCH, contacts))
        entries = [
            ContactEntry(seq, f"c{seq}", seq + 2, number(seq), S.SCHEDULED, due=0.0) for seq in seqs
        ]
        position = FeedPosition(seqs[-1] + 1, None, seqs[-1] + 1 == contacts)
        await campaign.append(entries, position, now=START)
        for attempt in (1, 2):
            due = await campaign.claim_due(WORKER, _LATER, _BATCH)
            await asyncio.gather(*(_call(campaign, contact, attempt) for contact in due))
    await campaign.flush()


async def _call(campaign: StoredCampaign, contact: DueContact, attempt: int) -> None:
    seq, at = contact.seq, placed_at(contact.seq, attempt)
    intent = await campaign.open_intent(WORKER, seq, after=contact.intents, now=at)
    if seq % 100 == 99:
        await campaign.record_unknown(seq, intent, reason="answer lost", error=None, now=at)
        return
    await campaign.record_placement(
        seq,
        intent,
        call_sid=f"OUT-{seq}-{attempt}",
        call_status="queued",
        correlation_id=None,
        deadline=at + 7200,
        now=at,
    )
    unanswered = seq % 4 == 1
    await campaign.record_outcome(
        seq,
        intent,
        outcome=S.NO_ANSWER if unanswered else S.SUCCESS,
        retry_due=at + 3660 if unanswered and attempt == 1 else None,
        reason=None,
        now=at + 60,
    )


def report_cost(store: Path, page: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of ``polyout campaign report STORE --html PAGE``, run
    in a fresh interpreter (the peak is that process's own)."""
    code = (
        "import resource, sys, time\n"
        "from polyout._cli import main\n"
        "started = time.perf_counter()\n"
        "code = main(['campaign', 'report', sys.argv[1], '--html', sys.argv[2]])\n"
        "print(time.perf_counter() - started, "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        "sys.exit(code)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code, str(store), str(page)],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak = child.stdout.strip().splitlines()[-1].split()
    return float(seconds), float(peak)


def main(contacts: int, folder: Path) -> None:
    store = folder / "large.polyout.db"
    started = time.perf_counter()
    asyncio.run(write_campaign(store, contacts))
    print(f"wrote {contacts:,} contacts in {time.perf_counter() - started:.1f}s", flush=True)
    seconds, peak = report_cost(store, folder / "large.html")
    size = (folder / "large.html").stat().st_size / 1e6
    print(f"report: {seconds:.2f}s, peak RSS {peak:.0f} MB, page {size:.2f} MB")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    if len(sys.argv) > 2:
        main(count, Path(sys.argv[2]))
    else:
        with tempfile.TemporaryDirectory(
            dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        ) as d:
            main(count, Path(d))
