"""A worker's heartbeat and the reaper, on the doubles: two workers on one in-memory store.

Worker ``a`` places calls and stops with them still ringing (its stop grace is over): its
heartbeat stops, its calls stay in the store held by it. Worker ``b`` joins; once ``a``
has been silent for the reap timeout, ``b`` reaps it, adopts its calls during its run
(not only at its start) and follows them to their end. The fake placer's ledger says
that nobody was dialled twice.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from polyout import CallState, Campaign, Contact
from polyout._campaign._memory_store import MemoryCampaign
from polyout._campaign._shared_rate import REAP_TIMEOUT_ENV
from polyout.campaign import ContactState, MemoryStore
from polyout.testing import FakePlacer, VirtualClock

S = ContactState
CALL_SECONDS = 300.0  # long enough that a's calls still ring when b reaps it


def _people(count: int) -> list[Contact]:
    return [Contact(f"p{n}", f"+1415555{n:04d}") for n in range(count)]


async def test_a_silent_worker_is_reaped_and_its_calls_followed_to_their_end_by_a_live_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(REAP_TIMEOUT_ENV, "30")
    caplog.set_level(logging.INFO, logger="polyout")
    store = MemoryStore()
    async with VirtualClock() as clock:
        # Liveness on virtual time (the store's clock: the wall clock by default).
        monkeypatch.setattr(MemoryCampaign, "worker_clock", staticmethod(clock.time))
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=CALL_SECONDS)
        first = Campaign(
            placer,
            _people(6),
            store=store,
            name="spring",
            worker="a",
            rate=2.0,
            concurrency=3,
            stop_grace=0.0,
            poll_interval=(5.0, 5.0),
            clock=clock,
        )
        running = asyncio.create_task(first.run())
        while len(placer.ledger.placements) < 3:  # its three slots of concurrency taken
            await clock.sleep(0.5)
        first.stop()
        await running
        stored = await store.open("spring")
        left_by_a = (await stored.counts()).get(S.IN_FLIGHT, 0)
        assert left_by_a == 3
        silent_since = clock.time()

        second = Campaign.resume(
            placer, store=store, name="spring", worker="b", join=True, clock=clock
        )
        stats = await second.run()

    counts = await stored.counts()
    assert counts == {S.SUCCESS: 6}, counts
    assert stats.finished == 6
    assert not placer.ledger.dialled_more_than_once()
    assert len(placer.ledger.placements_per_number()) == 6  # everybody once
    reaped = [r for r in caplog.records if "reaped 1 silent worker (a)" in r.getMessage()]
    assert reaped, "b never reaped a"
    adopted = [r for r in caplog.records if "following 3 calls in flight" in r.getMessage()]
    assert adopted, "b never adopted a's calls during its run"
    assert clock.time() - silent_since >= CALL_SECONDS - 60  # followed to their end, not expired
    results = [record async for record in stored.results()]
    assert {record["state"] for record in results} == {"success"}


async def test_a_worker_that_finishes_leaves_at_once_and_one_left_ringing_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REAP_TIMEOUT_ENV, "30")
    store = MemoryStore()
    async with VirtualClock() as clock:
        monkeypatch.setattr(MemoryCampaign, "worker_clock", staticmethod(clock.time))
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=20.0)
        done = Campaign(placer, _people(2), store=store, name="done", worker="a", clock=clock)
        await done.run()
        assert await (await store.open("done")).workers() == []  # gone, not "live" for 30 s
        ringing = Campaign(
            placer, _people(2), store=store, name="ringing", worker="b", stop_grace=0.0, clock=clock
        )
        running = asyncio.create_task(ringing.run())
        while len(placer.ledger.placements) < 4:
            await clock.sleep(0.5)
        ringing.stop()
        await running
        # Its calls still ring: it stays until a reap settles it and its calls are adopted.
        assert [info.name for info in await (await store.open("ringing")).workers()] == ["b"]
