"""The store contract driven at random: two interleaved workers, crashes at any step.

A model predicts every answer (what ``claim_due`` hands out, which transitions are
stale) and what each contact must look like; after every step the store must agree
with it, no contact may have two live intents, and no result may be lost. A crash may
lose only batched writes made since the last durable one: the store reopened must show
one of the states the model passed through since then.

``POLYOUT_STORE_EXAMPLES`` sets how many runs hypothesis tries for every store; raise it
for a longer search, e.g. ``POLYOUT_STORE_EXAMPLES=2000 .venv/bin/pytest tests/store``.
Without it, a store's factory may say how many fit in a few seconds
(``stateful_examples``), else :data:`DEFAULT_EXAMPLES`.
"""

from __future__ import annotations

import asyncio
import copy
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from polyout._campaign._clock import utc_datetime
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._states import CALL_OUTCOMES, RETRYABLE, ContactState
from polyout._campaign._store import (
    CampaignStore,
    DuplicateCallSid,
    FeedPosition,
    LogEntry,
    StaleTransition,
    StoredCampaign,
)
from tests.store.conftest import StoreKind, Stores
from tests.store.scenario import DEFINITION, NAME, entry

S = ContactState
T = TypeVar("T")
Rule = TypeVar("Rule", bound=Callable[..., None])
CONTACTS = 5
#: Contacts fed to the running campaign at most, on top of the first ones.
LATE_CONTACTS = 3
WORKERS = ("a", "b")
DEFAULT_EXAMPLES = 30

workers = st.sampled_from(WORKERS)
picks = st.integers(min_value=0, max_value=1000)
delays = st.integers(min_value=0, max_value=40)


@attrs.define
class Expected:
    """What the model knows of one contact."""

    state: ContactState = S.SCHEDULED
    due: float | None = 0.0
    intents: int = 0
    open: bool = False
    """The latest intent is open (dialing, not closed)."""
    attempts: int = 0
    call_sid: str | None = None
    holder: str | None = None
    orphan: str | None = None
    """PostgreSQL: the worker a crashed process dialled this contact as; only that
    worker's recovery (or a reap of it) settles it."""

    def view(self) -> tuple[object, ...]:
        due = _iso(self.due) if self.state is S.SCHEDULED else None
        closed = self.state is S.DIALING and not self.open
        return (self.state.value, self.attempts, self.call_sid, due, self.intents, closed)


def _iso(value: float | None) -> str | None:
    return None if value is None else utc_datetime(value).isoformat().replace("+00:00", "Z")


def live_intent_problem(history: list[LogEntry]) -> str | None:
    """Why a contact's history shows two live intents, or an intent after a possible ring."""
    live = blocked = False
    unknown: int | None = None  # the intent that ended unknown, if the last line says so
    for line in history:
        if line.event == "placed" and not live and line.intent == unknown:
            live, blocked = True, False  # its sid learned late (clause 3b): in flight
        elif line.event == "intent":
            if live:
                return "a second intent while one was live"
            if blocked:
                return "an intent after a call that may have rung"
            live = True
        elif line.event == "placed" and not live:
            return "a placement without an intent"
        elif line.event in ("not_placed", "retry"):
            live = False
        elif line.event == "final":
            live, blocked = False, True
        elif line.event == "requeued":
            blocked = False
        unknown = line.intent if (line.event, line.status) == ("final", "unknown") else None
    return None


def _any(wanted: Callable[[Expected], bool]) -> Callable[[Rule], Rule]:
    """A rule's precondition: some contact of the model is ``wanted``."""
    return precondition(lambda machine: any(wanted(c) for c in machine.model))


def _may_open(contact: Expected) -> bool:
    return contact.state is S.SCHEDULED or (contact.state is S.DIALING and not contact.open)


_held = _any(lambda c: c.holder is not None)
_sending = _any(lambda c: c.state is S.DIALING and c.open)
_dialing = _any(lambda c: c.state is S.DIALING)
_in_flight = _any(lambda c: c.state is S.IN_FLIGHT)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self, kind: StoreKind, folder: Any) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stores = Stores(kind(folder))
        self.store: CampaignStore = self.stores.open()
        self.now = 0.0
        self.sids = 0
        self.model = [Expected(due=float(seq // 2)) for seq in range(CONTACTS)]
        self.entries = [entry(seq, due=float(seq // 2)) for seq in range(CONTACTS)]
        self.campaign: StoredCampaign = self.run(self.store.create(NAME, DEFINITION))
        self.run(self.campaign.append(self.entries, _position(CONTACTS), now=0.0))
        self.run(self.campaign.flush())
        self.since_commit = [copy.deepcopy(self.model)]
        self.named_across_crashes = isinstance(self.store, PostgresStore)
        """Workers outlive a process's crash by name (their heartbeats, their dialing)."""
        self.beats: set[str] = set()
        self.skew = dict.fromkeys(WORKERS, 0.0)
        """How far each worker's own clock is off (the ``now`` it passes)."""
        self.writes = 0
        """Writes since the last crash: crashing twice in a row tells nothing new, and
        would starve the rules that take a contact through several steps."""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        try:
            self.run(self.stores.aclose())
        finally:
            self.loop.close()

    # -- bookkeeping ------------------------------------------------------------------------
    def wrote(self, *, durable: bool) -> None:
        self.writes += 1
        if durable:
            self.since_commit = []
        self.since_commit.append(copy.deepcopy(self.model))

    def pick(self, pick: int, wanted: Any) -> int | None:
        seqs = [seq for seq, contact in enumerate(self.model) if wanted(contact)]
        return seqs[pick % len(seqs)] if seqs else None

    def stale(self, coro: Coroutine[Any, Any, object]) -> None:
        with pytest.raises(StaleTransition):
            self.run(coro)

    # -- feeding a running campaign -------------------------------------------------------------
    @precondition(lambda machine: len(machine.model) < CONTACTS + LATE_CONTACTS)
    @rule(later=delays)
    def feed(self, later: int) -> None:
        seq = len(self.entries)
        self.entries.append(entry(seq, due=self.now + later))
        self.run(self.campaign.append(self.entries[-1:], _position(seq + 1), now=self.now))
        self.model.append(Expected(due=self.now + later))
        self.wrote(durable=False)

    @rule(back=st.integers(1, 3))
    def feed_again(self, back: int) -> None:
        """A feeder re-reading its last batch after a restart: nothing changes."""
        batch = self.entries[-back:]
        self.run(self.campaign.append(batch, _position(len(self.entries)), now=self.now))

    # -- dispatch ---------------------------------------------------------------------------
    @_any(lambda c: c.state is S.SCHEDULED and c.holder is None)
    @rule(worker=workers, limit=st.integers(1, 3), seconds=delays)
    def claim(self, worker: str, limit: int, seconds: int) -> None:
        self._claim(worker, limit, seconds)

    def _claim(self, worker: str, limit: int, seconds: int) -> list[int]:
        self.now += seconds
        now = self.now + self.skew[worker]
        ready = [
            (contact.due, seq)
            for seq, contact in enumerate(self.model)
            if contact.state is S.SCHEDULED
            and contact.holder is None
            and contact.due is not None
            and contact.due <= now
        ]
        expected = [seq for _, seq in sorted(ready)[:limit]]
        got = self.run(self.campaign.claim_due(worker, now, limit))
        assert [due.seq for due in got] == expected
        for due in got:
            assert due.intents == self.model[due.seq].intents
            self.model[due.seq].holder = worker
        return expected

    @_any(lambda c: c.state is S.SCHEDULED and c.holder is None)
    @rule(worker=workers, seconds=delays)
    def dial(self, worker: str, seconds: int) -> None:
        """Claim one contact and open its intent at once, as a dispatcher does."""
        claimed = self._claim(worker, 1, seconds)
        if claimed:
            self._open(worker, claimed[0])

    @_any(lambda c: c.state is S.SCHEDULED and c.holder is not None)
    @rule(worker=workers)
    def release(self, worker: str) -> None:
        held = [seq for seq, c in enumerate(self.model) if c.holder == worker]
        self.run(self.campaign.release(worker, held))
        for seq in held:
            if self.model[seq].state is S.SCHEDULED:
                self.model[seq].holder = None

    @_held
    @rule(worker=workers, pick=picks, seconds=delays)
    def reschedule(self, worker: str, pick: int, seconds: int) -> None:
        seq = self.pick(pick, lambda c: c.holder == worker and c.state is S.SCHEDULED)
        if seq is None:
            return
        self.run(self.campaign.reschedule(worker, seq, self.now + seconds, why="w", now=self.now))
        self.model[seq].due, self.model[seq].holder = self.now + seconds, None
        self.wrote(durable=False)

    @_any(lambda c: c.holder is not None and _may_open(c))
    @rule(worker=workers, pick=picks)
    def open_intent(self, worker: str, pick: int) -> None:
        seq = self.pick(pick, lambda c: c.holder == worker and _may_open(c))
        if seq is not None:
            self._open(worker, seq)

    def _open(self, worker: str, seq: int) -> None:
        contact = self.model[seq]
        opened = self.run(
            self.campaign.open_intent(worker, seq, after=contact.intents, now=self.now)
        )
        assert opened == contact.intents + 1
        contact.state, contact.intents, contact.open, contact.due = S.DIALING, opened, True, None
        contact.orphan = None  # the new intent is this worker's, whoever dialled before
        self.wrote(durable=True)

    @rule(worker=workers, pick=picks, lag=st.integers(0, 1))
    def open_intent_refused(self, worker: str, pick: int, lag: int) -> None:
        """An intent the contract refuses: not held, not openable, or a stale count."""

        def refused(contact: Expected) -> bool:
            return lag == 1 or contact.holder != worker or not _may_open(contact)

        seq = self.pick(pick, refused)
        if seq is None:
            return
        after = self.model[seq].intents - lag
        self.stale(self.campaign.open_intent(worker, seq, after=after, now=self.now))

    # -- one send's answer ------------------------------------------------------------------
    def sending(self, pick: int, *, closed_ok: bool = False) -> int | None:
        return self.pick(pick, lambda c: c.state is S.DIALING and (c.open or closed_ok))

    @_sending
    @rule(pick=picks)
    def close_intent(self, pick: int) -> None:
        seq = self.sending(pick)
        if seq is None:
            return
        self.run(
            self.campaign.close_intent(seq, self.model[seq].intents, error="429", now=self.now)
        )
        self.model[seq].open = False
        self.wrote(durable=True)

    @_sending
    @rule(pick=picks, reuse=st.booleans())
    def place(self, pick: int, reuse: bool) -> None:
        seq = self.sending(pick)
        if seq is None:
            return
        contact = self.model[seq]
        used = [c.call_sid for c in self.model if c.call_sid is not None]
        if reuse and used:
            sid = used[0]
        else:
            self.sids += 1
            sid = f"CA{self.sids:04d}"
        placing = self.campaign.record_placement(
            seq,
            contact.intents,
            call_sid=sid,
            call_status="queued",
            correlation_id=None,
            deadline=self.now + 600,
            now=self.now,
        )
        if reuse and used:
            with pytest.raises(DuplicateCallSid):
                self.run(placing)
            self._unknown(contact)
        else:
            self.run(placing)
            contact.state, contact.open, contact.call_sid = S.IN_FLIGHT, False, sid
            contact.attempts += 1
        self.wrote(durable=True)

    def _unknown(self, contact: Expected) -> None:
        contact.state, contact.open, contact.holder = S.UNKNOWN, False, None
        contact.attempts += 1

    @_sending
    @rule(pick=picks)
    def record_unknown(self, pick: int) -> None:
        seq = self.sending(pick)
        if seq is None:
            return
        self.run(
            self.campaign.record_unknown(
                seq, self.model[seq].intents, reason="reset", error=None, now=self.now
            )
        )
        self._unknown(self.model[seq])
        self.wrote(durable=True)

    @_dialing
    @rule(pick=picks, end=st.sampled_from([S.SCHEDULED, S.FAILURE, S.INVALID]), later=delays)
    def record_not_placed(self, pick: int, end: ContactState, later: int) -> None:
        seq = self.sending(pick, closed_ok=True)
        if seq is None:
            return
        contact = self.model[seq]
        due = self.now + later if end is S.SCHEDULED else None
        self.run(
            self.campaign.record_not_placed(
                seq, contact.intents, state=end, due=due, reason=None, error="e", now=self.now
            )
        )
        contact.state, contact.open, contact.due, contact.holder = end, False, due, None
        self.wrote(durable=False)

    # -- following --------------------------------------------------------------------------
    @_in_flight
    @rule(worker=workers)
    def calls_in_flight(self, worker: str) -> None:
        calls = self.run(self.campaign.calls_in_flight(worker))
        expected = [
            seq
            for seq, c in enumerate(self.model)
            if c.state is S.IN_FLIGHT and c.holder in (None, worker)
        ]
        assert sorted(call.seq for call in calls) == expected
        for call in calls:
            assert call.call_sid == self.model[call.seq].call_sid
            self.model[call.seq].holder = worker

    @_in_flight
    @rule(pick=picks, word=st.sampled_from(["ringing", "in-progress"]))
    def record_status(self, pick: int, word: str) -> None:
        seq = self.pick(pick, lambda c: c.state is S.IN_FLIGHT)
        if seq is None:
            return
        self.run(self.campaign.record_status(seq, self.model[seq].intents, word, self.now))
        self.wrote(durable=False)

    @_in_flight
    @rule(pick=picks, outcome=st.sampled_from(sorted(CALL_OUTCOMES)), retry=st.booleans())
    def record_outcome(self, pick: int, outcome: ContactState, retry: bool) -> None:
        seq = self.pick(pick, lambda c: c.state is S.IN_FLIGHT)
        if seq is None:
            return
        contact = self.model[seq]
        retry_due = self.now + 5 if retry else None
        ending = self.campaign.record_outcome(
            seq, contact.intents, outcome=outcome, retry_due=retry_due, reason=None, now=self.now
        )
        if retry and outcome not in RETRYABLE:
            self.stale(ending)  # the exactly-once rule
            return
        self.run(ending)
        contact.state = S.SCHEDULED if retry else outcome
        contact.due, contact.holder = retry_due, None
        self.wrote(durable=False)

    # -- crashes ----------------------------------------------------------------------------
    @_any(lambda c: c.holder is not None or c.state is S.DIALING)
    @rule(worker=st.sampled_from([None, *WORKERS]))
    def recover(self, worker: str | None) -> None:
        self.run(self.campaign.recover(self.now, worker=worker))
        self._settle(worker, self.now)
        self.wrote(durable=True)

    def _settle(self, worker: str | None, now: float) -> None:
        """What ``recover(now, worker=worker)`` does, in the model."""
        for contact in self.model:
            orphaned = contact.orphan == worker and contact.state is S.DIALING
            if worker is not None and contact.holder != worker and not orphaned:
                continue
            if contact.state is S.DIALING and contact.open:
                self._unknown(contact)
            elif contact.state is S.DIALING:
                contact.state, contact.due = S.SCHEDULED, now
            contact.holder = contact.orphan = None

    # -- workers: leases, late answers, skewed clocks --------------------------------------
    @rule(worker=workers)
    def heartbeat(self, worker: str) -> None:
        self.run(self.campaign.heartbeat(worker))
        self.beats.add(worker)
        self.wrote(durable=True)

    @rule(reaper=workers)
    def lease_expires(self, reaper: str) -> None:
        """Every other worker missed its heartbeats (a timeout below zero: its lease ran
        out whatever the store's clock says): the reaper settles it as ``recover``."""
        now = self.now + self.skew[reaper]
        dead = sorted(self.beats - {reaper})
        assert self.run(self.campaign.reap(reaper, timeout=-1.0, now=now)) == dead
        for name in dead:
            self._settle(name, now)
        self.beats = {reaper}
        self.wrote(durable=True)

    @rule(worker=workers, seconds=st.integers(-30, 30))
    def skew_clock(self, worker: str, seconds: int) -> None:
        """The worker's own clock drifts: the ``now`` it passes is off by ``seconds``."""
        self.skew[worker] = float(seconds)

    @_any(lambda c: c.state is S.UNKNOWN)
    @rule(pick=picks)
    def late_answer(self, pick: int) -> None:
        """A trigger's answer arrives after the contact was settled ``unknown`` (a reaped
        worker was alive after all): its sid upgrades the unknown (clause 3b), a retry
        of it changes nothing, and the intent can no longer be closed."""
        seq = self.pick(pick, lambda c: c.state is S.UNKNOWN)
        if seq is None:
            return
        contact = self.model[seq]
        self.sids += 1
        sid = f"CA{self.sids:04d}"
        for _ in range(2):
            self.run(
                self.campaign.record_placement(
                    seq,
                    contact.intents,
                    call_sid=sid,
                    call_status="queued",
                    correlation_id=None,
                    deadline=self.now + 600,
                    now=self.now,
                )
            )
        contact.state, contact.call_sid, contact.holder = S.IN_FLIGHT, sid, None
        contact.orphan = None
        self.wrote(durable=True)
        self.stale(self.campaign.close_intent(seq, contact.intents, error="late", now=self.now))

    @_any(lambda c: c.state is S.UNKNOWN)
    @rule()
    def requeue_unknown(self) -> None:
        expected = sum(c.state is S.UNKNOWN for c in self.model)
        assert self.run(self.campaign.requeue_unknown(self.now)) == expected
        for contact in self.model:
            if contact.state is S.UNKNOWN:
                contact.state, contact.due = S.SCHEDULED, self.now
        self.wrote(durable=True)

    @precondition(lambda machine: len(machine.since_commit) > 1)
    @rule()
    def flush(self) -> None:
        self.run(self.campaign.flush())
        self.wrote(durable=True)

    @precondition(lambda machine: machine.writes >= 2)
    @rule()
    def crash(self) -> None:
        self.store = self.stores.crash(self.store)
        self.campaign = self.run(self.store.open(NAME))
        seen = self.views()
        survivors = [m for m in self.since_commit if [c.view() for c in m] == seen]
        assert survivors, (
            f"after a crash the store shows {seen}, "
            f"none of the states since the last commit: {self.since_commit}"
        )
        self.model = copy.deepcopy(survivors[-1])
        del self.entries[len(self.model) :]  # the contacts fed since the commit are gone
        for contact in self.model:
            if self.named_across_crashes and contact.state is S.DIALING:
                contact.orphan = contact.holder or contact.orphan
            contact.holder = None  # a crash drops every hold
        if not self.named_across_crashes:
            self.beats = set()
        self.since_commit = [copy.deepcopy(self.model)]
        self.writes = 0

    # -- after every step -------------------------------------------------------------------
    def views(self) -> list[tuple[object, ...]]:
        """Each contact as the model sees it, read from the store; checks its history too."""
        records = self.run(_results(self.campaign))
        assert [r["contact_id"] for r in records] == [f"c{seq}" for seq in range(len(records))]
        assert self.run(self.campaign.feed_position()) == _position(len(records))
        views: list[tuple[object, ...]] = []
        for seq, record in enumerate(records):
            history = self.run(self.campaign.history(seq))
            problem = live_intent_problem(history)
            assert problem is None, f"contact #{seq}: {problem}"
            intents = sum(line.event == "intent" for line in history)
            closed = record["state"] == "dialing" and history[-1].event == "not_placed"
            views.append(
                (
                    record["state"],
                    record["attempts"],
                    record["call_sid"],
                    record["next_attempt_at"],
                    intents,
                    closed,
                )
            )
        return views

    @invariant()
    def no_two_live_intents_and_no_result_lost(self) -> None:
        STEPS[type(self).__name__] = STEPS.get(type(self).__name__, 0) + 1
        assert self.views() == [contact.view() for contact in self.model]
        tally: dict[ContactState, int] = {}
        for contact in self.model:
            tally[contact.state] = tally.get(contact.state, 0) + 1
        assert self.run(self.campaign.counts()) == tally


#: Hypothesis shrinks a failure for up to 5 minutes, on PostgreSQL a database per try: in
#: CI that outlasts pytest's timeout, which then hides the failure behind a "flaky"
#: report. There a failure is shown as drawn (at most 60 steps); shrink it locally.
_PHASES = tuple(p for p in Phase if not (os.environ.get("CI") and p is Phase.shrink))

#: Steps explored (invariant checks), by machine: the test prints them.
STEPS: dict[str, int] = {}


def _position(count: int) -> FeedPosition:
    return FeedPosition(count, f"digest-{count}", done=False)


async def _results(campaign: StoredCampaign) -> list[Any]:
    return [record async for record in campaign.results()]


def test_the_contract_holds_under_two_workers_and_crashes(
    store_kind: StoreKind, tmp_path_factory: pytest.TempPathFactory
) -> None:
    class OnThisStore(StoreMachine):
        def __init__(self) -> None:
            super().__init__(store_kind, tmp_path_factory.mktemp("store"))

    examples = os.environ.get("POLYOUT_STORE_EXAMPLES")
    STEPS.pop(OnThisStore.__name__, None)
    run_state_machine_as_test(
        OnThisStore,
        settings=settings(
            max_examples=(
                int(examples)
                if examples
                else getattr(store_kind, "stateful_examples", DEFAULT_EXAMPLES)
            ),
            stateful_step_count=60,
            deadline=None,
            phases=_PHASES,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    print(f"stateful: {STEPS.get(OnThisStore.__name__, 0)} steps explored")
