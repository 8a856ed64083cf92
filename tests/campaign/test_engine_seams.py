"""The engine's seams: admissions before each intent, companions alongside a run, pause.

Driven on the doubles (in-memory store, fake placer, virtual clock), checking the fake's
ledger (what was really placed) against what the store says.
"""

from __future__ import annotations

import asyncio

import pytest

from polyout import CallState, CampaignError, Contact
from polyout._campaign._admission import Allow, Defer, Verdict, Withdraw
from polyout._campaign._companions import EngineHandle
from polyout._campaign._config import CampaignConfig
from polyout._campaign._engine import Engine
from polyout._campaign._events import EventBus
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignDefinition, DueContact
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
