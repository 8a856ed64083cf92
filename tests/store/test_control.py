"""The control capability, clause by clause, over every store (``_store_control``).

Each test is named after the clause it keeps; durable clauses are checked across a
crash (``stores.crash``). The SQLite command door (a command beside a running runner)
is checked at the end, against a store held open as a runner holds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._sqlite_control_door import SQLiteControlDoor
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import FeedPosition, StaleTransition
from polyout._campaign._store_control import (
    CampaignPhase,
    Command,
    ControlState,
    PhaseRefused,
    check_round_states,
)
from tests.store.conftest import Stores
from tests.store.scenario import (
    NAME,
    WORKER,
    campaign_of,
    claim,
    entry,
    number,
    place,
    reopened,
    state,
)

S = ContactState
P = CampaignPhase


# -- C1, C2: the commanded phase -----------------------------------------------------------
async def test_c1_a_campaign_no_command_touched_is_running(stores: Stores) -> None:
    campaign = await campaign_of(stores.open())
    assert await campaign.control() == ControlState()


async def test_c2_a_pause_is_durable_logged_and_moves_the_revision(stores: Stores) -> None:
    store = stores.open()
    campaign = await campaign_of(store)
    paused = await campaign.command(Command.PAUSE, reason="checking", by="cli:alice", now=50.0)
    assert (paused.phase, paused.reason, paused.by, paused.since) == (
        P.PAUSED,
        "checking",
        "cli:alice",
        50.0,
    )
    assert paused.changed
    assert paused.revision == 1
    store = stores.crash(store)  # a pause outlives a crash
    campaign = await reopened(store)
    seen = await campaign.control()
    assert (seen.phase, seen.reason, seen.by, seen.revision) == (
        P.PAUSED,
        "checking",
        "cli:alice",
        1,
    )
    log = await campaign.campaign_log()
    assert [(e.kind, e.by, e.detail, e.at) for e in log] == [
        ("paused", "cli:alice", "checking", 50.0)
    ]


async def test_c2_a_command_that_changes_nothing_writes_nothing(stores: Stores) -> None:
    campaign = await campaign_of(stores.open())
    await campaign.command(Command.PAUSE, reason="a", by="cli", now=1.0)
    again = await campaign.command(Command.PAUSE, reason="b", by="cli", now=2.0)
    assert not again.changed
    assert again.reason == "a"
    assert again.revision == 1
    assert [e.kind for e in await campaign.campaign_log()] == ["paused"]
    resumed = await campaign.command(Command.RESUME, reason=None, by="cli", now=3.0)
    assert resumed.phase is P.RUNNING
    assert resumed.revision == 2
    assert [e.kind for e in await campaign.campaign_log()] == ["paused", "resumed"]


async def test_c2_a_move_the_table_refuses_changes_nothing(stores: Stores) -> None:
    campaign = await campaign_of(stores.open())
    await campaign.command(Command.CANCEL, reason="wrong list", by="cli", now=1.0)
    with pytest.raises(PhaseRefused, match="cancelled"):
        await campaign.command(Command.RESUME, reason=None, by="cli", now=2.0)
    with pytest.raises(PhaseRefused):
        await campaign.command(Command.PAUSE, reason="x", by="cli", now=2.0)
    # trouble noticed while cancelling is no reason to refuse, nor to change anything
    auto = await campaign.command(Command.AUTO_PAUSE, reason="401", by="auto", now=2.0)
    assert auto.phase is P.CANCELLING
    assert not auto.changed
    done = await campaign.command(Command.FINISH, reason=None, by="worker", now=3.0)
    assert done.phase is P.DONE
    assert [e.kind for e in await campaign.campaign_log()] == ["cancelled", "cancel_finished"]


# -- C3: the campaign log ----------------------------------------------------------------
async def test_c3_the_log_filters_by_kind_and_waking_kinds_move_the_revision(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store)
    await campaign.log_campaign_event("run_started", by="worker-1", now=1.0)
    await campaign.log_campaign_event("rate_limited", detail="3 answers 429", now=2.0)
    assert (await campaign.control()).revision == 0
    await campaign.log_campaign_event("contacts_added", detail="2 added", by="cli", now=3.0)
    assert (await campaign.control()).revision == 1
    log = await campaign.campaign_log(kinds={"rate_limited", "contacts_added"})
    assert [(e.kind, e.detail) for e in log] == [
        ("rate_limited", "3 answers 429"),
        ("contacts_added", "2 added"),
    ]
    await campaign.flush()
    store = stores.crash(store)
    assert len(await (await reopened(store)).campaign_log()) == 3


# -- C4: cancel_pending --------------------------------------------------------------------
async def test_c4_cancel_ends_unheld_scheduled_contacts_and_leaves_held_and_dialled_ones(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 4)
    await place(campaign, 0, "CA0")  # a call in flight
    await claim(campaign, 1)  # held by a worker: its worker withdraws it
    cancelled = await campaign.cancel_pending("cancelled by the operator", now=20.0)
    assert cancelled == 2
    assert [await state(campaign, seq) for seq in range(4)] == [
        "in_flight",
        "scheduled",
        "cancelled",
        "cancelled",
    ]
    # the holder withdraws its own; nothing is left to claim
    await campaign.withdraw(WORKER, 1, state=S.CANCELLED, reason="cancelled", now=21.0)
    assert await campaign.claim_due(WORKER, 100.0, 10) == []
    store = stores.crash(store)  # durable
    campaign = await reopened(store)
    assert (await campaign.counts())[S.CANCELLED] >= 2
    assert (await campaign.history(2))[-1].status == "cancelled"


# -- C5: retry rounds ------------------------------------------------------------------------
async def _ended(campaign_store: Stores, outcomes: list[ContactState]):  # type: ignore[no-untyped-def]
    store = campaign_store.open()
    campaign = await campaign_of(store, len(outcomes))
    for seq, outcome in enumerate(outcomes):
        intent = await place(campaign, seq, f"CA{seq}")
        await campaign.record_outcome(
            seq, intent, outcome=outcome, retry_due=None, reason=None, now=30.0
        )
    await campaign.flush()
    return store, campaign


async def test_c5_a_round_takes_the_chosen_ends_never_success_and_unknown_only_if_asked(
    stores: Stores,
) -> None:
    outcomes = [S.SUCCESS, S.NO_ANSWER, S.BUSY, S.EXPIRED, S.FAILURE]
    store, campaign = await _ended(stores, outcomes)
    chosen = {S.SUCCESS, S.NO_ANSWER, S.BUSY, S.EXPIRED}
    with pytest.raises(PhaseRefused, match="success"):
        check_round_states(chosen)
    counts = await campaign.retry_candidates(chosen, max_attempts=None, include_unknown=False)
    assert counts == {S.NO_ANSWER: 1, S.BUSY: 1, S.EXPIRED: 1}  # success never
    moved = await campaign.retry_round(chosen, max_attempts=None, include_unknown=False, now=40.0)
    assert moved == 3
    store = stores.crash(store)  # durable
    campaign = await reopened(store)
    assert [await state(campaign, seq) for seq in range(5)] == [
        "success",
        "scheduled",
        "scheduled",
        "scheduled",
        "failure",
    ]
    # each may be dialled again (the expired call no longer forbids a new intent)
    due = await campaign.claim_due(WORKER, 50.0, 10)
    assert sorted(contact.seq for contact in due) == [1, 2, 3]
    for contact in due:
        intent = await campaign.open_intent(WORKER, contact.seq, after=contact.intents, now=50.0)
        assert intent == 2
    assert (await campaign.history(3))[-2].event == "retry_round"


async def test_c5_max_attempts_and_the_do_not_call_list_limit_a_round(stores: Stores) -> None:
    _store, campaign = await _ended(stores, [S.NO_ANSWER, S.NO_ANSWER])
    await campaign.suppress([number(1)], now=35.0)
    assert (
        await campaign.retry_candidates({S.NO_ANSWER}, max_attempts=1, include_unknown=False) == {}
    )
    assert (
        await campaign.retry_round({S.NO_ANSWER}, max_attempts=2, include_unknown=False, now=40.0)
        == 1
    )
    assert await state(campaign, 0) == "scheduled"
    assert await state(campaign, 1) == "no_answer"  # suppressed since: never again


async def test_c5_unknown_is_taken_only_with_include_unknown(stores: Stores) -> None:
    campaign = await campaign_of(stores.open(), 1)
    await claim(campaign, 0)
    await campaign.open_intent(WORKER, 0, after=0, now=10.0)
    await campaign.recover(11.0)  # the answer was lost: unknown
    assert await state(campaign, 0) == "unknown"
    unknown_ok = {"max_attempts": None, "include_unknown": True}
    assert (
        await campaign.retry_round(
            {S.NO_ANSWER, S.UNKNOWN}, max_attempts=None, include_unknown=False, now=12.0
        )
        == 0
    )
    assert await campaign.retry_candidates(set(), **unknown_ok) == {S.UNKNOWN: 1}  # type: ignore[arg-type]
    assert await campaign.retry_round(set(), now=12.0, **unknown_ok) == 1  # type: ignore[arg-type]
    assert await state(campaign, 0) == "scheduled"


# -- C6: suppress --------------------------------------------------------------------------
async def test_c6_suppress_lists_the_numbers_and_withdraws_unheld_pending_contacts(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 3)
    await claim(campaign, 2)  # held: its worker withdraws it before the next dial
    withdrawn = await campaign.suppress([number(1), number(2), "+14155559876"], now=20.0)
    assert withdrawn == 1
    assert await state(campaign, 1) == "suppressed"
    assert await state(campaign, 2) == "scheduled"
    store = stores.crash(store)
    campaign = await reopened(store)
    suppressed = (await campaign.definition()).suppressed
    assert {number(1), number(2), "+14155559876"} <= suppressed
    assert await state(campaign, 1) == "suppressed"


# -- C7: added contacts -------------------------------------------------------------------
async def test_c7_added_contacts_take_the_seqs_after_the_feed_and_a_taken_number_is_refused(
    stores: Stores,
) -> None:
    store = stores.open()
    campaign = await campaign_of(store, 2)
    position = await campaign.feed_position()
    done = FeedPosition(position.count, position.digest, True)
    await campaign.append([], done, now=2.0)
    assert await campaign.has_number(number(1))
    await campaign.append([entry(2)], FeedPosition(3, position.digest, True), now=3.0)
    with pytest.raises(StaleTransition):
        await campaign.append(
            [entry(3, to_number=number(0))], FeedPosition(4, position.digest, True), now=3.0
        )
    await campaign.flush()
    store = stores.crash(store)
    campaign = await reopened(store)
    assert await campaign.feed_position() == FeedPosition(3, position.digest, True)


# -- the SQLite door: a command beside a running runner ---------------------------------------
async def test_a_command_beside_a_runner_writes_through_sqlite_locks_and_withdraws_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    runner = SQLiteStore(path)  # holds the lock, as a run does
    try:
        campaign = await campaign_of(runner, 3, name=NAME)
        await claim(campaign, 0)  # a hold only the runner knows
        await campaign.log_campaign_event("run_started", by=WORKER, now=1.0)  # batched, open
        door = SQLiteControlDoor(path)
        assert door.runner_alive
        try:
            control = await door.open(NAME)
            paused = await control.command(Command.PAUSE, reason="lunch", by="cli", now=5.0)
            assert paused.phase is P.PAUSED
            assert await control.cancel_pending("x", now=6.0) == 0  # holds unknown here
            assert await control.suppress([number(1)], now=6.0) == 0
        finally:
            await door.aclose()
        # the runner sees the command at once, and its own writes go on
        assert (await campaign.control()).phase is P.PAUSED
        assert number(1) in (await campaign.definition()).suppressed
        assert await campaign.suppress([number(1)], now=7.0) == 1  # the runner withdraws
        assert await campaign.open_intent(WORKER, 0, after=0, now=8.0) == 1
        kinds = [e.kind for e in await campaign.campaign_log()]
        assert kinds == ["run_started", "paused"]
    finally:
        await runner.aclose()
    reopened_store = SQLiteStore(path, create=False)
    try:
        again = await reopened_store.open(NAME)
        assert (await again.control()).phase is P.PAUSED
        assert await state(again, 1) == "suppressed"
    finally:
        await reopened_store.aclose()


async def test_a_command_with_no_runner_holds_the_lock_and_withdraws(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    await campaign_of(store, 2, name=NAME)
    await store.aclose()
    door = SQLiteControlDoor(path)
    try:
        assert not door.runner_alive
        control = await door.open(NAME)
        assert await control.cancel_pending("cancelled by the operator", now=5.0) == 2
        blocked = SQLiteStore(path, create=False)  # no run starts while it works
        with pytest.raises(JournalError, match="in use"):
            await blocked.ready()
        await blocked.aclose()
    finally:
        await door.aclose()
    store = SQLiteStore(path, create=False)
    try:
        assert (await (await store.open(NAME)).counts()) == {S.CANCELLED: 2}
    finally:
        await store.aclose()
