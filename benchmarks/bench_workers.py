"""Workers sharing one account's rate (issue 16): 1, 2 and 4 processes, one slot row.

Each worker is its own process with its own ``PostgresStore`` and ``SharedPacer`` on the
same account; together they take K slots at the rate R, each noting the wall time it was
released. The ideal is K slots exactly ``1 / R`` apart: ``(K - 1) / R`` seconds.

Shown, for 1, 2 and 4 workers at the same R: the span of the releases over the ideal
(target within 2%; the pacer's documented margin is 1.5%), and the releases a strict
server would have refused: a sliding window of R per second replayed over the release
times (the sandbox's own ``SlidingWindow``; target zero). Then the highest R that 4
workers sustain (span within 5% of the ideal, none refused; target >= 500/s).

    python benchmarks/bench_workers.py [--quick] [--smoke]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h
from bench_pg_load import postgres

from polyout._campaign._pg_rate import PgRateRow
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._shared_rate import SharedPacer
from polyout.sandbox._ratelimit import SlidingWindow

SCRIPT = Path(__file__).resolve()
START_AFTER = 1.5  # seconds: every worker connected before the first slot


async def child(url: str, account: str, rate: float, count: int, start: float) -> None:
    store = await PostgresStore.connect(url)
    pacer = SharedPacer(rate, PgRateRow(store, account))
    await asyncio.sleep(max(0.0, start - time.time()))
    releases = []
    for _ in range(count):
        await pacer.acquire()
        releases.append(time.time())
    await pacer.aclose()
    await store.aclose()
    h.emit_result({"releases": releases, "given_up": pacer.given_up})


def refused(releases: Sequence[float], rate: float) -> int:
    """How many a server allowing ``rate`` in any sliding second would have refused."""
    window, count = SlidingWindow(int(rate)), 0
    for moment in sorted(releases):
        if window.wait("key", moment) > 0:
            count += 1
        else:
            window.record("key", moment)
    return count


def shared_run(url: str, workers: int, rate: float, total: int, account: str) -> tuple[float, int]:
    """(span over ideal, refused) for ``workers`` processes taking ``total`` slots."""
    start = time.time() + START_AFTER
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(
            pool.map(
                lambda _: h.run_worker(
                    SCRIPT, "--child", url, account, str(rate), str(total // workers), str(start)
                ),
                range(workers),
            )
        )
    releases = [moment for result in results for moment in result["releases"]]
    ideal = (len(releases) - 1) / rate
    return (max(releases) - min(releases)) / ideal, refused(releases, rate)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        url, account, per_second, count, start = argv[1:6]
        asyncio.run(child(url, account, float(per_second), int(count), float(start)))
        return 0
    args = h.parser(__doc__).parse_args(argv)
    rate = float(h.pick(args, full=100, quick=100, smoke=50))
    total = h.pick(args, full=800, quick=400, smoke=40)
    rows: list[h.Row] = []
    with postgres() as server:
        url = server.create_database()  # type: ignore[attr-defined]
        for workers in (1, 2, 4):
            over, refusals = shared_run(url, workers, rate, total, f"acct-{workers}")
            rows.append(
                h.Row(
                    f"{workers} worker(s) at {rate:g}/s: span over ideal",
                    over,
                    1.0,
                    "x",
                    target="<= 1.02",
                    met=over <= 1.02,
                    baseline_name="ideal",
                )
            )
            rows.append(
                h.Row(
                    f"{workers} worker(s) at {rate:g}/s: refused by a strict R/s window",
                    float(refusals),
                    0.0,
                    "",
                    target="0",
                    met=refusals == 0,
                )
            )
        fast = (500.0,) if args.smoke else (250.0, 500.0, 750.0, 1000.0)
        sustained = 0.0
        for high in fast:
            slots = int(high * (1 if args.smoke else 3))
            over, refusals = shared_run(url, 4, high, slots, f"acct-high-{high:g}")
            if over <= 1.05 and refusals == 0:
                sustained = high
        rows.append(
            h.Row(
                "highest rate 4 workers sustain (span <= 1.05x ideal, none refused)",
                sustained,
                500.0,
                "/s",
                target=">= 500/s",
                met=sustained >= 500.0,
                baseline_name="target",
            )
        )
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
