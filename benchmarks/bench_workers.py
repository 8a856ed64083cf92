"""Workers sharing one account's rate (issue 16): 1, 2 and 4 processes, one slot row.

Each worker is its own process with its own ``PostgresStore`` and ``SharedPacer`` on the
same account; together they take K slots at the rate R, each noting the wall time it was
released (then calling ``sent_now``, as a campaign does right before its send). The
ideal is K slots exactly ``1 / R`` apart: ``(K - 1) / R`` seconds.

Shown, for 1, 2 and 4 workers at the same R: the span of the releases over the ideal
(target within 2%; the pacer's documented margin is 1.5%), the releases a strict
server would have refused (a sliding window of R per second replayed over the release
times, the sandbox's own ``SlidingWindow``; target zero), and the tightest second: the
least time any R + 1 releases span, over one second (the margin left; the pacer keeps
7 ms of its 15 for the trips to the server). Then, for 4 workers at 250-1,000/s, the
same, and the highest R they sustain (span within 5% of the ideal, none refused; target
>= 500/s); with each, the steady rate (without the first and last half second: the cold
start's gap, and the workers' last blocks unused once their share is done). Each worker
reports its round trips to the row, the slots it gave up (woke too late) or kept by
writing a gap first (paid), the slots of its blocks it let pass, how late it woke, and
its CPU per slot.

    python benchmarks/bench_workers.py [--quick] [--smoke] [--rates 250,500]
        [--set NAME=VALUE ...]   # a constant of polyout._campaign._shared_pacer, to compare
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _harness as h
import attrs
from bench_pg_load import load_average, postgres

from polyout._campaign import _shared_pacer
from polyout._campaign._pg_rate import PgRateRow
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._shared_pacer import SharedPacer
from polyout.sandbox._ratelimit import SlidingWindow

SCRIPT = Path(__file__).resolve()
# Seconds until the common start: every worker started and connected before the first
# slot (four interpreters start slowly on a loaded machine; the smoke run spares the wait).
START_AFTER = 3.0
SMOKE_START_AFTER = 1.5


async def child(url: str, account: str, rate: float, count: int, start: float) -> None:
    store = await PostgresStore.connect(url)
    row = PgRateRow(store, account)
    await row.clock()  # the row's own connection open before the start
    pacer = SharedPacer(rate, row)
    wakes = watch_wakes(pacer)
    await asyncio.sleep(max(0.0, start - time.time()))
    cpu = time.process_time()
    releases = []
    for _ in range(count):
        await pacer.acquire()
        releases.append(time.time())
        pacer.sent_now()
    cpu = time.process_time() - cpu
    await pacer.aclose()
    await store.aclose()
    h.emit_result(
        {
            "releases": releases,
            "given_up": pacer.given_up,
            "unused": pacer.unused,
            "reservations": pacer.reservations,
            "gaps": pacer.gaps,
            "paid": pacer.paid,
            "catch_ups": pacer.catch_ups,
            "cpu": cpu,
            "wakes": wakes,
        }
    )


def watch_wakes(pacer: SharedPacer) -> list[float]:
    """How late (seconds) the worker woke for each slot it slept towards."""
    wakes: list[float] = []
    sleep_until = pacer._sleep_until

    async def watched(moment: float) -> bool:
        limited = await sleep_until(moment)
        wakes.append(asyncio.get_running_loop().time() - moment)
        return limited

    pacer._sleep_until = watched  # type: ignore[method-assign]
    return wakes


def refused(releases: Sequence[float], rate: float) -> int:
    """How many a server allowing ``rate`` in any sliding second would have refused."""
    window, count = SlidingWindow(int(rate)), 0
    for moment in sorted(releases):
        if window.wait("key", moment) > 0:
            count += 1
        else:
            window.record("key", moment)
    return count


def steady_rate(releases: Sequence[float]) -> float:
    """Releases per second between half a second after the first and before the last:
    the rate sustained, without the start (cold gap) and the end (the workers' last
    blocks, unused once their share is done)."""
    first, last = min(releases) + 0.5, max(releases) - 0.5
    inside = sorted(moment for moment in releases if first <= moment <= last)
    return (len(inside) - 1) / (inside[-1] - inside[0]) if len(inside) > 2 else float("nan")


def tightest(releases: Sequence[float], rate: float) -> float:
    """The least time any ``rate + 1`` releases span, minus one second (negative: too many)."""
    ordered, n = sorted(releases), int(rate)
    spans = [ordered[i + n] - ordered[i] for i in range(len(ordered) - n)]
    return min(spans) - 1.0 if spans else float("nan")


@attrs.frozen
class Run:
    over: float  # span over ideal
    steady: float  # the rate between the first and last half second, over R
    refused: int
    tightest: float  # seconds
    given_up: int
    unused: int
    reservations: int
    gaps: int
    paid: int
    catch_ups: int
    cpu_per_slot: float  # seconds, the workers' own
    wakes: list[float]  # how late each wake was, seconds


def shared_run(
    url: str,
    workers: int,
    rate: float,
    total: int,
    account: str,
    overrides: Sequence[str],
    *,
    smoke: bool = False,
) -> Run:
    """``workers`` processes taking ``total`` slots of one account at ``rate``."""
    start = time.time() + (SMOKE_START_AFTER if smoke else START_AFTER)
    each = str(total // workers)
    command = ["--child", url, account, str(rate), each, str(start), *overrides]
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: h.run_worker(SCRIPT, *command), range(workers)))
    releases = [moment for result in results for moment in result["releases"]]
    ideal = (len(releases) - 1) / rate

    def total_of(key: str) -> Any:
        return sum(result[key] for result in results)

    return Run(
        over=(max(releases) - min(releases)) / ideal,
        steady=steady_rate(releases) / rate,
        refused=refused(releases, rate),
        tightest=tightest(releases, rate),
        given_up=total_of("given_up"),
        unused=total_of("unused"),
        reservations=total_of("reservations"),
        gaps=total_of("gaps"),
        paid=total_of("paid"),
        catch_ups=total_of("catch_ups"),
        cpu_per_slot=total_of("cpu") / len(releases),
        wakes=sorted(late for result in results for late in result["wakes"]),
    )


def rows_of(run: Run, label: str, target: float) -> list[h.Row]:
    return [
        h.Row(
            # In percent, as row 2: "1.02 x" hid whether 1.9% or 2.04% was measured.
            f"{label}: span over ideal",
            (run.over - 1.0) * 100,
            0.0,
            "%",
            target=f"<= {(target - 1.0) * 100:.0f} %",
            met=run.over <= target,
            baseline_name="ideal",
        ),
        h.Row(
            f"{label}: refused by a strict R/s window",
            float(run.refused),
            0.0,
            "",
            target="0",
            met=run.refused == 0,
        ),
        h.Row(f"{label}: steady rate (0.5 s in, until 0.5 s from the end)", run.steady, 1.0, "x R"),
        h.Row(f"{label}: tightest R+1 releases, over 1 s", run.tightest * 1000, None, "ms"),
        h.Row(
            f"{label}: round trips (slots given up, paid, unused; gaps, catch-ups)",
            float(run.reservations),
            None,
            f"({run.given_up}, {run.paid}, {run.unused}; {run.gaps}, {run.catch_ups})",
        ),
        h.Row(f"{label}: workers' CPU per slot", run.cpu_per_slot * 1e6, None, "µs"),
        h.Row(
            f"{label}: wake after the slot p50 (p99, max; over 8 ms)",
            h.percentile(run.wakes, 0.5) * 1000,
            None,
            f"ms ({h.percentile(run.wakes, 0.99) * 1000:.2f}, {max(run.wakes) * 1000:.1f};"
            f" {sum(late > 0.008 for late in run.wakes)})",
        ),
    ]


def apply_overrides(overrides: Sequence[str]) -> None:
    for item in overrides:
        name, _, value = item.partition("=")
        if not hasattr(_shared_pacer, name):
            raise SystemExit(f"--set {name}: no such constant in _shared_pacer")
        setattr(_shared_pacer, name, type(getattr(_shared_pacer, name))(value))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        url, account, per_second, count, start = argv[1:6]
        apply_overrides(argv[6:])
        asyncio.run(child(url, account, float(per_second), int(count), float(start)))
        return 0
    parser = h.parser(__doc__)
    parser.add_argument("--rates", help="the rates 4 workers try, comma-separated")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE")
    args = parser.parse_args(argv)
    apply_overrides(args.set)
    rate = float(h.pick(args, full=100, quick=100, smoke=50))
    total = h.pick(args, full=800, quick=400, smoke=40)
    if args.rates:
        fast = tuple(float(item) for item in args.rates.split(","))
    else:
        fast = (500.0,) if args.smoke else (250.0, 500.0, 750.0, 1000.0)
    print(f"load average before: {load_average()}; pid {os.getpid()}")
    rows: list[h.Row] = []
    with postgres() as server:
        url = server.create_database()  # type: ignore[attr-defined]
        for workers in (1, 2, 4):
            run = shared_run(
                url, workers, rate, total, f"acct-{workers}", args.set, smoke=args.smoke
            )
            rows += rows_of(run, f"{workers} worker(s) at {rate:g}/s", 1.02)
        sustained = 0.0
        for high in fast:
            slots = int(high * h.pick(args, full=6, quick=3, smoke=1))
            run = shared_run(url, 4, high, slots, f"acct-high-{high:g}", args.set, smoke=args.smoke)
            rows += rows_of(run, f"4 workers at {high:g}/s", 1.05)
            if run.over <= 1.05 and run.refused == 0:
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
    spans = [f"{row.polyout:.4f}" for row in rows if "span" in row.measure]
    print("spans over ideal, unrounded (%):", ", ".join(spans))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"load average after: {load_average()}; children's CPU {usage.ru_utime:.1f} s user")
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
