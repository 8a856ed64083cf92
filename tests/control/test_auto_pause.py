"""Auto-pause on trouble, each cause, on the doubles (the real engine, virtual time).

Each test makes the fake API misbehave from a moment on, checks that the campaign
paused itself (in the store, by ``auto``, with the reason: every worker and ``status``
see it) instead of burning the list or stopping, and that resuming carries on.
"""

from __future__ import annotations

import attrs
import pytest

from polyout._campaign._auto_pause import AUTO, AutoPause, AutoPauseRules
from polyout._campaign._errors import CampaignError
from polyout._campaign._states import ContactState
from polyout._campaign._store import StoredCampaign
from polyout._campaign._store_control import CampaignPhase, Command
from polyout._models import CallState
from polyout.testing import FakePlacer, Poll, Refused, Send, VirtualClock
from tests.control.doubles import CONFIG, people, run_engine

S = ContactState
P = CampaignPhase


async def _until_paused(campaign: StoredCampaign, clock: VirtualClock) -> str:
    while (state := await campaign.control()).phase is not P.PAUSED:
        await clock.sleep(0.5)
    assert state.by == AUTO
    return state.reason or ""


async def test_a_401_mid_campaign_pauses_and_resume_carries_on() -> None:
    fixed_at: dict[str, float] = {}

    def revoked(send: Send) -> Refused | None:
        broken = send.index >= 4 and "at" not in fixed_at
        return Refused("invalid API key", status=401) if broken else None

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        reason = await _until_paused(campaign, clock)
        assert "401" in reason
        placed = len(placer.ledger.placements)
        await clock.sleep(60.0)
        assert len(placer.ledger.placements) == placed  # paused: nobody is dialled
        fixed_at["at"] = clock.time()  # the key is fixed
        await campaign.command(Command.RESUME, reason=None, by="test", now=clock.time())

    stats, placer, campaign = await run_engine(
        people(10), steer, companions=[AutoPause()], placer={"trigger_faults": revoked}
    )
    assert sum(stats.states.values()) == 10  # every contact ended, the one that met the
    assert len(placer.ledger.placements) == 10  # 401 included: it was not charged for it
    kinds = [(e.kind, e.by) for e in await campaign.campaign_log()]
    assert ("auto_paused", AUTO) in kinds
    assert ("resumed", "test") in kinds


async def test_a_run_of_400s_pauses_instead_of_stopping() -> None:
    def refused(send: Send) -> Refused | None:
        return Refused("agent has no outbound number") if send.index >= 3 else None

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        reason = await _until_paused(campaign, clock)
        assert "400" in reason
        await campaign.command(Command.CANCEL, reason="wrong agent", by="test", now=clock.time())

    _, placer, campaign = await run_engine(
        people(12), steer, companions=[AutoPause()], placer={"trigger_faults": refused}
    )
    counts = await campaign.counts()
    assert counts.get(S.CANCELLED, 0) >= 6  # not burnt through: most never tried
    assert len(placer.ledger.placements) == 2
    assert S.INVALID not in counts or counts[S.INVALID] < 4


async def test_most_of_the_last_k_calls_failing_pauses() -> None:
    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        reason = await _until_paused(campaign, clock)
        assert reason == "5 of the last 5 calls ended in failure"
        await campaign.command(Command.CANCEL, reason="broken", by="test", now=clock.time())

    rules = AutoPauseRules(failure_window=5, failure_share=0.6)
    _, placer, campaign = await run_engine(
        people(40),
        steer,
        companions=[AutoPause(rules)],
        placer={"outcomes": lambda request: CallState.FAILURE},
    )
    # the first five ended after 20 s each; at one call a second, about 25 were placed
    # by then: far from the 40 a campaign without auto-pause burns through
    assert len(placer.ledger.placements) < 30
    assert (await campaign.counts()).get(S.CANCELLED, 0) > 10


async def test_without_auto_pause_a_401_still_stops_the_run() -> None:
    def revoked(send: Send) -> Refused | None:
        return Refused("invalid API key", status=401) if send.index >= 2 else None

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        return None

    rules = AutoPauseRules(on_auth=False)
    with pytest.raises(CampaignError, match=r"401|key"):
        await run_engine(
            people(5), steer, companions=[AutoPause(rules)], placer={"trigger_faults": revoked}
        )


async def test_retries_of_a_few_bad_numbers_at_the_tail_do_not_pause_a_healthy_campaign() -> None:
    bad = {"+12125551000", "+12125551001"}  # these two always fail; the other ten answer

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        return None

    rules = AutoPauseRules(failure_window=5, failure_share=0.6)
    stats, placer, campaign = await run_engine(
        people(12),
        steer,
        companions=[AutoPause(rules)],
        placer={
            "outcomes": lambda request: (
                CallState.FAILURE if request.to_number in bad else CallState.SUCCESS
            )
        },
        config=attrs.evolve(CONFIG, max_attempts=4, retry_delay=60.0),
    )
    # The tail of the run is the bad numbers' retries, call after call: each is one
    # contact of the window, so the campaign ends instead of pausing.
    assert stats.states == {"success": 10, "failure": 2}
    assert "auto_paused" not in [e.kind for e in await campaign.campaign_log()]
    assert len(placer.ledger.placements) > 12  # the bad ones were retried


async def test_a_401_met_first_by_a_status_read_pauses_too() -> None:
    """A key revoked mid-campaign is often seen by a poll before any trigger."""
    revoked: dict[str, float] = {}

    def status_refused(poll: Poll) -> Refused | None:
        if poll.index >= 3 and "fixed" not in revoked:
            return Refused("invalid API key", status=401)
        return None

    async def steer(campaign: StoredCampaign, clock: VirtualClock, placer: FakePlacer) -> None:
        reason = await _until_paused(campaign, clock)
        assert "401" in reason
        placed = len(placer.ledger.placements)
        await clock.sleep(60.0)
        assert len(placer.ledger.placements) == placed  # paused: nobody new is dialled
        revoked["fixed"] = clock.time()
        await campaign.command(Command.RESUME, reason=None, by="test", now=clock.time())

    stats, placer, campaign = await run_engine(
        people(10),
        steer,
        companions=[AutoPause()],
        placer={"status_faults": status_refused, "duration": 30.0},
    )
    assert sum(stats.states.values()) == 10
    assert len(placer.ledger.placements) == 10  # every contact dialled once, none twice
    kinds = [(e.kind, e.by) for e in await campaign.campaign_log()]
    assert kinds.count(("auto_paused", AUTO)) == 1  # the polls that kept failing: one pause
