"""A rehearsal's speed: ``polyout campaign rehearse`` of 20,000 contacts, as an operator runs it.

The command in a child process, from start to printed forecast (interpreter start,
imports and reading the CSV included), with run's default settings (1 call a second,
50 in flight, 3 attempts, retries after 30 minutes) and the default outcome mix, so
some 27,000 calls and 400,000 status reads happen in virtual time. The target (issue
14): well under a minute on the 2-core machine.

    python benchmarks/bench_rehearsal.py [--quick] [--smoke]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness as h

TARGET = 60.0  # seconds of wall time, at most


def _contacts(path: Path, count: int) -> Path:
    # New York then San Francisco numbers: 10,000 of each at most.
    numbers = (f"+1{(2125550000 if n < 10_000 else 4155540000) + n:010d}" for n in range(count))
    path.write_text(
        "id,phone\n" + "".join(f"c{n},{phone}\n" for n, phone in enumerate(numbers)),
        encoding="utf-8",
    )
    return path


def _rehearse(contacts: Path) -> tuple[float, float, dict[str, object]]:
    """(wall seconds, CPU seconds of the child, its JSON forecast)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "polyout", "campaign", "rehearse", str(contacts), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    forecast: dict[str, object] = json.loads(done.stdout)
    return wall, cpu, forecast


def main(argv: list[str] | None = None) -> int:
    args = h.parser(__doc__).parse_args(argv)
    count = h.pick(args, full=20_000, quick=5_000, smoke=200)
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as folder:
        wall, cpu, forecast = _rehearse(_contacts(Path(folder) / "contacts.csv", count))
    placements = forecast["placements"]
    assert isinstance(placements, int)
    rows = [
        h.Row(
            f"R. rehearsal of {count:,} contacts ({placements:,} calls, default settings), "
            "wall time of the command",
            wall,
            None,
            "s",
            target=f"< {TARGET:g} s" if count == 20_000 else "-",
            met=h.at_most(wall, TARGET) if count == 20_000 else None,
        ),
        h.Row("R. the same, CPU of the command", cpu, None, "s"),
        h.Row("R. the same, CPU per call placed", cpu / placements * 1000, None, "ms"),
    ]
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
