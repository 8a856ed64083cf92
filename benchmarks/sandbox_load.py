"""How much load the sandbox sustains on loopback: triggers, then status polls.

Starts ``python -m polyout.sandbox`` in a separate process (so the load generator
and the server each get a core), drives it with raw aiohttp at a few concurrencies
for a few seconds each, and prints requests per second with p50/p99 latency.
Bounded in time (``--seconds`` per step) and count (``--max-requests`` per step),
and it only ever talks to 127.0.0.1.

    python benchmarks/sandbox_load.py [--seconds 3] [--concurrency 1,32,128] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import attrs

HEADERS = {"X-PolyAi-Auth-Token": "bench"}
URL = re.compile(r"http://127\.0\.0\.1:\d+")


@attrs.frozen
class StepResult:
    phase: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    server_cpu: float | None
    """Share of one core the sandbox process used (None where /proc is missing)."""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def start_sandbox() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polyout.sandbox",
        *("--host", "127.0.0.1", "--port", "0", "--seed", "1"),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    found = URL.search(line)
    if found is None:
        process.kill()
        raise RuntimeError(f"the sandbox did not print its URL: {line!r}")
    return process, found.group()


async def stop_sandbox(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return await asyncio.wait_for(process.wait(), timeout=10)
    except asyncio.TimeoutError:
        process.kill()
        return await process.wait()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (Linux only)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Request = Callable[[aiohttp.ClientSession], Awaitable[int]]


async def run_step(
    session: aiohttp.ClientSession,
    request: Request,
    concurrency: int,
    seconds: float,
    max_requests: int,
) -> tuple[list[float], int, float]:
    """Latencies of successful requests, the error count, and the elapsed time."""
    latencies: list[float] = []
    errors = 0
    budget = itertools.count()
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline and next(budget) < max_requests:
            started = time.perf_counter()
            status = await request(session)
            if status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def percentile_ms(latencies: list[float], fraction: float) -> float:
    if not latencies:
        return float("nan")
    if len(latencies) == 1:
        return latencies[0] * 1000
    cut = statistics.quantiles(latencies, n=100, method="inclusive")
    return cut[round(fraction * 100) - 1] * 1000


async def benchmark(
    concurrencies: Sequence[int], seconds: float, max_requests: int
) -> list[StepResult]:
    process, base_url = await start_sandbox()
    sids: list[str] = []
    next_sid = itertools.cycle(range(1 << 30))
    number = itertools.count()

    async def trigger(session: aiohttp.ClientSession) -> int:
        # Distinct valid UK numbers: nobody is dialled twice, even here.
        body = {"to_number": f"+4420794{next(number) % 100_000:05d}"}
        async with session.post(f"{base_url}/v1/outbound-calling", json=body, headers=HEADERS) as r:
            if r.status == 200:
                sids.append((await r.json())["call_sid"])
            else:
                await r.read()
            return r.status

    async def status(session: aiohttp.ClientSession) -> int:
        sid = sids[next(next_sid) % len(sids)]
        async with session.get(
            f"{base_url}/v1/outbound-calling/{sid}/status", headers=HEADERS
        ) as r:
            await r.read()
            return r.status

    results: list[StepResult] = []
    try:
        for phase, request in (("trigger", trigger), ("status", status)):
            for concurrency in concurrencies:
                connector = aiohttp.TCPConnector(limit=concurrency)
                cpu_before = cpu_seconds(process.pid)
                async with aiohttp.ClientSession(connector=connector) as session:
                    latencies, errors, elapsed = await run_step(
                        session, request, concurrency, seconds, max_requests
                    )
                cpu_after = cpu_seconds(process.pid)
                server_cpu = None
                if cpu_before is not None and cpu_after is not None:
                    server_cpu = (cpu_after - cpu_before) / elapsed
                results.append(
                    StepResult(
                        phase,
                        concurrency,
                        len(latencies),
                        errors,
                        elapsed,
                        percentile_ms(latencies, 0.50),
                        percentile_ms(latencies, 0.99),
                        server_cpu,
                    )
                )
    finally:
        code = await stop_sandbox(process)
    if code != 0:
        raise RuntimeError(f"the sandbox exited with {code}")
    return results


def print_table(results: list[StepResult]) -> None:
    header = ("phase", "conc", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server CPU")
    print("{:<8} {:>5} {:>9} {:>6} {:>8} {:>8} {:>8} {:>10}".format(*header))
    for r in results:
        cpu = "n/a" if r.server_cpu is None else f"{r.server_cpu:.0%}"
        print(
            f"{r.phase:<8} {r.concurrency:>5} {r.requests:>9} {r.errors:>6} "
            f"{r.per_second:>8.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {cpu:>10}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each step")
    parser.add_argument("--concurrency", default="1,32,128", help="comma-separated concurrencies")
    parser.add_argument("--max-requests", type=int, default=100_000, help="cap per step")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args(argv)
    concurrencies = [int(item) for item in args.concurrency.split(",")]
    results = asyncio.run(benchmark(concurrencies, args.seconds, args.max_requests))
    if args.json:
        for result in results:
            print(json.dumps({**attrs.asdict(result), "per_second": result.per_second}))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
