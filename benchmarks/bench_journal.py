"""Journal: state transitions per second through the campaign's SQLite journal, as configured.

Each call goes through the transitions the runner writes: the intent to dial and the
sid (each committed and fsync'd at once: synchronous=FULL in WAL mode), two status
changes and the outcome (batched, committed every 2,000 writes or 0.2 s, as the
runner does). The target is that the journal is never the bottleneck at 5,000
transitions per second. The baseline is the same journal committing every write.

    python benchmarks/bench_journal.py [--quick] [--smoke]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import _harness as h

from polyout._campaign._journal import Journal

TARGET = 5_000.0
BATCH = 2_000  # the runner's _COMMIT_BATCH
INTERVAL = 0.2  # the runner's _COMMIT_INTERVAL, in seconds
TRANSITIONS_PER_CALL = 5  # intent, placed, two statuses, outcome


def planned_journal(path: Path, calls: int) -> Journal:
    journal = Journal.create(path, {"bench": True}, time.time())
    now = time.time()
    for seq in range(calls):
        journal.add_planned(
            seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=f"+4474{seq:08d}",
            request={"metadata": {"first_name": "Ada"}, "encryption": None, "variant_id": None},
            zones=(),
            due=now,
            now=now,
        )
    journal.commit()
    return journal


def batched(journal: Journal) -> Callable[[], None]:
    """The runner's rule: commit after BATCH writes, or INTERVAL seconds, whichever first."""
    last = time.perf_counter()

    def maybe_commit() -> None:
        nonlocal last
        if journal.pending_writes >= BATCH or time.perf_counter() - last >= INTERVAL:
            journal.commit()
            last = time.perf_counter()

    return maybe_commit


def lifecycles(
    journal: Journal, calls: int, after_write: Callable[[], None]
) -> tuple[float, float]:
    """Seconds for the durable part (intent + sid) and for the batched part of ``calls``."""
    durable = batch = 0.0
    for seq in range(calls):
        now = time.time()
        started = time.perf_counter()
        attempt = journal.begin_attempt(seq, now)
        sid = f"OUT-{seq:012d}"
        journal.record_placed(
            seq,
            attempt,
            call_sid=sid,
            call_status="queued",
            correlation_id=f"corr-{seq}",
            poll_deadline=now + 6600,
            now=now,
        )
        middle = time.perf_counter()
        for status in ("calling", "in_progress"):
            journal.record_status(seq, attempt, call_sid=sid, status=status, now=now)
            after_write()
        journal.record_outcome(
            seq,
            attempt,
            outcome="success",
            call_status="completed",
            reason=None,
            error=None,
            retry_at=None,
            now=now,
        )
        after_write()
        durable += middle - started
        batch += time.perf_counter() - middle
    journal.commit()
    return durable, batch


def measure(
    calls: int, workdir: Path, names: Sequence[str] = ("polyout", "every write committed")
) -> dict[str, tuple[float, float]]:
    results: dict[str, tuple[float, float]] = {}
    for name in names:
        journal = planned_journal(workdir / f"{len(results)}.db", calls)
        try:
            after = batched(journal) if name == "polyout" else journal.commit
            results[name] = lifecycles(journal, calls, after)
        finally:
            journal.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    calls = h.pick(args, full=4_000, quick=1_500, smoke=100)
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
        got = measure(calls, Path(workdir))
    ours, every = got["polyout"], got["every write committed"]
    batched_writes = (TRANSITIONS_PER_CALL - 2) * calls
    whole = TRANSITIONS_PER_CALL * calls / sum(ours)
    rows = [
        h.Row(
            "5. journal, batched transitions (status, outcome)",
            batched_writes / ours[1],
            batched_writes / every[1],
            "/s",
            target=f">= {TARGET:,.0f}/s",
            met=batched_writes / ours[1] >= TARGET,
            baseline_name="commit every write",
        ),
        h.Row(
            "5. journal, whole call (intent+sid fsync'd, 3 batched)",
            whole,
            TRANSITIONS_PER_CALL * calls / sum(every),
            "/s",
            target=f">= {TARGET:,.0f}/s",
            met=whole >= TARGET,
            baseline_name="commit every write",
        ),
        h.Row(
            "5. journal, durable trigger records (intent+sid)",
            calls / ours[0],
            None,
            "triggers/s",
        ),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
