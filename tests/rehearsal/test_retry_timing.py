"""Retries timed by answer rates (``retry_timing="learned"``), on the real engine.

The people of these campaigns answer only between 15:00 and 16:00, New York time; every
other call ends ``no_answer``. The calling window is 09:00-18:00 there.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import polyout
from polyout.campaign import MemoryStore
from polyout.testing import FakePlacer, VirtualClock

from .helpers import new_york

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York
WINDOW = "09:00-18:00"
RETRY_DELAY = 1800.0


def local(moment: datetime) -> datetime:
    return moment.astimezone(NEW_YORK)


def answered_at_three(clock: VirtualClock) -> FakePlacer:
    def outcome(request: polyout.CallRequest) -> polyout.CallState:
        hour = local(clock.now()).hour
        return polyout.CallState.SUCCESS if hour == 15 else polyout.CallState.NO_ANSWER

    return FakePlacer(clock=clock, outcomes=outcome, duration=60.0, seed=3)


def people(count: int) -> list[polyout.Contact]:
    return [polyout.Contact(f"c{n}", new_york(n)) for n in range(count)]


async def retries(
    timing: str, *, stop_at: datetime | None = None
) -> tuple[list[polyout.CampaignEvent], list[polyout.CampaignEvent]]:
    """The RETRY events of a campaign of 300 people over a day (first run, resumed run).

    With ``stop_at``, the first run is stopped then and the campaign resumed at once:
    the second run starts with only the store's memory of the first.
    """
    store = MemoryStore()
    first: list[polyout.CampaignEvent] = []
    second: list[polyout.CampaignEvent] = []
    async with VirtualClock(start=START) as clock:
        placer = answered_at_three(clock)  # one API: its call sids go on across runs
        campaign = polyout.Campaign(
            placer,
            people(300),
            store=store,
            name="day",
            rate=1 / 100,  # first calls from 09:00 to 17:20
            max_attempts=2,
            retry_delay=RETRY_DELAY,
            window=WINDOW,
            retry_timing=timing,
            clock=clock,
            seed=5,
            on_event=first.append,
        )
        if stop_at is not None:
            stop_after = (stop_at - START).total_seconds()
            asyncio.get_running_loop().call_later(stop_after, campaign.stop)
        await campaign.run()
        if stop_at is not None:
            resumed = polyout.Campaign.resume(
                placer,
                store=store,
                name="day",
                contacts=people(300),
                clock=clock,
                seed=5,
                on_event=second.append,
            )
            await resumed.run()
    kind = polyout.EventKind.RETRY
    return [e for e in first if e.kind is kind], [e for e in second if e.kind is kind]


def assert_in_window(due: datetime) -> None:
    assert 9 <= local(due).hour < 18, due


def test_learned_retries_go_to_the_best_hour_inside_the_window_jittered() -> None:
    learned, _ = asyncio.run(retries("learned"))
    assert learned
    # Once 15:00 has ten calls behind it (from about 15:17), every retry goes there.
    informed = [e for e in learned if local(e.at) >= local(START).replace(hour=15, minute=30)]
    assert len(informed) > 40
    for event in informed:
        assert event.due is not None
        assert local(event.due).hour == 15
        assert event.due >= event.at + timedelta(seconds=RETRY_DELAY)  # never sooner
        assert event.due - event.at < timedelta(hours=25)
        assert_in_window(event.due)
    assert len({event.due for event in informed}) == len(informed)  # jittered
    spread = max(local(e.due).minute for e in informed if e.due)
    assert spread - min(local(e.due).minute for e in informed if e.due) > 30


def test_fixed_retries_keep_their_delay() -> None:
    fixed, _ = asyncio.run(retries("fixed"))
    moved = [e for e in fixed if e.due and e.due - e.at > timedelta(seconds=RETRY_DELAY + 1)]
    # Only those the window's close pushed to the next morning wait longer than 30 m.
    assert all(local(e.due).hour == 9 for e in moved if e.due)
    assert any(local(e.due).hour != 15 for e in fixed if e.due)


@pytest.mark.parametrize("timing", ["learned"])
def test_a_resumed_run_learns_from_the_stores_history(timing: str) -> None:
    """Stopped at 16:30 and resumed: the resumed run's first retry already knows 15:00."""
    stop_at = START.replace(hour=21, minute=30)  # 16:30 in New York
    _, second = asyncio.run(retries(timing, stop_at=stop_at))
    assert second
    first_retry = min(second, key=lambda event: event.at)
    assert first_retry.due is not None
    assert local(first_retry.due).hour == 15
    assert local(first_retry.due).date() == local(stop_at).date() + timedelta(days=1)


def test_a_new_campaign_learns_from_the_stores_other_campaigns() -> None:
    """spring (fixed delays, one call each) answered only at 15:00; autumn, started in the
    same store once spring is over (17:20), sends its very first retry to 15:00."""
    store = MemoryStore()
    retries: list[polyout.CampaignEvent] = []

    async def run() -> None:
        async with VirtualClock(start=START) as clock:
            placer = answered_at_three(clock)
            for name, contacts, timing in (
                ("spring", people(300), "fixed"),
                (
                    "autumn",
                    [polyout.Contact(f"a{n}", new_york(1000 + n)) for n in range(20)],
                    "learned",
                ),
            ):
                await polyout.Campaign(
                    placer,
                    contacts,
                    store=store,
                    name=name,
                    rate=1 / 100,
                    max_attempts=1 if name == "spring" else 2,
                    retry_delay=RETRY_DELAY,
                    window=WINDOW,
                    retry_timing=timing,
                    clock=clock,
                    seed=5,
                    on_event=retries.append if name == "autumn" else None,
                ).run()

    asyncio.run(run())
    first = min((e for e in retries if e.kind is polyout.EventKind.RETRY), key=lambda e: e.at)
    assert local(first.at).hour == 17
    assert first.due is not None
    assert local(first.due).hour == 15
