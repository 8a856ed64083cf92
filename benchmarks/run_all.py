"""Run every benchmark, each in its own process, and print one table of ratios.

Each ``bench_*.py`` script measures polyout and its baseline in the same run and prints
its rows; this collects them into one table (text, then Markdown for the README) with
the machine and the exact command, so results can be compared where absolute times
would only be noise.

Three lanes, so that a run takes minutes, not ten (``--serial``: one script at a time):

* the timed scripts (:data:`SOLO`: wall-clock spans, latencies, loop lag, CPU ratios
  of a client and its server) run one at a time, nothing else of ours beside them;
  those whose targets have no room for a busy core (:data:`ALONE`: the client CPU
  pinned to the cores, a span within 2%, a detection delay on a clock 50 times fast)
  run first, with the machine to themselves;
* the scripts whose figures are CPU time or peak RSS of their own processes
  (:data:`SIDE`) run one after another at the lowest priority (``nice 19``, their
  temporary files on tmpfs so that they queue no fsync with them) beside the other
  timed ones, once the :data:`ALONE` ones are done: they take only the CPU those leave
  (a wide margin each: loop lag, throughput, a detection delay of seconds);
* the two long one-process jobs with a wide margin on their wall-clock targets
  (:data:`PAIRED`: the rehearsal's minute, PostgreSQL's 20,000 contacts/s) run
  together at the end, once every timed script is done (the side lane, if still
  going, yields to them).

    python benchmarks/run_all.py [--quick] [--smoke] [--only NAME,...] [--serial]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "client_overhead",
    "pacing",
    "scale",
    "memory",
    "sqlite_store",
    "polling",
    "campaign_speed",
    "engine",
    "engine_cpu",
    "rehearsal",
    "pg_load",
    "workers",
    "pg_store",
)
#: CPU time and peak RSS of their own processes: run beside the timed ones, niced.
SIDE = ("memory", "engine", "engine_cpu")
#: Long single-process runs, far inside their wall-clock targets: run together, last.
PAIRED = ("rehearsal", "pg_load")
#: Everything else is timed: one at a time.
SOLO = tuple(name for name in BENCHMARKS if name not in SIDE + PAIRED)
#: The timed scripts that have the machine to themselves, first: client and server pinned
#: to a core each; a span within 2% of ideal (pacing, several workers); a detection delay
#: on a clock 50 times fast (a busy core's millisecond is 50 of the call's).
ALONE = ("client_overhead", "pacing", "polling", "workers")
TIMEOUT = 600.0  # per benchmark: everything stops by itself

Outcome = tuple[list[h.Row], float, "str | None"]


def _lowest_priority() -> None:
    os.nice(19)


def _side_lane_env() -> dict[str, str]:
    """The side lane's temporary files on tmpfs: nice covers the CPU, not the disk, and
    its fsyncs would queue with the timed scripts' (an intent's commit is in a span)."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        return {**os.environ, "TMPDIR": shm}
    return dict(os.environ)


def run_one(name: str, flags: Sequence[str], *, niced: bool = False) -> Outcome:
    """The rows a benchmark emitted, how long it took, and an error if it failed."""
    script = HERE / f"bench_{name}.py"
    if not script.exists():
        return [], 0.0, f"{script.name} does not exist yet"
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script), *flags, "--emit"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            preexec_fn=_lowest_priority if niced else None,
            env=_side_lane_env() if niced else None,
        )
    except subprocess.TimeoutExpired:
        return [], time.perf_counter() - started, f"timed out after {TIMEOUT:g} s"
    elapsed = time.perf_counter() - started
    rows = [
        h.Row.from_json(line[len(h.ROW_PREFIX) :])
        for line in done.stdout.splitlines()
        if line.startswith(h.ROW_PREFIX)
    ]
    error = None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        error = f"exited {done.returncode}:\n  " + "\n  ".join(tail)
    return rows, elapsed, error


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: only proves they run")
    parser.add_argument("--only", help="comma-separated benchmark names, e.g. memory,journal")
    parser.add_argument("--serial", action="store_true", help="one script at a time, no lanes")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    flags = [flag for flag, on in (("--quick", args.quick), ("--smoke", args.smoke)) if on]
    command = shlex.join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])])
    info = h.machine()
    print(f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['system']}")
    print(f"command: {command}\n", flush=True)

    started = time.perf_counter()
    done = run_serially(names, flags) if args.serial else run_in_lanes(names, flags)
    total = time.perf_counter() - started
    rows: list[h.Row] = []
    failures: list[str] = []
    for name in names:  # the table keeps the benchmarks' order, whatever finished first
        got, _, error = done[name]
        rows += got
        if error is not None:
            failures.append(f"bench_{name}.py: {error}")
    times = ", ".join(f"{name} {done[name][1]:.0f} s" for name in names)
    print(f"\nwall time of each script: {times}")

    print()
    print(h.text_table(rows))
    missed = [row for row in rows if row.met is False]
    print(f"\n{len(rows)} rows, {len(missed)} targets missed, {total:.0f} s in all")
    print("\nMarkdown (for benchmarks/README.md):\n")
    print(
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"{info['system']}. Command: `{command}` ({total:.0f} s).\n"
    )
    print(h.markdown_table(rows))
    for failure in failures:
        print(f"\nFAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


_SAYING = threading.Lock()


def _say(line: str) -> None:
    with _SAYING:  # lanes print from their own threads: whole lines only
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _run_and_say(name: str, flags: Sequence[str], *, niced: bool = False) -> Outcome:
    lane = " (niced, beside the timed ones)" if niced else ""
    _say(f"running bench_{name}.py{lane} ...")
    outcome = run_one(name, flags, niced=niced)
    got, elapsed, error = outcome
    _say(f"  bench_{name}.py: {len(got)} rows in {elapsed:.0f} s")
    if error is not None:
        _say(f"  bench_{name}.py FAILED: {error}")
    return outcome


def run_serially(names: Sequence[str], flags: Sequence[str]) -> dict[str, Outcome]:
    return {name: _run_and_say(name, flags) for name in names}


def run_in_lanes(names: Sequence[str], flags: Sequence[str]) -> dict[str, Outcome]:
    """The timed scripts one at a time (the :data:`ALONE` ones first), the side lane niced
    beside the others, then the paired ones together (the side lane still niced)."""
    timed = [name for name in names if name not in SIDE + PAIRED]
    solo = [name for name in timed if name in ALONE] + [n for n in timed if n not in ALONE]
    side = [name for name in names if name in SIDE]
    paired = [name for name in names if name in PAIRED]
    done: dict[str, Outcome] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        side_lane: concurrent.futures.Future[None] | None = None

        def run_side() -> None:
            for name in side:
                done[name] = _run_and_say(name, flags, niced=True)

        for name in solo:
            if side_lane is None and side and name not in ALONE:
                side_lane = pool.submit(run_side)
            done[name] = _run_and_say(name, flags)
        if side_lane is None and side:
            side_lane = pool.submit(run_side)
        # The side lane, if still going, only takes what these two leave.
        for name, outcome in zip(
            paired, pool.map(lambda name: _run_and_say(name, flags), paired), strict=True
        ):
            done[name] = outcome
        if side_lane is not None:
            side_lane.result()
    return done


if __name__ == "__main__":
    raise SystemExit(main())
