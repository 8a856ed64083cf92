"""The account-wide rate on a real PostgreSQL: one slot row, however many workers.

Two shared pacers in one process, then two processes, reserve slots of one account's row:
their releases together never hold more than R in any one second, and add up to the
rate (not twice it). A 429 reported by one pauses the other for its Retry-After. Another
account's row is not slowed by it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from polyout._campaign._pg_rate import PgRateRow
from polyout._campaign._shared_rate import SharedPacer
from polyout.campaign import PostgresStore
from tests.multiworker.rate_checks import busiest_second

RATE = 20.0
EACH = 20  # releases per pacer


async def _releases(pacer: SharedPacer, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await pacer.acquire()
        times.append(time.time())
    return times


async def test_two_pacers_of_one_account_share_its_rate_never_more_than_r_in_a_second(
    pg_database: str,
) -> None:
    stores = [await PostgresStore.connect(pg_database) for _ in range(2)]
    pacers = [SharedPacer(RATE, PgRateRow(store, "acct")) for store in stores]
    try:
        started = time.time()
        first, second = await asyncio.gather(*(_releases(p, EACH) for p in pacers))
        span = time.time() - started
    finally:
        for pacer, store in zip(pacers, stores, strict=True):
            await pacer.aclose()
            await store.aclose()
    assert busiest_second(first + second) <= RATE
    # Together at the account's rate, not each at it: 40 sends at 20/s take about 2 s.
    assert span >= (2 * EACH - 1) / RATE
    assert span < (2 * EACH) / RATE * 1.3


async def test_a_429_seen_by_one_worker_pauses_the_others_and_spares_other_accounts(
    pg_database: str,
) -> None:
    store = await PostgresStore.connect(pg_database)
    seeing, other, elsewhere = (
        SharedPacer(RATE, PgRateRow(store, account)) for account in ("acct", "acct", "other")
    )
    try:
        await seeing.acquire()
        await other.acquire()  # it knows the row from before the 429
        seeing.on_rate_limited(0.6)
        await asyncio.sleep(0.1)  # the report reaches the row
        before = time.monotonic()
        await other.acquire()
        paused = time.monotonic() - before
        before = time.monotonic()
        await elsewhere.acquire()
        spared = time.monotonic() - before
        assert other.rate < RATE  # the row's halved rate, seen by a worker that met no 429
        assert other.rate_limited == 1  # and its count, which the poll budget follows
    finally:
        for pacer in (seeing, other, elsewhere):
            await pacer.aclose()
        await store.aclose()
    assert paused >= 0.4
    assert spared < 0.2


_CHILD = """
import asyncio, sys, time
from polyout._campaign._pg_rate import PgRateRow
from polyout._campaign._shared_rate import SharedPacer
from polyout.campaign import PostgresStore

async def main(url, rate, count, start):
    store = await PostgresStore.connect(url)
    pacer = SharedPacer(rate, PgRateRow(store, "acct"))
    await asyncio.sleep(max(0.0, start - time.time()))
    for _ in range(count):
        await pacer.acquire()
        print(repr(time.time()), flush=True)
    await pacer.aclose()
    await store.aclose()

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
"""


def test_two_processes_of_one_account_never_send_more_than_r_in_a_second(
    pg_database: str,
) -> None:
    start = time.time() + 1.5  # both connected by then: they compete from the first slot
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, pg_database, str(RATE), str(EACH), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    times: list[float] = []
    for child in children:
        out, _ = child.communicate(timeout=30)
        assert child.returncode == 0
        times += [float(line) for line in out.split()]
    assert len(times) == 2 * EACH
    assert busiest_second(times) <= RATE
    assert max(times) - min(times) >= (2 * EACH - 1) / RATE
