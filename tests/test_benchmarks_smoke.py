"""The benchmark scripts keep working: each runs in smoke mode (tiny sizes) and prints its rows.

Numbers are not checked here (they are noise at these sizes): only that every script
exits 0 and emits rows that run_all.py can read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = (
    "client_overhead",
    "pacing",
    "scale",
    "memory",
    "journal",
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
ROW_PREFIX = "BENCH-ROW "


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_runs_in_smoke_mode(name: str) -> None:
    script = BENCHMARKS / f"bench_{name}.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--smoke", "--emit"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith(ROW_PREFIX)]
    assert rows, done.stdout[-3000:]
    assert all('"measure"' in row for row in rows)
