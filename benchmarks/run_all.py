"""Run every benchmark, each in its own process, and print one table of ratios.

Each ``bench_*.py`` script measures polyout and its baseline in the same run and prints
its rows; this collects them into one table (text, then Markdown for the README) with
the machine and the exact command, so results can be compared where absolute times
would only be noise.

    python benchmarks/run_all.py [--quick] [--smoke] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
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
TIMEOUT = 600.0  # per benchmark: everything stops by itself


def run_one(name: str, flags: Sequence[str]) -> tuple[list[h.Row], float, str | None]:
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
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    flags = [flag for flag, on in (("--quick", args.quick), ("--smoke", args.smoke)) if on]
    command = shlex.join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])])
    info = h.machine()
    print(f"machine: {info['cpus']} CPUs, {info['cpu']}, Python {info['python']}, {info['system']}")
    print(f"command: {command}\n", flush=True)

    rows: list[h.Row] = []
    failures: list[str] = []
    started = time.perf_counter()
    for name in names:
        print(f"running bench_{name}.py ...", flush=True)
        got, elapsed, error = run_one(name, flags)
        rows += got
        print(f"  {len(got)} rows in {elapsed:.0f} s", flush=True)
        if error is not None:
            failures.append(f"bench_{name}.py: {error}")
            print(f"  FAILED: {error}", flush=True)
    total = time.perf_counter() - started

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


if __name__ == "__main__":
    raise SystemExit(main())
