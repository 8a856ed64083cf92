"""The engine's seams: admissions before each intent, companions alongside a run, pause.

Driven on the doubles (in-memory store, fake placer, virtual clock), checking the fake's
ledger (what was really placed) against what the store says.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from polyout import Call, CallRequest, CallState, CallStatus, Campaign, CampaignError, Contact
from polyout._campaign._admission import Allow, Defer, Verdict, Withdraw
from polyout._campaign._companions import EngineHandle
from polyout._campaign._config import CampaignConfig
from polyout._campaign._engine import Engine
from polyout._campaign._events import EventBus
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignDefinition, DueContact
from polyout._pacing import RequestPacer
from polyout.testing import FakePlacer, VirtualClock

S = ContactState


def _people(count: int) -> list[Contact]:
    return [Contact(f"p{n}", f"+1415555{n:04d}") for n in range(count)]


async def _engine(
    clock: VirtualClock, placer: FakePlacer, people: list[Contact], **extras: object
) -> Engine:
    store = MemoryStore()
    config = CampaignConfig(rate=10.0, concurrency=5, poll_interval=(1.0, 1.0))
    definition = CampaignDefinition(
        settings=config.to_json(), connection={}, suppressed=frozenset(), created_at=clock.time()
    )
    stored = await store.create("seams", definition)
    return Engine(
        stored,
        placer,
        source=people,
        config=config,
        window=None,
        clock=clock,
        bus=EventBus(),
        label="seams",
        **extras,  # type: ignore[arg-type]
    )


class _Rules:
    """Defers p0 by an hour, withdraws p1, notes who allowed the rest."""

    name = "rules"

    def __init__(self, start: float) -> None:
        self.start = start
        self.asked: list[str | None] = []

    async def admit(self, contact: DueContact, now: float) -> Verdict:
        self.asked.append(contact.contact_id)
        if contact.contact_id == "p0" and now < self.start + 3600:
            return Defer(self.start + 3600, "waits for its hour")
        if contact.contact_id == "p1":
            return Withdraw(S.SUPPRESSED, "the rule says never")
        return Allow({"checked": contact.contact_id})


async def test_admissions_defer_withdraw_and_allow_before_any_intent() -> None:
    people = _people(4)
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        rules = _Rules(clock.time())
        engine = await _engine(clock, placer, people, admissions=[rules])
        stats = await engine.run()
        results = {r["contact_id"]: r async for r in engine.store.results()}
        assert stats.states == {"success": 3, "suppressed": 1}
        # Withdrawn: final with its reason, never placed, no intent in its history.
        assert (results["p1"]["state"], results["p1"]["reason"]) == (
            "suppressed",
            "the rule says never",
        )
        assert [e.event for e in await engine.store.history(1)] == ["final"]
        placed = placer.ledger.placements_per_number()
        assert people[1].phone not in placed
        assert placed == {p.phone: 1 for p in people if p is not people[1]}
        # Deferred: dialled, but not before its hour.
        first_dial = [e.at for e in await engine.store.history(0) if e.event == "intent"]
        assert first_dial
        assert first_dial[0] >= rules.start + 3600
        assert rules.asked.count("p0") == 2  # asked again when it came due


class _Pauser:
    """Pauses the run at once, and lifts the pause ten virtual minutes later."""

    name = "pauser"
    vital = True

    def __init__(self) -> None:
        self.lifted_at = 0.0
        self.triggers_while_paused = -1

    async def run(self, engine: EngineHandle) -> None:
        engine.pause("the operator asked")
        assert engine.paused == "the operator asked"
        await engine.clock.sleep(600)
        self.triggers_while_paused = engine.stats().triggers
        self.lifted_at = engine.clock.time()
        engine.unpause()
        await asyncio.Event().wait()  # a companion may also run until the run ends


async def test_a_paused_run_sends_nothing_waits_and_goes_on_once_unpaused() -> None:
    people = _people(5)
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        pauser = _Pauser()
        engine = await _engine(clock, placer, people, companions=[pauser])
        stats = await engine.run()
    assert pauser.triggers_while_paused == 0
    assert stats.states == {"success": 5}
    assert min(p.at for p in placer.ledger.placements) >= pauser.lifted_at


class _Broken:
    name = "broken"

    def __init__(self, vital: bool) -> None:
        self.vital = vital

    async def run(self, engine: EngineHandle) -> None:
        await engine.clock.sleep(0.05)
        raise RuntimeError("cannot reach the database")


@pytest.mark.parametrize("vital", [True, False])
async def test_a_failing_companion_stops_the_run_only_when_vital(vital: bool) -> None:
    people = _people(30)
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5.0)
        engine = await _engine(clock, placer, people, companions=[_Broken(vital)])
        if vital:
            with pytest.raises((RuntimeError, CampaignError), match="cannot reach the database"):
                await engine.run()
            counts = await engine.store.counts()
            assert counts.get(S.SCHEDULED, 0) > 0  # stopped early, resumable
            assert S.DIALING not in counts
        else:
            stats = await engine.run()
            assert stats.states == {"success": 30}


class _Worker:
    """One worker's view of a shared fake API: which numbers it placed, and when."""

    def __init__(self, api: FakePlacer, clock: VirtualClock) -> None:
        self._api, self._clock = api, clock
        self.placed: list[tuple[str, float]] = []

    @property
    def api(self) -> str:
        return self._api.api

    @property
    def environment(self) -> str | None:
        return self._api.environment

    @property
    def base_url(self) -> str:
        return self._api.base_url

    async def place(self, request: CallRequest, *, pacer: RequestPacer) -> Call:
        call = await self._api.place(request, pacer=pacer)
        self.placed.append((request.to_number, self._clock.time()))
        return call

    async def get_status(self, call_sid: str, *, pacer: RequestPacer) -> CallStatus:
        return await self._api.get_status(call_sid, pacer=pacer)


async def test_a_worker_that_joins_dials_while_the_creator_still_feeds() -> None:
    people = _people(8)
    async with VirtualClock() as clock:
        fed_all_at: list[float] = []

        async def slowly() -> AsyncIterator[Contact]:
            for person in people:
                yield person
                await clock.sleep(20)  # a slow source: one contact every 20 s
            fed_all_at.append(clock.time())

        # Calls of 100 s, one at a time each: the creator is busy when contacts arrive.
        api = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=100)
        creator_side, joiner_side = _Worker(api, clock), _Worker(api, clock)
        store = MemoryStore()
        creator = Campaign(
            creator_side, slowly(), store=store, name="slow", concurrency=1, clock=clock
        )
        creating = asyncio.create_task(creator.run())
        await clock.sleep(30)  # two contacts stored, the feed far from done
        joiner = Campaign.resume(
            joiner_side,
            store=store,
            name="slow",
            worker="w-2",
            join=True,
            concurrency=1,
            clock=clock,
        )
        joined, created = await asyncio.gather(joiner.run(), creating)
    assert created.complete
    assert joined.complete
    assert joiner_side.placed, "the joiner dialled nobody"
    assert min(at for _, at in joiner_side.placed) < fed_all_at[0]
    assert api.ledger.placements_per_number() == {person.phone: 1 for person in people}
    assert len(creator_side.placed) + len(joiner_side.placed) == len(people)


async def test_a_contact_from_a_slow_source_is_dialled_as_it_comes_not_with_the_next() -> None:
    people = _people(3)
    async with VirtualClock() as clock:
        yielded: list[float] = []

        async def hourly() -> AsyncIterator[Contact]:
            for person in people:
                yielded.append(clock.time())
                yield person
                await clock.sleep(3600)  # a queue that gives one contact an hour

        api = FakePlacer(clock=clock, outcomes={CallState.SUCCESS: 1.0}, duration=5)
        stats = await Campaign(api, hourly(), store=MemoryStore(), clock=clock).run()
    assert stats.states == {"success": 3}
    placed_at = sorted(p.at for p in api.ledger.placements)
    assert [at - came for at, came in zip(placed_at, yielded, strict=True)] == pytest.approx(
        [0, 0, 0], abs=2
    )
