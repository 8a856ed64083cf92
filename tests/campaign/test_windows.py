"""Calling windows in the callee's time zone, on a virtual clock that starts in the past.

Most tests start at 06:30 UTC on 10 March 2024, half an hour before New York moves to
summer time (02:00 EST becomes 03:00 EDT at 07:00 UTC). The campaign runs on the
in-memory store, ``polyout.testing.FakePlacer`` and a ``VirtualClock``: time jumps
exactly to the next timer and stands still while anything runs, so a call placed at a
window's opening is placed at that very second however loaded the machine is. The
assertions are about the fake's ledger: when each trigger request left, and when each
call was placed (the moment a phone would ring).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from polyout import Campaign, Contact
from polyout._campaign._events import CampaignStats
from polyout._campaign._memory_store import MemoryStore
from polyout.testing import (
    LAST_DIGIT,
    FakeLedger,
    FakePlacer,
    ServerFailure,
    VirtualClock,
    scripted,
)

from .helpers import number

START = datetime(2024, 3, 10, 6, 30, tzinfo=timezone.utc)
WINDOW = "09:00-20:00"
#: A call placed at a window's opening leaves within this of it: only the pacer's
#: spacing (5 ms at 200/s) separates them on a virtual clock, never the machine's load.
PROMPTLY = timedelta(seconds=1)


@attrs.frozen
class Ran:
    stats: CampaignStats
    ledger: FakeLedger
    results: dict[str, dict[str, Any]]


async def _run(
    people: list[Contact], *, start: datetime, placer: dict[str, Any] | None = None, **options: Any
) -> Ran:
    settings: dict[str, Any] = {
        "rate": 200.0,
        "concurrency": 50,
        "poll_interval": (100.0, 200.0),
        "retry_delay": 100.0,
        "seed": 0,
    }
    settings.update(options)
    async with VirtualClock(start=start) as clock:
        fake = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0, **(placer or {}))
        store = MemoryStore()
        stats = await Campaign(fake, people, store=store, clock=clock, **settings).run()
        stored = await store.open("default")
        results = {str(record["contact_id"]): dict(record) async for record in stored.results()}
    return Ran(stats, fake.ledger, results)


def _at(posix: float) -> datetime:
    return datetime.fromtimestamp(posix, tz=timezone.utc)


def _placed_at(ran: Ran, phone: str) -> list[datetime]:
    return [_at(placement.at) for placement in ran.ledger.placements_to(phone)]


def _promptly_after(moment: datetime, opening: datetime) -> bool:
    # A DST error would be an hour off; a window ignored, hours before the opening.
    return opening <= moment < opening + PROMPTLY


async def test_contacts_wait_for_their_own_morning_across_a_dst_change() -> None:
    people = [
        Contact(id="new-york", phone=number(1)),  # zone from the number
        Contact(id="london", phone=number(2), timezone="Europe/London"),  # the contact's own
        Contact(id="tokyo", phone=number(3), timezone="Asia/Tokyo"),  # 15:30 there: open
        Contact(id="freephone", phone="+80012345670"),  # no zone: the campaign default
    ]
    ran = await _run(people, start=START, window=WINDOW, default_timezone="Europe/Berlin")
    assert ran.stats.complete
    assert ran.stats.states == {"success": 4}
    placed = {person.id: _placed_at(ran, person.phone) for person in people}
    assert all(len(moments) == 1 for moments in placed.values()), placed
    first = {key: moments[0] for key, moments in placed.items()}
    assert _promptly_after(first["tokyo"], START)  # open at once: dialled at once
    assert _promptly_after(first["london"], datetime(2024, 3, 10, 9, 0, tzinfo=timezone.utc))
    assert _promptly_after(first["freephone"], datetime(2024, 3, 10, 8, 0, tzinfo=timezone.utc))
    # 09:00 EDT (UTC-4): the window follows the clocks forward, not 14:00 UTC as in winter.
    assert _promptly_after(first["new-york"], datetime(2024, 3, 10, 13, 0, tzinfo=timezone.utc))
    # The store says the same: each contact's first attempt is its call's placement.
    for key, moment in first.items():
        assert ran.results[key]["first_attempt_at"] is not None
        stored = datetime.fromisoformat(ran.results[key]["first_attempt_at"].replace("Z", "+00:00"))
        assert stored == moment


async def test_a_number_in_several_zones_waits_until_all_are_inside_and_retries_move_into_it() -> (
    None
):
    # An Australian mobile may ring from the Cocos Islands (UTC+6:30) to Lord Howe Island
    # (UTC+11 in March). At 06:30 UTC all are inside 09:00-20:00; the call fails (last
    # digit 9) and its retry, four hours later, falls after 20:00 on Lord Howe: it moves
    # to 09:00 on Cocos the next morning, 02:30 UTC.
    mobile = Contact(id="au", phone="+61412345679")
    ran = await _run([mobile], start=START, window=WINDOW, max_attempts=2, retry_delay=4 * 3600.0)
    assert ran.stats.states == {"failure": 1}
    assert ran.results["au"]["attempts"] == 2
    first, second = _placed_at(ran, mobile.phone)
    # Dialled at once, while every zone was open (before 20:00 on Lord Howe, 09:00 UTC).
    assert _promptly_after(first, START)
    assert _promptly_after(second, datetime(2024, 3, 11, 2, 30, tzinfo=timezone.utc))


async def test_without_a_window_nobody_waits() -> None:
    person = Contact(id="ny", phone=number(1))  # 01:30 in New York: a window would wait
    ran = await _run([person], start=START)
    assert ran.stats.states == {"success": 1}
    (placed,) = _placed_at(ran, person.phone)
    assert _promptly_after(placed, START)


async def test_a_client_retry_never_goes_out_after_the_window_closes() -> None:
    # 19:59 in London. The first send meets a 500 (nothing placed) after 90 s of
    # latency, at 20:00:30: the client's own retry, at once, would ring after the window
    # closed. The gate checks the window before that send too: the retry is abandoned,
    # and the contact is called at 09:00 the next morning.
    evening = datetime(2024, 1, 15, 19, 59, tzinfo=timezone.utc)
    person = Contact(id="london", phone=number(2), timezone="Europe/London")
    faults = {"trigger_faults": scripted({1: ServerFailure(500)}), "latency": 90.0}
    ran = await _run([person], start=evening, placer=faults, window=WINDOW)
    assert ran.stats.states == {"success": 1}
    # The abandoned retry was the same attempt, not a failure of the contact.
    assert ran.results["london"]["attempts"] == 1
    sends = [(_at(send.at), send.fault) for send in ran.ledger.sends]
    morning = datetime(2024, 1, 16, 9, 0, tzinfo=timezone.utc)
    assert len(sends) == 2, sends  # the 500, then the morning's call: nothing in between
    assert sends[0] == (evening, ServerFailure(500))
    morning_send, fault = sends[1]
    assert _promptly_after(morning_send, morning)
    assert fault is None
    (placed,) = _placed_at(ran, person.phone)
    assert _promptly_after(placed, morning)
