"""A campaign that looks like a real day, for the browser test and the README's screenshot.

240 contacts in five countries, called 09:00-20:00 in each callee's zone from 08:00 UTC
on a Monday, six calls a minute; people answer more at lunch and in the evening (a
seeded draw per call), calls last half a minute to three minutes, three attempts an hour
apart, a few answers lost, two minutes of 429s at 10:10 UTC. It runs into an SQLite
journal (its control watch logs the runs and the 429s); an operator's pause of a quarter
of an hour at 11:00 is then logged as the pause and resume commands write it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import polyout
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store_control import Command
from polyout._models import CallRequest, CallState
from polyout._report._data import ReportData, gather
from polyout.testing import (
    AnswerLost,
    FakePlacer,
    VirtualClock,
    by_number,
    first_of,
    rate_limit_storm,
)

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
NAME = "spring-renewals"


def numbers() -> list[str]:
    london = [f"+44207946{n:04d}" for n in range(100)]
    us = [f"+1{area}555{n:04d}" for area in (212, 415, 312) for n in range(100, 120)]
    paris = [f"+331426{n:05d}" for n in range(30)]
    berlin = [f"+4930901{n:05d}" for n in range(30)]
    sydney = [f"+61293{n:06d}" for n in range(20)]
    return [*london, *us, *paris, *berlin, *sydney]


ZONES = {
    "+44": "Europe/London",
    "+1212": "America/New_York",
    "+1312": "America/Chicago",
    "+1415": "America/Los_Angeles",
    "+33": "Europe/Paris",
    "+49": "Europe/Berlin",
    "+61": "Australia/Sydney",
}
#: How likely a person answers, by their local hour.
ANSWERING = {9: 0.35, 10: 0.4, 11: 0.5, 12: 0.75, 13: 0.7, 14: 0.45, 15: 0.4, 16: 0.45}


def answers(clock: VirtualClock) -> Callable[[CallRequest], CallState]:
    def outcome(request: CallRequest) -> CallState:
        zone = next(z for prefix, z in ZONES.items() if request.to_number.startswith(prefix))
        hour = clock.now().astimezone(ZoneInfo(zone)).hour
        draw = random.Random(f"{request.to_number}/{clock.time()}").random()
        if draw < ANSWERING.get(hour, 0.6):
            return CallState.SUCCESS
        return (
            CallState.NO_ANSWER
            if draw < 0.93
            else CallState.BUSY
            if draw < 0.97
            else CallState.FAILURE
        )

    return outcome


async def showcase_report(folder: Path, *, now: float) -> ReportData:
    """Run the campaign into an SQLite journal in ``folder``, log the operator's pause,
    and add the campaign up as the report does."""
    journal = folder / "showcase.polyout.db"
    phones = numbers()
    contacts = [polyout.Contact(id=f"cust-{n:04d}", phone=phone) for n, phone in enumerate(phones)]
    lost = by_number({phone: [AnswerLost(placed=True)] for phone in phones[5::53]})
    storm = rate_limit_storm(START.timestamp() + 7800, START.timestamp() + 7920, retry_after=20.0)
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(
            clock=clock,
            outcomes=answers(clock),
            duration=(30.0, 180.0),
            trigger_faults=first_of(lost, storm),
            seed=7,
        )
        campaign = polyout.Campaign(
            cast(polyout.Client, placer),
            contacts,
            journal=journal,
            rate=0.1,
            concurrency=20,
            max_attempts=3,
            retry_delay=3600.0,
            window="09:00-20:00",
            poll_interval=(15.0, 30.0),
            clock=clock,
        )
        await campaign.run()
    store, stored = await SQLiteStore.open_path(journal)
    try:
        paused_at = START.timestamp() + 3 * 3600
        await stored.command(
            Command.PAUSE, reason="checking the agent's greeting", by="ops@laptop", now=paused_at
        )
        await stored.command(Command.RESUME, reason=None, by="ops@laptop", now=paused_at + 900)
        return await gather(stored, now=now, where=journal.name)
    finally:
        await store.aclose()
