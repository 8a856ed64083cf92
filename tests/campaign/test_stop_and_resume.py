"""Stopping (gracefully, at once, by signal), resuming, and calls that cannot be followed."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from polyout import Client
from polyout._campaign._contacts import Contact
from polyout._campaign._errors import JournalError
from polyout._campaign._events import CampaignEvent, EventKind
from polyout._campaign._memory_store import MemoryCampaign, MemoryStore
from polyout._campaign._results import iter_results
from polyout._campaign._runner import Campaign
from polyout._campaign._store import CampaignDefinition, Recovery
from polyout._campaign._store_policy import IntentPolicy
from polyout.sandbox import FaultConfig
from polyout.testing import LAST_DIGIT, FakePlacer, VirtualClock

from .conftest import StartRig
from .helpers import AGENT_ID, Rig, client_for, contacts, number, states


def _stop_after(count: int, action: object) -> object:
    placed = 0

    def on_event(event: CampaignEvent) -> None:
        nonlocal placed
        if event.kind is EventKind.PLACED:
            placed += 1
            if placed == count:
                action()  # type: ignore[operator]

    return on_event


def _assert_ledger_matches_journal(rig: Rig) -> None:
    placements = rig.placements()
    for result in rig.results().values():
        assert placements.get(str(result.to_number), 0) == result.attempts, result.contact_id


async def test_graceful_stop_finishes_calls_in_flight_and_resume_completes(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(call_duration=300.0)
    people = contacts(40)
    holder: list[Campaign] = []
    campaign = rig.campaign(people, rate=50.0, on_event=_stop_after(10, lambda: holder[0].stop()))
    holder.append(campaign)
    summary = await campaign.run()
    assert summary.stopping
    assert not summary.complete
    assert summary.in_flight == 0  # the grace was long enough for every call to end
    counts = states(rig.results().values())
    assert set(counts) == {"success", "scheduled"}
    assert counts["success"] == len(rig.placements()) >= 10
    _assert_ledger_matches_journal(rig)

    resumed = await rig.resume().run()
    assert resumed.complete
    assert resumed.states == {"success": 40}
    assert rig.placements() == {person.phone: 1 for person in people}


async def test_stop_grace_over_leaves_calls_in_flight_for_resume(start_rig: StartRig) -> None:
    rig = await start_rig(call_duration=600.0)
    holder: list[Campaign] = []
    campaign = rig.campaign(
        contacts(10), stop_grace=0.0, on_event=_stop_after(5, lambda: holder[0].stop())
    )
    holder.append(campaign)
    summary = await campaign.run()
    assert summary.in_flight >= 5
    assert states(rig.results().values()).get("in_flight", 0) >= 5

    resumed = await rig.resume().run()
    assert resumed.complete
    assert resumed.states == {"success": 10}
    assert set(rig.placements().values()) == {1}


async def test_cancelling_the_run_keeps_the_journal_consistent(start_rig: StartRig) -> None:
    rig = await start_rig(call_duration=600.0)
    people = contacts(30)
    enough = asyncio.Event()
    campaign = rig.campaign(people, rate=100.0, on_event=_stop_after(8, enough.set))
    task = asyncio.create_task(campaign.run())
    await enough.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    counts = states(rig.results().values())
    assert "dialing" not in counts  # an intent without a sid was settled as unknown
    _assert_ledger_matches_journal(rig)

    resumed = await rig.resume().run()
    assert resumed.complete
    placements = rig.placements()
    assert all(count == 1 for count in placements.values())
    final = rig.results()
    assert {result.state for result in final.values()} <= {"success", "unknown"}
    assert all(placements.get(person.phone, 0) == final[person.id].attempts for person in people)


async def test_cancelling_the_run_leaves_unknown_only_the_triggers_that_left(
    start_rig: StartRig,
) -> None:
    # Two connections, triggers that take 0.2 s: two are on the wire, the others wait for
    # a connection with their intents open when the run is cancelled. Those never left:
    # they are scheduled again, not "may have been placed" (issue 17 item 7).
    rig = await start_rig(call_duration=600.0, faults=FaultConfig(trigger_latency=0.2))
    people = contacts(10)
    dialing = 0
    enough = asyncio.Event()

    def on_event(event: CampaignEvent) -> None:
        nonlocal dialing
        if event.kind is EventKind.DIALING:
            dialing += 1
            if dialing == 6:
                enough.set()

    client = Client(
        "agents",
        api_key="test-key",
        base_url=rig.sandbox.base_url,
        agent_id=AGENT_ID,
        max_connections=2,
    )
    async with client:
        campaign = Campaign(
            client, people, journal=rig.journal, rate=200.0, clock=rig.clock, on_event=on_event
        )
        task = asyncio.create_task(campaign.run())
        await enough.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.3)  # the triggers that left are placed meanwhile
    counts = states(rig.results().values())
    assert counts.get("unknown", 0) <= 2, counts
    assert counts.get("scheduled", 0) >= 4, counts
    _assert_ledger_matches_journal(rig)

    resumed = await rig.resume().run()
    assert resumed.complete
    assert all(count == 1 for count in rig.placements().values())
    _assert_ledger_matches_journal(rig)


async def test_first_signal_stops_gracefully_and_handlers_are_removed(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(call_duration=100.0)
    before = signal.getsignal(signal.SIGINT)
    campaign = rig.campaign(
        contacts(30),
        rate=50.0,
        on_event=_stop_after(5, lambda: os.kill(os.getpid(), signal.SIGINT)),
    )
    summary = await campaign.run(handle_signals=True)
    assert summary.stopping
    assert not summary.complete
    assert signal.getsignal(signal.SIGINT) == before
    assert "in_flight" not in summary.states


async def test_second_signal_cancels_at_once(start_rig: StartRig) -> None:
    rig = await start_rig(call_duration=10_000.0)

    def twice() -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)

    campaign = rig.campaign(contacts(30), rate=50.0, on_event=_stop_after(5, twice))
    with pytest.raises(asyncio.CancelledError):
        await campaign.run(handle_signals=True)
    assert "dialing" not in states(rig.results().values())


async def test_calls_not_final_by_the_poll_deadline_expire(start_rig: StartRig) -> None:
    rig = await start_rig(call_duration=100_000.0)
    summary = await rig.campaign(contacts(3), poll_deadline=400.0, max_attempts=3).run()
    assert summary.states == {"expired": 3}
    result = rig.results()["c0"]
    assert "deadline" in (result.reason or "")
    assert "last status" in (result.reason or "")
    assert set(rig.placements().values()) == {1}  # expired is never redialled


async def test_a_status_that_disappears_expires_with_the_last_status_seen(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(retention=0.0)
    summary = await rig.campaign(contacts(3), poll_interval=(20.0, 200.0)).run()
    assert summary.states == {"expired": 3}
    result = rig.results()["c0"]
    assert "retention" in (result.reason or "")


async def test_resume_past_the_deadline_expires_calls_left_in_flight(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(call_duration=100_000.0)
    holder: list[Campaign] = []
    campaign = rig.campaign(
        contacts(4),
        poll_deadline=300.0,
        stop_grace=0.0,
        on_event=_stop_after(4, lambda: holder[0].stop()),
    )
    holder.append(campaign)
    await campaign.run()
    assert states(rig.results().values()) == {"in_flight": 4}
    await asyncio.sleep(0.4)  # 400 s of campaign time: past every call's deadline
    resumed = await rig.resume().run()
    assert resumed.states == {"expired": 4}
    assert set(rig.placements().values()) == {1}


async def test_unknown_is_never_redialled_unless_requeued(start_rig: StartRig) -> None:
    rig = await start_rig(faults=FaultConfig(cut_on=frozenset({1})))
    summary = await rig.campaign(contacts(3)).run()
    assert summary.states == {"success": 2, "unknown": 1}
    unknown = next(r for r in rig.results().values() if r.state == "unknown")
    assert rig.placements()[str(unknown.to_number)] == 1

    again = await rig.resume().run()
    assert again.states == {"success": 2, "unknown": 1}
    assert rig.placements()[str(unknown.to_number)] == 1

    requeued = await rig.resume(requeue_unknown=True).run()
    assert requeued.states == {"success": 3}
    assert rig.placements()[str(unknown.to_number)] == 2  # the explicit opt-in
    assert rig.results()[str(unknown.contact_id)].attempts == 2


async def test_a_journal_is_never_started_twice_nor_resumed_through_another_api(
    start_rig: StartRig,
) -> None:
    rig = await start_rig()
    await rig.campaign(contacts(1)).run()
    with pytest.raises(JournalError, match="resume"):
        rig.campaign(contacts(1))
    async with client_for("connector", rig.sandbox.base_url) as other:
        with pytest.raises(JournalError, match="agents"):
            Campaign.resume(other, rig.journal)


async def test_an_unfinished_feed_resumes_from_the_same_source(start_rig: StartRig) -> None:
    rig = await start_rig()
    people = contacts(20)
    holder: list[Campaign] = []

    async def slow_source() -> object:
        for person in people:
            yield person
            await asyncio.sleep(0.01)

    campaign = rig.campaign(slow_source(), on_event=_stop_after(3, lambda: holder[0].stop()))
    holder.append(campaign)
    summary = await campaign.run()
    assert not summary.input_done
    assert summary.total < 20
    with pytest.raises(JournalError, match="contacts="):
        rig.resume()
    resumed = await rig.resume(contacts=people).run()
    assert resumed.complete
    assert resumed.states == {"success": 20}
    assert rig.placements() == {person.phone: 1 for person in people}


async def test_stop_before_run_returns_at_once(start_rig: StartRig) -> None:
    rig = await start_rig()
    campaign = rig.campaign([Contact(id="a", phone=contacts(1)[0].phone)])
    campaign.stop()
    summary = await campaign.run()
    assert summary.stopping
    assert rig.placements() == {}


async def test_repeated_ids_and_numbers_are_caught_across_a_resume(start_rig: StartRig) -> None:
    """Deduplication is kept by the journal, not in memory: it survives a new process."""
    rig = await start_rig()
    first_part = [Contact(id="a", phone=number(1)), Contact(id="b", phone=number(2))]
    holder: list[Campaign] = []

    async def source_cut_after_two() -> object:
        for person in first_part:
            yield person
        holder[0].stop()
        await asyncio.sleep(3600)  # the rest of the file never arrives in this run
        yield Contact(id="never", phone=number(9))

    campaign = rig.campaign(source_cut_after_two())
    holder.append(campaign)
    await campaign.run()
    everyone = [
        *first_part,
        Contact(id="c", phone=number(3)),
        Contact(id="b", phone=number(4)),  # b's id again
        Contact(id="d", phone=number(1)),  # a's number again
    ]
    stats = await rig.resume(contacts=everyone).run()
    assert stats.complete
    assert stats.states == {"success": 3, "duplicate": 2}
    results = rig.results()
    assert results["d"].state == "duplicate"
    assert sorted(rig.placements()) == sorted({number(1), number(2), number(3)})


class _CommitsOnItsOwn(MemoryStore):
    """Writes queue for one writer, as the SQLite store's jobs do: an intent takes a minute
    to commit, and commits even if its caller is cancelled meanwhile; a ``recover`` asked
    after it waits its turn."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock
        self._writer = asyncio.Lock()

    async def open(self, name: str) -> MemoryCampaign:
        campaign = await super().open(name)
        opened, recovered = campaign.open_intent, campaign.recover

        async def commit(
            worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None
        ) -> int:
            async with self._writer:
                await self._clock.sleep(60)
                return await opened(worker, seq, after=after, now=now, policy=policy)

        async def open_intent(
            worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
        ) -> int:
            job = asyncio.ensure_future(commit(worker, seq, after=after, now=now, policy=policy))
            return await asyncio.shield(job)

        async def recover(now: float, *, worker: str | None = None) -> Recovery:
            async with self._writer:
                return await recovered(now, worker=worker)

        campaign.open_intent = open_intent  # type: ignore[method-assign]
        campaign.recover = recover  # type: ignore[method-assign]
        return campaign

    async def create(self, name: str, definition: CampaignDefinition) -> MemoryCampaign:
        await super().create(name, definition)
        return await self.open(name)


async def test_cancelling_the_run_while_intents_commit_leaves_nobody_unknown() -> None:
    people = [Contact(f"p{n}", number(n)) for n in range(3)]
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        store = _CommitsOnItsOwn(clock)
        running = asyncio.create_task(Campaign(placer, people, store=store, clock=clock).run())
        await asyncio.sleep(30)  # every intent is committing
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert not placer.ledger.sends
        counts = await (await store.open("default")).counts()
        assert {state.value for state in counts} == {"scheduled"}  # none "may have been placed"


def _names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


async def test_cancelling_the_run_while_its_journal_is_created_leaves_it_whole(
    tmp_path: Path,
) -> None:
    # Ctrl-C twice as the command starts: the journal is being written on its thread. The
    # cancel waits for it (nothing is dialled meanwhile), so the file is whole and closed
    # when the command reports, never half-made, nor put in place after it said "none".
    journal = tmp_path / "people.polyout.db"
    people = [Contact(f"p{n}", number(n)) for n in range(3)]
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT)
        running = asyncio.create_task(Campaign(placer, people, journal=journal, clock=clock).run())
        await asyncio.sleep(0)  # the run waits for its journal's thread
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert _names_in(tmp_path) == [journal.name]
    assert not placer.ledger.sends
    assert [result.state for result in iter_results(journal)] == []  # a whole journal, fed nothing
