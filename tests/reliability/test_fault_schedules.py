"""Randomised fault schedules: campaigns of hundreds of contacts against a misbehaving sandbox.

Each schedule mixes 429 storms, 500/502, connections cut after placing, status 5xx,
latency spikes and statuses that expire before they are read, all drawn from the seed.
After every run the journal and the sandbox's ledger must tell the same story: every
contact final exactly once, at most one placement per attempt and none for a contact
that was never to be dialled, an ``unknown`` for each cut that placed a call and for
nothing else.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import attrs
import pytest

from polyout._campaign._clock import ScaledClock
from polyout._campaign._runner import Campaign
from polyout._campaign._states import ContactState as S
from polyout.sandbox import FaultConfig, Placement, Sandbox, SandboxConfig
from tests.campaign.helpers import client_for

from .campaigns import contact_list, fault_schedule
from .helpers import JournalView, Seeded, assert_no_problems, campaign_problems

pytestmark = pytest.mark.reliability

TIME_SCALE = 1000.0
RUN_LIMIT = 90.0  # real seconds: a run that takes longer is a hang


@pytest.mark.parametrize("schedule", range(3))
async def test_invariants_hold_under_a_random_fault_schedule(
    seeded: Seeded, schedule: int, tmp_path: Path
) -> None:
    draw = seeded.child(f"schedule-{schedule}")
    plan = fault_schedule(draw.child("faults"), time_scale=TIME_SCALE)
    people = contact_list(draw.child("contacts"), draw.random.randrange(100, 300))
    context = f"seed {draw.seed}: {plan.describe()}, {len(people.contacts)} contacts"
    print(context)
    journal = tmp_path / "journal.db"
    started = time.monotonic()
    async with (
        Sandbox(plan.sandbox) as sandbox,
        client_for(plan.api, sandbox.base_url) as client,
    ):
        campaign = Campaign(
            client,
            people.contacts,
            journal=journal,
            rate=plan.rate,
            concurrency=100,
            max_attempts=plan.max_attempts,
            retry_delay=plan.retry_delay,
            suppress=people.suppressed,
            poll_interval=(20.0, 50.0),
            poll_rate=500.0,
            poll_deadline=3000.0,
            clock=ScaledClock(scale=TIME_SCALE),
        )
        summary = await asyncio.wait_for(campaign.run(), RUN_LIMIT)
        placements = list(sandbox.ledger.placements)
    elapsed = time.monotonic() - started
    view = JournalView.read(journal)
    context += f"; {dict(view.states())} in {elapsed:.1f} s"
    assert summary.complete, context
    assert_no_problems(
        campaign_problems(view, placements, api=plan.api, expected_ids=people.ids),
        context=context,
    )
    # The schedule really was hostile where it said so (else the test proves little);
    # only where ten cuts or more were expected, so that none is a 1-in-20,000 chance.
    if plan.sandbox.faults.cut_rate * len(placements) >= 10:
        assert view.states()["unknown"] > 0, context


async def test_the_invariants_catch_each_broken_promise(seeded: Seeded, tmp_path: Path) -> None:
    """The checks above are only worth their failures: tamper with a true record, see each."""
    people = contact_list(seeded.child("contacts"), 60, excluded_share=0.3)
    config = SandboxConfig(
        outcomes="last-digit",
        time_scale=TIME_SCALE,
        seed=seeded.seed,
        faults=FaultConfig(cut_on=frozenset({3})),
    )
    async with Sandbox(config) as sandbox, client_for("connector", sandbox.base_url) as client:
        campaign = Campaign(
            client,
            people.contacts,
            journal=tmp_path / "journal.db",
            rate=200.0,
            retry_delay=50.0,
            suppress=people.suppressed,
            poll_interval=(20.0, 50.0),
            poll_rate=500.0,
            clock=ScaledClock(scale=TIME_SCALE),
        )
        await asyncio.wait_for(campaign.run(), RUN_LIMIT)
        placements = list(sandbox.ledger.placements)
    view = JournalView.read(tmp_path / "journal.db")
    assert campaign_problems(view, placements, api="connector", expected_ids=people.ids) == []

    def problems(tampered: list[Placement]) -> list[str]:
        return campaign_problems(view, tampered, api="connector", expected_ids=people.ids)

    answered = next(p for p in placements if not p.cut)
    cut = next(p for p in placements if p.cut)
    excluded = next(c for c in view.contacts if c.state in (S.INVALID, S.SUPPRESSED))
    assert problems([*placements, attrs.evolve(answered, sid="OUT-again")])  # dialled twice
    assert problems([*placements, attrs.evolve(answered, number=str(excluded.to_number))])
    assert problems([p for p in placements if p is not cut])  # an unknown that placed nothing
    assert problems([attrs.evolve(p, cut=False) if p is cut else p for p in placements])
    other = "busy" if answered.outcome != "busy" else "completed"
    assert problems([attrs.evolve(p, outcome=other) if p is answered else p for p in placements])
    assert campaign_problems(view, placements, api="connector", expected_ids=people.ids[1:])
