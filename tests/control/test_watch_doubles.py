"""The engine obeying the store's commanded phase, on the doubles (exact, virtual time).

A run of the real engine over the in-memory store, ``FakePlacer`` and a ``VirtualClock``,
with the control watch as its companion; the commands are written to the store as a
command from another process writes them, at chosen virtual moments. Each test checks
the fake's ledger (when each call was placed) against the moment of the command.
"""

from __future__ import annotations

from polyout._campaign._canary import Canary
from polyout._campaign._control_watch import POLL_SECONDS
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import ContactEntry, FeedPosition, StoredCampaign
from polyout._campaign._store_control import CampaignPhase, Command
from polyout.testing import FakePlacer, VirtualClock
from tests.control.doubles import START, definition
from tests.control.doubles import people as _people
from tests.control.doubles import run_engine as _run

S = ContactState


async def test_a_pause_stops_triggers_within_a_poll_and_resume_carries_on() -> None:
    moments: dict[str, float] = {}

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        await clock.sleep(5.5)
        await campaign.command(Command.PAUSE, reason="checking", by="test", now=clock.time())
        moments["paused"] = clock.time()
        await clock.sleep(120.0)
        assert (await campaign.counts()).get(S.SCHEDULED), "paused: contacts wait"
        moments["resumed"] = clock.time()
        await campaign.command(Command.RESUME, reason=None, by="test", now=clock.time())

    stats, placer, campaign = await _run(_people(20), steer)
    times = [placement.at for placement in placer.ledger.placements]
    during = [t for t in times if moments["paused"] + POLL_SECONDS + 0.01 < t < moments["resumed"]]
    assert during == []  # nothing left while paused (a poll after the command at most)
    assert any(t < moments["paused"] for t in times)  # it was dialling before
    assert sum(stats.states.values()) == 20
    assert len(times) == 20  # resume carried on: everyone, once
    kinds = [entry.kind for entry in await campaign.campaign_log()]
    assert kinds[:1] == ["run_started"]
    assert "paused" in kinds
    assert "resumed" in kinds


async def test_cancel_withdraws_what_was_not_dialled_and_follows_calls_in_flight() -> None:
    moments: dict[str, float] = {}

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        await clock.sleep(4.5)  # calls of 20 s are in flight
        await campaign.command(Command.CANCEL, reason="wrong list", by="test", now=clock.time())
        moments["cancelled"] = clock.time()

    _stats, placer, campaign = await _run(_people(30), steer)
    placed = len(placer.ledger.placements)
    assert 3 <= placed <= 6
    assert all(p.at <= moments["cancelled"] + POLL_SECONDS + 0.01 for p in placer.ledger.placements)
    counts = await campaign.counts()
    assert counts.get(S.CANCELLED) == 30 - placed
    assert sum(counts.get(s, 0) for s in (S.SUCCESS, S.NO_ANSWER, S.BUSY, S.FAILURE)) == placed
    assert (await campaign.control()).phase is CampaignPhase.DONE
    # the reason is each cancelled contact's
    results = [record async for record in campaign.results()]
    assert {r["reason"] for r in results if r["state"] == "cancelled"} == {"wrong list"}


async def test_a_pause_outlives_a_crash_and_a_restarted_worker_waits_until_resume() -> None:
    dead = MemoryStore()
    spring = await dead.create("spring", definition())
    await spring.command(Command.PAUSE, reason="overnight", by="test", now=START)
    restarted = MemoryStore(dead.backing)  # the first one dropped unclosed: a crash
    moments: dict[str, float] = {}

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        await clock.sleep(300.0)
        moments["resumed"] = clock.time()
        await campaign.command(Command.RESUME, reason=None, by="test", now=clock.time())

    _, placer, _ = await _run(_people(5), steer, store=restarted)
    assert len(placer.ledger.placements) == 5
    assert all(p.at >= moments["resumed"] for p in placer.ledger.placements)


async def test_contacts_added_while_running_are_dialled_without_a_restart() -> None:
    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        await clock.sleep(3.0)
        while not (await campaign.feed_position()).done:
            await clock.sleep(0.5)
        position = await campaign.feed_position()
        extra = ContactEntry(
            seq=position.count,
            contact_id="late",
            row=None,
            to_number="+12125559999",
            state=S.SCHEDULED,
            due=clock.time(),
        )
        done = FeedPosition(position.count + 1, position.digest, True)
        await campaign.append([extra], done, now=clock.time())
        await campaign.log_campaign_event("contacts_added", detail="1", by="test", now=clock.time())

    stats, placer, _campaign = await _run(_people(4), steer)
    assert "+12125559999" in {p.number for p in placer.ledger.placements}
    assert stats.total == 5


async def test_a_canary_dials_the_first_n_follows_them_then_pauses_in_the_store() -> None:
    bird = Canary(3)

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        return None

    stats, placer, campaign = await _run(
        _people(10), steer, companions=[bird], admissions=[bird.admission]
    )
    assert len(placer.ledger.placements) == 3  # the first three, each once
    assert {p.number for p in placer.ledger.placements} == {c.phone for c in _people(3)}
    assert stats.states["scheduled"] == 7  # the rest wait for resume
    control = await campaign.control()
    assert control.phase is CampaignPhase.PAUSED
    assert control.by == "canary"
    assert control.reason is not None
    assert control.reason.startswith("canary: the first 3 calls")
    assert [e.kind for e in await campaign.campaign_log()][-2:] == ["canary", "run_ended"]
