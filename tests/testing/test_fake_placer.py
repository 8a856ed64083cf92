"""``polyout.testing.FakePlacer``: scripted outcomes, durations and faults, and its ledger."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timezone

import attrs
import pytest

import polyout
import polyout.campaign
from polyout.testing import (
    LAST_DIGIT,
    AnswerLost,
    FakePlacer,
    Fault,
    NoConnection,
    Poll,
    RateLimited,
    Refused,
    Send,
    ServerFailure,
    VirtualClock,
    by_number,
    fault_mix,
    rate_limit_storm,
    scripted,
)

START = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def request(last_digit: int, index: int = 0) -> polyout.CallRequest:
    return polyout.build_request(f"+1212555{1000 + index * 10 + last_digit:04d}")


async def test_each_call_ends_by_the_last_digit_after_its_duration() -> None:
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=90.0)
        calls = [await placer.place(request(digit)) for digit in range(10)]
        seen = [(await placer.get_status(calls[0].call_sid)).state]
        await asyncio.sleep(1)
        seen.append((await placer.get_status(calls[0].call_sid)).state)
        await asyncio.sleep(44)
        seen.append((await placer.get_status(calls[0].call_sid)).state)
        await asyncio.sleep(45)
        ended = [(await placer.get_status(call.call_sid)).state for call in calls]
    CallState = polyout.CallState
    assert seen == [CallState.QUEUED, CallState.CALLING, CallState.IN_PROGRESS]
    assert ended == [CallState.SUCCESS] * 7 + [
        CallState.NO_ANSWER,
        CallState.BUSY,
        CallState.FAILURE,
    ]
    assert [placement.at for placement in placer.ledger.placements] == [START.timestamp()] * 10
    assert all(placement.answered for placement in placer.ledger.placements)


async def test_a_seeded_mix_gives_the_same_outcomes_whatever_the_order_of_placing() -> None:
    requests = [request(0, index) for index in range(300)]

    async def outcomes(order: list[polyout.CallRequest]) -> dict[str, polyout.CallState]:
        placer = FakePlacer(duration=0.0, seed=7)
        await asyncio.gather(*(placer.place(each) for each in order))
        return {p.number: p.outcome for p in placer.ledger.placements}

    forwards = await outcomes(requests)
    assert forwards == await outcomes(requests[::-1])
    counts = {state: list(forwards.values()).count(state) for state in set(forwards.values())}
    assert counts[polyout.CallState.SUCCESS] > 150  # the sandbox's mix: 70% success
    assert set(counts) <= {"success", "no_answer", "busy", "failure"}
    other_seed = FakePlacer(duration=0.0, seed=8)
    for each in requests:
        await other_seed.place(each)
    assert {p.number: p.outcome for p in other_seed.ledger.placements} != forwards


async def test_a_lost_answer_is_unknown_placed_once_and_never_sent_again() -> None:
    placer = FakePlacer(trigger_faults=scripted({1: AnswerLost(placed=True)}))
    with pytest.raises(polyout.TriggerOutcomeUnknown):
        await placer.place(request(0))
    assert len(placer.ledger.sends) == 1
    assert placer.ledger.placement_count(request(0).to_number) == 1
    assert placer.ledger.unanswered() == placer.ledger.placements


async def test_not_placed_faults_are_retried_and_place_exactly_one_call() -> None:
    number = request(0).to_number
    placer = FakePlacer(
        trigger_faults=by_number({number: [ServerFailure(502), NoConnection(), RateLimited(0)]})
    )
    call = await placer.place(request(0))
    assert [send.fault for send in placer.ledger.sends] == [
        ServerFailure(502),
        NoConnection(),
        RateLimited(0),
        None,
    ]
    assert placer.ledger.placements_per_number() == {number: 1}
    assert placer.ledger.placements[0].sid == call.call_sid
    assert not placer.ledger.dialled_more_than_once()


async def test_a_refusal_and_an_undocumented_5xx_are_raised_as_the_client_raises_them() -> None:
    placer = FakePlacer(
        trigger_faults=scripted(
            {
                1: Refused("invalid number"),
                2: ServerFailure(504, placed=True),
                3: Refused(status=401),
            }
        )
    )
    with pytest.raises(polyout.BadRequestError, match="invalid number"):
        await placer.place(request(0))
    with pytest.raises(polyout.TriggerOutcomeUnknown) as unknown:
        await placer.place(request(1))
    assert unknown.value.status_code == 504
    with pytest.raises(polyout.AuthenticationError):
        await placer.place(request(2))
    assert [p.number for p in placer.ledger.placements] == [request(1).to_number]


async def test_a_429_storm_pauses_every_trigger_on_the_pacer_and_nothing_is_lost() -> None:
    storm_end = START.timestamp() + 20
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(
            clock=clock,
            duration=0.0,
            trigger_faults=rate_limit_storm(START, storm_end, retry_after=5.0),
            max_retries=10,
        )
        pacer = polyout.campaign.Pacer(10)
        requests = [request(0, index) for index in range(50)]
        await asyncio.gather(*(placer.place(each, pacer=pacer) for each in requests))
    sends = placer.ledger.sends
    limited = [send for send in sends if send.fault is not None]
    assert limited
    assert all(send.at < storm_end for send in limited)
    assert all(send.at >= storm_end for send in sends if send.fault is None)
    assert pacer.rate_limited == len(limited)
    # Each 429 paused every caller for its Retry-After: at most one send per pause.
    assert all(
        later.loop_time - earlier.loop_time >= 5.0 for earlier, later in itertools.pairwise(limited)
    )
    assert placer.ledger.placements_per_number() == {each.to_number: 1 for each in requests}


async def test_status_faults_are_retried_and_a_status_is_gone_after_retention() -> None:
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(
            clock=clock,
            duration=10.0,
            retention=60.0,
            status_faults=scripted({1: RateLimited(2.0), 2: ServerFailure(500), 3: AnswerLost()}),
        )
        call = await placer.place(request(0))
        status = await placer.get_status(call.call_sid)
        assert status.state is polyout.CallState.QUEUED
        assert placer.ledger.polls == 4
        await asyncio.sleep(69)
        assert (await placer.get_status(call.call_sid)).state is polyout.CallState.SUCCESS
        await asyncio.sleep(1)
        with pytest.raises(polyout.NotFoundError):
            await placer.get_status(call.call_sid)
    with pytest.raises(polyout.NotFoundError):
        await placer.get_status("OUT-never-placed")


async def test_a_caller_cancelled_after_the_send_leaves_a_placed_unanswered_call() -> None:
    async with VirtualClock():
        placer = FakePlacer(latency=0.5)
        placing = asyncio.create_task(placer.place(request(0)))
        await asyncio.sleep(0.1)
        placing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await placing
    assert [p.answered for p in placer.ledger.placements] == [False]


async def test_fault_rules_see_what_they_are_told() -> None:
    sends: list[Send] = []
    polls: list[Poll] = []

    def watch_sends(send: Send) -> Fault | None:
        sends.append(send)
        return None

    def watch_polls(poll: Poll) -> Fault | None:
        polls.append(poll)
        return None

    placer = FakePlacer(
        trigger_faults=[watch_sends, scripted({1: NoConnection()})], status_faults=watch_polls
    )
    call = await placer.place(request(3))
    await placer.get_status(call.call_sid)
    assert [(s.index, s.nth_to_number, s.retry) for s in sends] == [(1, 1, 0), (2, 2, 1)]
    assert [(p.call_sid, p.number, p.nth_for_call) for p in polls] == [
        (call.call_sid, request(3).to_number, 1)
    ]


def test_a_fault_mix_is_seeded_per_number_and_count() -> None:
    rule = fault_mix({RateLimited(1.0): 0.3, NoConnection(): 0.2}, seed=3)
    sends = [Send(request(digit, i), i + 1, 1, 0, 0.0) for i in range(800) for digit in (1, 2)]
    faults = [rule(send) for send in sends]
    assert faults == [rule(send) for send in reversed(sends)][::-1]
    assert 400 < faults.count(RateLimited(1.0)) < 560
    assert 250 < faults.count(NoConnection()) < 390
    again = [rule(attrs.evolve(send, nth_to_number=2)) for send in sends]
    assert again != faults  # the second send to a number draws afresh


@pytest.mark.parametrize(
    ("build", "setting"),
    [
        (lambda: ServerFailure(500, placed=True), "placed"),
        (lambda: ServerFailure(404), "status"),
        (lambda: Refused(status=429), "status"),
        (lambda: fault_mix({RateLimited(): 0.7, NoConnection(): 0.7}), "weights"),
        (lambda: FakePlacer(outcomes={polyout.CallState.SUCCESS: 0.5}), "outcomes"),
        (lambda: FakePlacer(outcomes={polyout.CallState.CALLING: 1.0}), "outcomes"),
        (lambda: FakePlacer(duration=(10.0, 1.0)), "duration"),
        (lambda: FakePlacer(duration=-1.0), "duration"),
    ],
)
def test_settings_that_cannot_work_are_refused(build: object, setting: str) -> None:
    assert callable(build)
    with pytest.raises(polyout.ConfigurationError) as refused:
        build()
    assert refused.value.setting == setting
