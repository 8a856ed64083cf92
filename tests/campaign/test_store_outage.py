"""A store that cannot be reached for a while: the run pauses, reconnects and carries on.

The store here is the in-memory one behind a cut: from a chosen write on, every call
raises :class:`StoreUnavailable` for 40 s of virtual time, as a PostgreSQL store does
while its server restarts. The cut comes as a call's sid is written, and the other
workers reap this one meanwhile (its open intent becomes ``unknown``). When the store
answers again, the sid upgrades that ``unknown`` (store clause 3b), the worker settles
itself and finishes the campaign. The fake placer's ledger says what was sent, and when.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from polyout import CallState, Campaign, CampaignEvent, Contact, EventKind
from polyout._campaign._errors import StoreUnavailable
from polyout._campaign._memory_store import MemoryCampaign
from polyout._campaign._store_outage import STORE_LOST
from polyout.campaign import MemoryStore
from polyout.testing import FakePlacer, VirtualClock

REAP_TIMEOUT = 30.0  # seconds of silence after which the other workers reap this one


class Cut:
    """A campaign whose store stops answering at the ``at``-th call of ``method``: before
    that call's write, or after it committed (``committed``: its answer is lost)."""

    def __init__(
        self, campaign: MemoryCampaign, clock: VirtualClock, method: str, at: int, committed: bool
    ) -> None:
        self._campaign = campaign
        self._clock = clock
        self._method, self._at, self._committed = method, at, committed
        self.outage = 10.0
        self.calls = 0
        self.down: tuple[float, float] | None = None
        self.reaped = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._campaign, name)
        if not asyncio.iscoroutinefunction(attribute):
            return attribute

        async def call(*args: Any, **kwargs: Any) -> Any:
            now = self._clock.time()
            if name == self._method:
                self.calls += 1
                if self.calls == self._at:
                    self.down = (now, now + self.outage)
                    if self._committed:
                        await attribute(*args, **kwargs)
            if self.down is not None and self.down[0] <= now < self.down[1]:
                if not self.reaped and now >= self.down[0] + REAP_TIMEOUT:
                    # The other workers' reaper: this one has been silent for too long.
                    self.reaped = True
                    await self._campaign.recover(now, worker="main")
                raise StoreUnavailable("PostgreSQL store at db:5432/calls: the connection was lost")
            return await attribute(*args, **kwargs)

        return call


class CutStore(MemoryStore):
    def __init__(self, clock: VirtualClock, method: str, at: int, committed: bool) -> None:
        super().__init__()
        self._cut: Callable[[MemoryCampaign], Cut] = lambda c: Cut(c, clock, method, at, committed)
        self.cut: Cut | None = None
        self.outage = 10.0

    def _campaign(self, name: str) -> MemoryCampaign:
        if self.cut is None:
            self.cut = self._cut(super()._campaign(name))
            self.cut.outage = self.outage
        return cast(MemoryCampaign, self.cut)


NUMBERS = [f"+1415555{n:04d}" for n in range(6)]


def _people() -> list[Contact]:
    return [Contact(f"p{n}", number) for n, number in enumerate(NUMBERS)]


async def _run(
    method: str, at: int, *, committed: bool = False, outage: float = 10.0
) -> tuple[CutStore, FakePlacer, list[CampaignEvent]]:
    """Six contacts at 1/s, calls of 20 s; the store lost for ``outage`` seconds."""
    events: list[CampaignEvent] = []
    async with VirtualClock() as clock:
        store = CutStore(clock, method, at, committed)
        store.outage = outage
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=20.0)
        campaign = Campaign(
            placer, _people(), store=store, rate=1.0, clock=clock, on_event=events.append
        )
        stats = await campaign.run()
    assert stats.finished == 6
    assert stats.total == 6
    return store, placer, events


BRIEF = 10.0  # seconds: no reap
LONG = REAP_TIMEOUT + 10  # the others reap this worker meanwhile
CUTS = [
    (method, at, committed, BRIEF)
    for method, at in [
        ("record_placement", 3),
        ("open_intent", 3),
        ("record_outcome", 1),
        ("claim_due", 2),
        ("record_status", 2),
    ]
    for committed in (False, True)
] + [
    ("record_placement", 3, False, LONG),
    ("record_placement", 3, True, LONG),
    ("open_intent", 3, False, LONG),
    ("record_outcome", 1, True, LONG),
    ("claim_due", 2, True, LONG),
]


@pytest.mark.parametrize(("method", "at", "committed", "outage"), CUTS)
async def test_a_lost_store_pauses_sending_and_the_run_carries_on_when_it_answers(
    method: str, at: int, committed: bool, outage: float
) -> None:
    store, placer, events = await _run(method, at, committed=committed, outage=outage)

    assert store.cut is not None
    assert store.cut.down is not None
    cut_at, back_at = store.cut.down
    # Nothing was sent while the store could not be reached: no send without an intent.
    assert not [send for send in placer.ledger.sends if cut_at < send.at < back_at]
    # Everybody was called once, and every call was followed to its end.
    numbers = [placement.number for placement in placer.ledger.placements]
    assert sorted(numbers) == NUMBERS
    results = [record async for record in store.cut.results()]
    assert [record["state"] for record in results] == ["success"] * 6
    sids = {placement.number: placement.sid for placement in placer.ledger.placements}
    assert all(record["call_sid"] == sids[record["to_number"]] for record in results)
    assert all(record["attempts"] == 1 for record in results)
    paused = [event for event in events if event.kind is EventKind.PAUSED]
    assert [event.reason for event in paused] == [STORE_LOST]
    assert [event.kind for event in events].count(EventKind.RESUMED) == 1


async def test_a_sid_learned_after_a_reap_upgrades_the_unknown() -> None:
    store, placer, _ = await _run("record_placement", 3, outage=LONG)

    assert store.cut is not None
    assert store.cut.reaped
    third = placer.ledger.placements[2]
    history = await store.cut.history(2)
    # The reap settled the intent unknown; the sid learned late put the call in flight.
    assert [(entry.event, entry.intent, entry.status) for entry in history] == [
        ("intent", 1, None),
        ("final", 1, "unknown"),
        ("placed", 1, "queued"),
        ("final", 1, "success"),
    ]
    assert history[2].call_sid == third.sid


async def test_an_intent_whose_answer_was_lost_is_closed_and_the_next_one_sent() -> None:
    store, placer, _ = await _run("open_intent", 3, committed=True)

    assert store.cut is not None
    history = await store.cut.history(2)
    lines = [(entry.event, entry.intent) for entry in history]
    # Its commit landed, its answer did not: nothing was sent for it, and it says so;
    # a later intent placed the one call (closed ones between them sent nothing either).
    assert lines[:2] == [("intent", 1), ("not_placed", 1)]
    [placed] = [intent for event, intent in lines if event == "placed"]
    assert placed is not None
    assert placed > 1
    assert all(("not_placed", earlier) in lines for earlier in range(1, placed))
    assert placer.ledger.placement_count(NUMBERS[2]) == 1


async def test_an_intent_committed_before_a_reap_stays_unknown_and_is_never_sent() -> None:
    store, placer, _ = await _run("open_intent", 3, committed=True, outage=LONG)

    assert store.cut is not None
    assert store.cut.reaped
    results = [record async for record in store.cut.results()]
    # Reaped while its intent was open: "may have been placed" stands, even though this
    # worker knows better. The others were all called.
    assert [record["state"] for record in results] == ["success"] * 2 + ["unknown"] + [
        "success"
    ] * 3
    assert placer.ledger.placement_count(NUMBERS[2]) == 0
    assert len(placer.ledger.placements) == 5


# The moment of the stop (SIGTERM, in the outage) decides which part meets the lost
# store first: the worker recording the placement, or the poller.
FIRST_TO_FAIL = {"the placement's write": 5.0, "the poller": 5.5}


@pytest.mark.parametrize("first", list(FIRST_TO_FAIL))
async def test_a_stop_during_an_outage_does_not_wait_for_the_store(
    first: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with VirtualClock() as clock:
        store = CutStore(clock, "record_placement", 3, committed=False)
        store.outage = 3600.0  # the store does not come back
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=20.0)
        campaign = Campaign(placer, _people(), store=store, rate=1.0, clock=clock, seed=1)
        asyncio.get_running_loop().call_later(FIRST_TO_FAIL[first], campaign.stop)
        with pytest.raises(StoreUnavailable) as stopped:  # exit 3 on the command line
            await campaign.run()
        assert store.cut is not None
        assert store.cut.down is not None
        assert clock.time() - store.cut.down[0] < 600  # it did not wait for the store
    assert ("poller stopped" in caplog.text) == (first == "the poller"), "the order changed"
    # The sid it could not record is named, whichever part failed first, so that an
    # operator can follow the call.
    assert placer.ledger.placements[2].sid in str(stopped.value)
