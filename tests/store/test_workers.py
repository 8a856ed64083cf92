"""The workers capability (``polyout/_campaign/_store_workers.py``, clauses 15-18) over
every store: heartbeats, reaping a silent worker exactly as ``recover`` would, a clean
leave. A heartbeat is made old by a short timeout and a short wait (real time: the
PostgreSQL store judges on the database's clock)."""

from __future__ import annotations

import asyncio

from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import Recovery
from tests.store.conftest import Stores
from tests.store.scenario import OTHER, WORKER, campaign_of, claim, dial, place, results

S = ContactState
#: Silent for longer than this is dead, in these tests.
TIMEOUT = 0.3


async def _silence() -> None:
    await asyncio.sleep(TIMEOUT + 0.15)


async def test_clause_15_a_heartbeat_makes_a_worker_live(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    assert await campaign.workers() == []
    await campaign.heartbeat(WORKER)
    [info] = await campaign.workers(timeout=TIMEOUT)
    assert (info.name, info.live) == (WORKER, True)
    assert 0.0 <= info.age < TIMEOUT
    await _silence()
    [info] = await campaign.workers(timeout=TIMEOUT)
    assert (info.live, info.age > TIMEOUT) == (False, True)
    await campaign.heartbeat(WORKER)
    assert [w.live for w in await campaign.workers(timeout=TIMEOUT)] == [True]


async def test_clause_16_a_silent_worker_is_reaped_exactly_as_recover_would(
    stores: Stores,
) -> None:
    campaign = await campaign_of(stores.open(), 4)
    await campaign.heartbeat(WORKER)
    await dial(campaign, 0, WORKER)  # open: may have rung
    closed = await dial(campaign, 1, WORKER)
    await campaign.close_intent(1, closed, error="HTTP 429", now=11.0)
    await place(campaign, 2, "CA2", WORKER)
    await claim(campaign, 3, WORKER)
    await _silence()
    assert await campaign.reap(OTHER, timeout=TIMEOUT, now=40.0) == [WORKER]
    assert [r["state"] for r in await results(campaign)] == [
        "unknown",
        "scheduled",
        "in_flight",
        "scheduled",
    ]
    # Its holds are dropped: its claim and its call in flight go to the live worker.
    assert [due.seq for due in await campaign.claim_due(OTHER, 40.0, 10)] == [3, 1]
    assert [call.seq for call in await campaign.calls_in_flight(OTHER)] == [2]
    # Idempotent: settled once; the reaper heartbeat by reaping.
    assert await campaign.reap(OTHER, timeout=TIMEOUT, now=41.0) == []
    assert [(w.name, w.live) for w in await campaign.workers(timeout=TIMEOUT)] == [(OTHER, True)]
    assert await campaign.recover(42.0, worker=WORKER) == Recovery(unknown=0, rescheduled=0)


async def test_clause_16_a_live_worker_is_not_reaped_and_a_reaped_one_may_come_back(
    stores: Stores,
) -> None:
    campaign = await campaign_of(stores.open(), 2)
    await campaign.heartbeat(WORKER)
    await campaign.heartbeat(OTHER)
    intent = await dial(campaign, 0, WORKER)
    assert await campaign.reap(OTHER, timeout=30.0, now=20.0) == []
    assert await campaign.counts() == {S.SCHEDULED: 1, S.DIALING: 1}
    await _silence()
    assert await campaign.reap(OTHER, timeout=TIMEOUT, now=21.0) == [WORKER]
    # WORKER was alive after all: it comes back holding nothing, its late answer is stale.
    await campaign.heartbeat(WORKER)
    assert {w.name for w in await campaign.workers(timeout=TIMEOUT)} == {WORKER, OTHER}
    assert [r["state"] for r in await results(campaign)] == ["unknown", "scheduled"]
    assert intent == 1


async def test_clause_17_a_worker_that_left_is_never_reaped(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    await campaign.heartbeat(WORKER)
    await claim(campaign, 0, WORKER)
    await campaign.release(WORKER, [0])
    await campaign.leave(WORKER)
    await _silence()
    assert await campaign.reap(OTHER, timeout=TIMEOUT, now=20.0) == []
    assert [w.name for w in await campaign.workers()] == [OTHER]


async def test_clause_15_heartbeats_outlive_a_process_only_where_workers_can(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 1)
    await campaign.heartbeat(WORKER)
    campaign = await stores.crash(store).open(campaign.name)
    names = [w.name for w in await campaign.workers()]
    # A database many processes share keeps the heartbeat (a reaper will judge it); a store
    # one process holds forgets its workers with that process.
    assert names == ([WORKER] if isinstance(store, PostgresStore) else [])


async def test_clause_16_a_reap_leaves_alone_what_another_worker_dialled_since(
    stores: Stores,
) -> None:
    """The dead worker's name once stood on the contact; the live worker's intent is its own.

    Found by the stateful test on PostgreSQL, where a crashed process's dialing keeps its
    worker's name: dialled by WORKER, the process crashed, the intent closed as not
    placed and rescheduled, then claimed and dialled by OTHER. Reaping WORKER must not
    settle OTHER's open intent as unknown.
    """
    store = stores.open()
    campaign = await campaign_of(store, 2)
    first = await dial(campaign, 0, WORKER)
    campaign = await stores.crash(store).open(campaign.name)
    await campaign.heartbeat(WORKER)  # its name comes back (or never left), then falls silent
    await campaign.record_not_placed(
        0, first, state=S.SCHEDULED, due=10.0, reason=None, error="HTTP 500", now=10.0
    )
    second = await dial(campaign, 0, OTHER, now=20.0)
    await _silence()
    assert await campaign.reap(OTHER, timeout=TIMEOUT, now=21.0) == [WORKER]
    assert [r["state"] for r in await results(campaign)] == ["dialing", "scheduled"]
    await campaign.record_placement(
        0,
        second,
        call_sid="CA1",
        call_status="queued",
        correlation_id=None,
        deadline=3600.0,
        now=22.0,
    )
    placed = (await results(campaign))[0]
    assert (placed["state"], placed["attempts"]) == ("in_flight", 1)
