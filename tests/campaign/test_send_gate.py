"""The send gate commits each intent while its send waits for the pacer's slot.

The commit (an fsync through the store's writer thread) used to sit between the pacer's
release and the send, and ``Pacer.sent_now`` spaced the next send from its end: each
period was the interval plus the commit. Virtual time makes the periods exact.
"""

from __future__ import annotations

import asyncio
import itertools

from polyout import Campaign, Contact
from polyout._campaign._memory_backing import MemoryBacking
from polyout._campaign._memory_store import MemoryCampaign, MemoryStore
from polyout._campaign._store import CampaignDefinition
from polyout._campaign._store_policy import IntentPolicy
from polyout.testing import LAST_DIGIT, FakePlacer, RateLimited, Send, VirtualClock


class _CommitTakes(MemoryStore):
    """A store whose intents take ``seconds`` of the clock to become durable (an fsync)."""

    def __init__(self, clock: VirtualClock, seconds: float) -> None:
        super().__init__()
        self._clock = clock
        self._seconds = seconds

    async def open(self, name: str) -> MemoryCampaign:
        campaign = await super().open(name)
        opened = campaign.open_intent

        async def slow(
            worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
        ) -> int:
            await self._clock.sleep(self._seconds)
            return await opened(worker, seq, after=after, now=now, policy=policy)

        campaign.open_intent = slow  # type: ignore[method-assign]
        return campaign

    async def create(self, name: str, definition: CampaignDefinition) -> MemoryCampaign:
        await super().create(name, definition)
        return await self.open(name)


def _people(count: int) -> list[Contact]:
    return [Contact(f"p{n}", f"+1415555{n:03d}0") for n in range(count)]


async def _placement_gaps(*, rate: float, count: int, commit: float) -> list[float]:
    """Seconds between placements, all successful, with intents that take ``commit``."""
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        store = _CommitTakes(clock, commit)
        stats = await Campaign(placer, _people(count), store=store, rate=rate, clock=clock).run()
    assert stats.states == {"success": count}
    times = sorted(placement.at for placement in placer.ledger.placements)
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_a_slow_intent_commit_does_not_slow_the_rate() -> None:
    # Each intent takes 15 ms to be durable, at 50/s (a slot every 20.2 ms).
    gaps = await _placement_gaps(rate=50.0, count=20, commit=0.015)
    interval = 1.015 / 50.0
    assert sum(gaps) <= len(gaps) * interval * 1.05  # was 1.6 times as long
    assert min(gaps) >= interval - 0.002 - 1e-6  # never closer than the pacer spaces them


async def test_a_commit_slower_than_the_interval_still_spaces_the_sends() -> None:
    # 30 ms commits at 50/s: the commit is the period now, and no two sends bunch up.
    gaps = await _placement_gaps(rate=50.0, count=10, commit=0.03)
    assert min(gaps) >= 0.03 - 1e-6
    assert max(gaps) <= 0.03 + 0.005


async def test_a_429_while_an_intent_waits_closes_it_before_the_pause() -> None:
    # The first send is answered 429 "retry after 20 s" 5 ms later, while the next
    # contact's intent, committed ahead, waits for its slot (20.2 ms at 50/s). A crash
    # during the pause must find that intent closed: open, it would read as "unknown".
    def first_is_limited(send: Send) -> RateLimited | None:
        return RateLimited(retry_after=20.0) if send.index == 1 else None

    people = _people(3)
    backing = MemoryBacking()
    async with VirtualClock() as clock:
        placer = FakePlacer(
            clock=clock, outcomes=LAST_DIGIT, trigger_faults=first_is_limited, latency=0.005
        )
        store = MemoryStore(backing)
        running = asyncio.create_task(
            Campaign(placer, people, store=store, rate=50.0, clock=clock).run()
        )
        await asyncio.sleep(10)  # in the middle of the pause
        intents = [
            intent
            for record in backing.campaigns["default"].contacts.values()
            for intent in record.intents
        ]
        assert len(intents) >= 2  # the next contact's intent was committed ahead
        assert [i for i in intents if i.outcome is None] == []  # none open: nothing is unknown
        assert len(placer.ledger.sends) == 1
        summary = await running
    assert summary.states == {"success": 3}
    assert placer.ledger.placements_per_number() == {person.phone: 1 for person in people}


async def test_at_a_slow_rate_an_intent_is_committed_just_before_its_slot() -> None:
    # At 2/s the slot is 505 ms away: the intent waits for it only briefly, so a crash
    # rarely finds an intent durable whose send had not left.
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        store = _CommitTakes(clock, 0.01)
        stats = await Campaign(placer, _people(4), store=store, rate=2.0, clock=clock).run()
        records = store.backing.campaigns["default"].contacts.values()
        committed = {record.entry.to_number: record.intents[0].started_at for record in records}
    assert stats.states == {"success": 4}
    # At most 50 ms ahead (the fake placer answers the quiet pacer's first trigger at once).
    for placement in placer.ledger.placements:
        assert 0.01 - 1e-6 <= placement.at - committed[placement.number] <= 0.05 + 1e-6
