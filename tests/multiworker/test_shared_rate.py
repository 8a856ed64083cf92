"""The account-wide rate on a real PostgreSQL: one slot row, however many workers.

Two shared pacers in one process, then two processes, reserve slots of one account's row:
their releases together never hold more than R in any one second, and add up to the
rate (not twice it). A 429 reported by one pauses the other for its Retry-After. Another
account's row is not slowed by it. At a high rate one round trip reserves a block of
slots; a worker that wakes too late gives its slot up, or, a little late, writes a gap
first and sends; a send that leaves late pushes every later slot back, and so does a quiet
spell's first send answered late; the cold blocks of workers starting together share one
gap; a schema 1 database gains the rate row's new column.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import psycopg

from polyout._campaign._pg_rate import PgRateRow
from polyout._campaign._pg_schema import SCHEMA_VERSION
from polyout._campaign._shared_rate import SharedPacer
from polyout.campaign import PostgresStore
from tests.multiworker.rate_checks import busiest_second

RATE = 20.0
EACH = 20  # releases per pacer


@contextlib.asynccontextmanager
async def _pacers(url: str, count: int, rate: float = RATE) -> AsyncIterator[list[SharedPacer]]:
    """``count`` workers of one account, each with its own store (its own connections)."""
    stores = [await PostgresStore.connect(url) for _ in range(count)]
    pacers = [SharedPacer(rate, PgRateRow(store, "acct")) for store in stores]
    try:
        yield pacers
    finally:
        for pacer, store in zip(pacers, stores, strict=True):
            await pacer.aclose()
            await store.aclose()


async def _releases(pacer: SharedPacer, count: int) -> list[float]:
    times = []
    for _ in range(count):
        await pacer.acquire()
        times.append(time.time())
    return times


async def test_two_pacers_of_one_account_share_its_rate_never_more_than_r_in_a_second(
    pg_database: str,
) -> None:
    async with _pacers(pg_database, 2) as pacers:
        started = time.time()
        first, second = await asyncio.gather(*(_releases(p, EACH) for p in pacers))
        span = time.time() - started
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


FAST = 400.0  # slots 2.5 ms apart: a block of up to 7 slots per round trip


async def test_at_a_high_rate_one_round_trip_reserves_a_block_of_slots(pg_database: str) -> None:
    async with _pacers(pg_database, 1, FAST) as (pacer,):
        await pacer.acquire()  # the cold start's block, and its gap
        times = await _releases(pacer, 200)
    assert pacer.reservations <= 200 / 4  # blocks: 1, 2, 4, 7, 7, ... slots
    assert busiest_second(times) <= FAST
    spacing = 1.015 / FAST
    assert times[-1] - times[0] >= 199 * spacing - 0.008  # never early, by the tolerance


async def _stuck_through_the_next_slot(
    pacer: SharedPacer, stuck: float
) -> tuple[float, float, tuple[int, int]]:
    """The release before and the one after the loop is stuck (a busy machine) for
    ``stuck`` seconds from 40 ms before the next slot, 51 ms away at 20/s; and the slots
    given up and paid for meanwhile."""
    await _releases(pacer, 3)  # one slot per block at 20/s, the clock known
    before = (pacer.given_up, pacer.paid)
    first = time.time()
    asyncio.get_running_loop().call_later(0.04, time.sleep, stuck)
    await pacer.acquire()
    second = time.time()
    return first, second, (pacer.given_up - before[0], pacer.paid - before[1])


async def test_a_worker_that_wakes_too_late_gives_its_slot_up(pg_database: str) -> None:
    async with _pacers(pg_database, 1) as (pacer,):
        # Woken 69 ms late: the gap to send it late would outlast a slot (51 ms).
        first, second, (given_up, _) = await _stuck_through_the_next_slot(pacer, 0.08)
    assert given_up == 1
    assert second - first >= 0.12  # not at the stuck end: a slot of its own, reserved after


async def test_a_worker_a_little_late_writes_a_gap_first_and_sends(pg_database: str) -> None:
    async with _pacers(pg_database, 2) as (late, other):
        # Woken ~19 ms late: 11 ms past the tolerance, a gap of 13 ms (< a slot).
        first, second, missed = await _stuck_through_the_next_slot(late, 0.03)
        await other.acquire()
        third = time.time()
    assert missed == (0, 1)  # none given up, one paid for
    assert second - first < 0.09  # at the stuck end, not a slot later
    spacing = 1.015 / RATE
    assert third - first >= 2 * spacing + 0.008  # the next slot moved back by the gap


async def test_a_send_that_leaves_late_pushes_every_later_slot_back(pg_database: str) -> None:
    async with _pacers(pg_database, 2) as (late, other):
        await late.acquire()
        sent = time.time()
        await asyncio.sleep(0.06)  # a slow commit between the release and the send
        late.sent_now()
        await late.aclose()  # at once: the gap is written before its connection closes
        await other.acquire()
        after = time.time()
    assert late.gaps == 1
    # Its next slot (51 ms after the late one's), pushed back by the 52 ms past the tolerance
    # (and by however late the release itself was, which ``sent`` includes).
    assert after - sent >= 1.015 / RATE + 0.06 - 0.008 - 0.004


async def test_a_quiet_spells_first_send_answered_late_pushes_later_slots_back(
    pg_database: str,
) -> None:
    # Its trip opened a connection on a busy machine: the answer bounds its arrival, and the
    # row makes up what the tolerance and the cold gap do not cover.
    async with _pacers(pg_database, 2, rate=5.0) as (first, other):
        await first.acquire()
        released = time.time()
        await asyncio.sleep(0.3)  # answered 300 ms after its slot
        first.on_success()
        await first.aclose()  # at once: the gap is written before its connection closes
        await other.acquire()
        after = time.time()
    assert first.gaps == 1
    # Its successor's slot, 203 ms after it, moved past the answer by all but the 8 ms of
    # tolerance and the 30 ms cold gap (without the gap it would be taken at once: 300 ms).
    assert after - released >= 1.015 / 5.0 + 0.3 - 0.008 - 0.03 - 0.004


async def test_cold_blocks_reserved_together_share_one_gap(pg_database: str) -> None:
    async with _pacers(pg_database, 3) as pacers:
        for pacer in pacers:
            await pacer.acquire()  # warm the row's connection: a slot of its own
        await asyncio.sleep(1.2)  # quiet: each worker's next send opens a connection
        colds = []
        for pacer in pacers + pacers[:1]:  # the first one twice: warm by then
            await pacer.acquire()
            colds.append(time.time())
        await asyncio.sleep(0.5 - (time.time() - colds[0]))
        due = time.time()  # half a second after the first: the next block pays
        await pacers[1].acquire()
        paid = time.time()
    spacing = 1.015 / RATE
    assert colds[3] - colds[0] < 3 * spacing + 0.04  # not 3 x (spacing + 30 ms)
    assert paid - due >= 0.03 - 0.002  # one 30 ms gap for them all


async def test_a_schema_1_database_gains_the_rate_rows_new_column(pg_database: str) -> None:
    store = await PostgresStore.connect(pg_database)
    await store.start()
    await store.aclose()
    async with await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as conn:
        await conn.execute("ALTER TABLE polyout_rate DROP COLUMN cold_since")
        await conn.execute("UPDATE polyout_schema SET version = 1")
    async with _pacers(pg_database, 1) as (pacer,):
        await pacer.acquire()
    async with await psycopg.AsyncConnection.connect(pg_database, autocommit=True) as conn:
        cursor = await conn.execute("SELECT version FROM polyout_schema")
        assert await cursor.fetchall() == [(SCHEMA_VERSION,)] == [(2,)]


async def test_a_429_drops_the_rest_of_the_block_and_the_rate_climbs_back(
    pg_database: str,
) -> None:
    async with _pacers(pg_database, 1, FAST) as (pacer,):
        await _releases(pacer, 40)  # blocks of several slots by now
        pacer.on_rate_limited(0.3)
        before = time.monotonic()
        await pacer.acquire()
        paused = time.monotonic() - before
        halved = pacer.rate
        await _releases(pacer, 60)  # a 25th of the rate back per slot
    assert paused >= 0.3 - 0.002
    assert halved == FAST / 2
    assert pacer.rate == FAST
