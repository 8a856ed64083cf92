"""benchmarks/bench_rehearsal.py keeps working (its numbers are measured, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_rehearsal.py"
ROW_PREFIX = "BENCH-ROW "


def test_the_rehearsal_benchmark_runs_in_smoke_mode() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke", "--emit"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [
        json.loads(line.removeprefix(ROW_PREFIX))
        for line in done.stdout.splitlines()
        if line.startswith(ROW_PREFIX)
    ]
    assert len(rows) == 3
    assert "rehearsal of 200 contacts" in rows[0]["measure"]
    assert all(row["polyout"] > 0 for row in rows)
