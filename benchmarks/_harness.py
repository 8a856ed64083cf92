"""What every benchmark shares: rows of results, a sandbox in its own process, CPU, RSS and
event-loop lag measurements, worker subprocesses, and the table printers.

A benchmark script measures polyout and its baseline in the same run, builds
:class:`Row` objects and hands them to :func:`report`, which prints a readable table
and, with ``--emit``, one machine-readable line per row for ``run_all.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from sandbox_load import cpu_seconds as process_cpu

import polyout
import polyout.campaign

ROW_PREFIX = "BENCH-ROW "
RESULT_PREFIX = "BENCH-RESULT "
API_KEY = "bench-key-0123456789"
_PR_SET_PDEATHSIG = 1
_URL = re.compile(r"http://127\.0\.0\.1:\d+")


# -- rows and tables -----------------------------------------------------------------------
@attrs.frozen
class Row:
    """One line of the results table: polyout, its baseline, and whether the target is met.

    ``met`` is None for an informational row (no target). ``ratio`` defaults to
    polyout / baseline when both are numbers and the baseline is not zero.
    """

    measure: str
    polyout: float
    baseline: float | None
    unit: str
    target: str = "-"
    met: bool | None = None
    ratio: float | None = attrs.field()
    baseline_name: str = ""

    @ratio.default
    def _ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.polyout / self.baseline

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Row:
        return cls(**json.loads(text))


HEADER = ("measure", "polyout", "baseline", "ratio", "target", "met?")


def format_value(value: float | None, unit: str) -> str:
    """Three significant figures (thousands separated), then the unit."""
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if value == 0 or abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def cells(row: Row) -> tuple[str, ...]:
    baseline = format_value(row.baseline, row.unit)
    if row.baseline_name and row.baseline is not None:
        baseline = f"{baseline} ({row.baseline_name})"
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
    met = {True: "yes", False: "NO", None: "-"}[row.met]
    return (row.measure, format_value(row.polyout, row.unit), baseline, ratio, row.target, met)


def text_table(rows: Sequence[Row]) -> str:
    table = [HEADER, *(cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: Sequence[Row]) -> str:
    def line(items: Sequence[str]) -> str:
        return "| " + " | ".join(item.replace("|", "\\|") for item in items) + " |"

    out = [line(HEADER), "|" + "---|" * len(HEADER)]
    out += [line(cells(row)) for row in rows]
    return "\n".join(out)


def report(rows: Sequence[Row], args: argparse.Namespace) -> None:
    """Print the rows as a table, and as machine-readable lines with ``--emit``."""
    print(text_table(rows), flush=True)
    if args.emit:
        for row in rows:
            print(ROW_PREFIX + row.to_json(), flush=True)


def parser(description: str | None) -> argparse.ArgumentParser:
    """The flags every benchmark accepts."""
    first_line = description.strip().splitlines()[0] if description else None
    result = argparse.ArgumentParser(description=first_line)
    result.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    result.add_argument(
        "--smoke", action="store_true", help="tiny sizes: only proves the script works"
    )
    result.add_argument("--emit", action="store_true", help="also print rows for run_all.py")
    return result


def pick(args: argparse.Namespace, full: int, quick: int, smoke: int) -> int:
    """The size for this run: ``--smoke`` wins over ``--quick``."""
    if args.smoke:
        return smoke
    return quick if args.quick else full


def at_most(value: float, limit: float) -> bool:
    return not math.isnan(value) and value <= limit


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def alternate(repeats: int) -> Iterator[tuple[int, bool]]:
    """(repeat, polyout_first): which side runs first flips every repeat, against drift."""
    for repeat in range(repeats):
        yield repeat, repeat % 2 == 0


# -- the machine ---------------------------------------------------------------------------
def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


# -- resources -----------------------------------------------------------------------------
def cpu_time() -> float:
    """CPU seconds of this process, all threads (CLOCK_PROCESS_CPUTIME_ID: ns, not ticks)."""
    return time.process_time()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


@attrs.define
class Measured:
    """CPU and wall seconds of one timed block."""

    cpu: float = 0.0
    wall: float = 0.0


@contextlib.contextmanager
def measured() -> Iterator[Measured]:
    result = Measured()
    cpu, wall = cpu_time(), time.perf_counter()
    try:
        yield result
    finally:
        result.cpu = cpu_time() - cpu
        result.wall = time.perf_counter() - wall


class LoopLag:
    """Samples how late the event loop wakes a sleeper: its p99 is the loop's lag.

    A task sleeps ``interval`` again and again and records how much later than asked
    it woke; a loop kept busy by callbacks wakes it late.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(loop.time() - asked - self.interval, 0.0))

    def percentile(self, fraction: float) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- the sandbox, in its own process -------------------------------------------------------
@attrs.frozen
class SandboxProcess:
    url: str
    pid: int

    def cpu(self) -> float | None:
        return process_cpu(self.pid)


def _die_with_parent() -> None:
    """In the sandbox's process: SIGTERM it if the benchmark dies first (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def can_pin() -> bool:
    """Whether the server and the client can each have a core of their own."""
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin(cpu: int) -> None:
    """Run this process on core ``cpu`` only (what ``taskset -c CPU`` does)."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[cpu]})


@contextlib.asynccontextmanager
async def sandbox(*flags: str, cpu: int | None = None) -> AsyncIterator[SandboxProcess]:
    """``python -m polyout.sandbox`` on a free loopback port, stopped (SIGINT) on exit.

    With ``cpu``, the sandbox runs on that core only (chosen before this process is
    pinned elsewhere: see :func:`pin`).
    """
    chosen = sorted(os.sched_getaffinity(0))[cpu] if cpu is not None else None

    def prepare() -> None:
        _die_with_parent()
        if chosen is not None:
            os.sched_setaffinity(0, {chosen})

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polyout.sandbox",
        *("--host", "127.0.0.1", "--port", "0", "--seed", "1", "--api-key", API_KEY),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=prepare,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        found = _URL.search(line)
        if found is None:
            raise RuntimeError(f"the sandbox did not print its URL: {line!r}")
        yield SandboxProcess(found.group(), process.pid)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()


@attrs.define
class Followed:
    """When each call's end was reported (wall time), how many status polls were made,
    and how many calls were placed."""

    seen: dict[str, float] = attrs.Factory(dict)
    polls: int = 0
    placed: int = 0
    """Calls the campaign saw accepted (its ``placed`` events), where it counts them."""
    last_placed: float = 0.0
    """When the latest of them was accepted (wall time)."""


def count_polls(client: polyout.Client, followed: Followed) -> None:
    """Count every status read ``client`` makes (retries inside one read count once)."""
    original = client.get_status

    async def counted(
        call_sid: str, *, pacer: polyout.campaign.RequestPacer | None = None
    ) -> polyout.CallStatus:
        followed.polls += 1
        return await original(call_sid, pacer=pacer)

    client.get_status = counted  # type: ignore[method-assign]


async def call_ends(
    session: aiohttp.ClientSession, url: str, sids: Iterator[str] | Sequence[str], scale: float
) -> dict[str, float]:
    """The wall time at which each call ended on the sandbox (``/_sandbox/calls``).

    The sandbox's simulated time runs ``scale`` times faster than the wall clock: its
    ``now`` (read once, ``/_sandbox/config``) ties the two together.
    """
    before = time.time()
    async with session.get(f"{url}/_sandbox/config") as response:
        sandbox_now = datetime.fromisoformat((await response.json())["now"]).timestamp()
    wall_at_now = (before + time.time()) / 2
    ends = {}
    for sid in sids:
        async with session.get(f"{url}/_sandbox/calls/{sid}") as response:
            ended = datetime.fromisoformat((await response.json())["ended_at"]).timestamp()
        ends[sid] = wall_at_now + (ended - sandbox_now) / scale
    return ends


# -- worker subprocesses (for a clean peak RSS per side) -----------------------------------
def emit_result(result: dict[str, Any]) -> None:
    """What a worker subprocess hands back to its parent."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_worker(script: str | Path, *args: str, timeout: float = 300) -> dict[str, Any]:
    """Run ``script`` with ``args`` in a fresh interpreter; return the result it emitted."""
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            return result
    raise RuntimeError(
        f"{Path(script).name} {' '.join(args)} exited {done.returncode} without a result:\n"
        f"{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )
