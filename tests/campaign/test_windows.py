"""Calling windows in the callee's time zone, on a campaign clock that starts in the past.

The clock starts at 06:30 UTC on 10 March 2024, half an hour before New York moves to
summer time (02:00 EST becomes 03:00 EDT at 07:00 UTC). Fifty thousand simulated
seconds pass per real second, so waiting for a morning takes a fraction of a second.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from polyout._campaign._contacts import Contact
from polyout.sandbox import FaultConfig, SandboxConfig

from .conftest import StartRig
from .helpers import number

SCALE = 50_000.0
START = datetime(2024, 3, 10, 6, 30, tzinfo=timezone.utc)
FAST_POLLS = {"poll_interval": (100.0, 200.0), "poll_rate": 1000.0, "window": "09:00-20:00"}


def _at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _within(moment: datetime, opening: datetime) -> bool:
    # Not before the opening, and soon after it: a few real milliseconds of wake-up
    # latency are minutes at this scale, so allow 45 (under the hour a DST error makes).
    return opening <= moment < opening + timedelta(minutes=45)


async def test_contacts_wait_for_their_own_morning_across_a_dst_change(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(start=START, scale=SCALE)
    people = [
        Contact(id="new-york", phone=number(1)),  # zone from the number
        Contact(id="london", phone=number(2), timezone="Europe/London"),  # the contact's own
        Contact(id="tokyo", phone=number(3), timezone="Asia/Tokyo"),  # 15:30 there: open
        Contact(id="freephone", phone="+80012345670"),  # no zone: the campaign default
    ]
    summary = await rig.campaign(people, default_timezone="Europe/Berlin", **FAST_POLLS).run()
    assert summary.complete
    assert summary.states == {"success": 4}
    first = {key: _at(result.first_attempt_at) for key, result in rig.results().items()}
    # Open at once: dialled first, however long planning took at this scale.
    assert START <= first["tokyo"] < min(moment for key, moment in first.items() if key != "tokyo")
    assert _within(first["london"], datetime(2024, 3, 10, 9, 0, tzinfo=timezone.utc))
    assert _within(first["freephone"], datetime(2024, 3, 10, 8, 0, tzinfo=timezone.utc))
    # 09:00 EDT (UTC-4): the window follows the clocks forward, not 14:00 UTC as in winter.
    assert _within(first["new-york"], datetime(2024, 3, 10, 13, 0, tzinfo=timezone.utc))


async def test_a_number_in_several_zones_waits_until_all_are_inside_and_retries_move_into_it(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(start=START, scale=SCALE)
    # An Australian mobile may ring from the Cocos Islands (UTC+6:30) to Lord Howe Island
    # (UTC+11 in March). At 06:30 UTC all are inside 09:00-20:00; the call fails (last
    # digit 9) and its retry, four hours later, falls after 20:00 on Lord Howe: it moves
    # to 09:00 on Cocos the next morning, 02:30 UTC.
    mobile = Contact(id="au", phone="+61412345679")
    summary = await rig.campaign(
        [mobile], max_attempts=2, retry_delay=4 * 3600.0, **FAST_POLLS
    ).run()
    assert summary.states == {"failure": 1}
    result = rig.results()["au"]
    assert result.attempts == 2
    # Dialled while every zone was open: before 20:00 on Lord Howe (09:00 UTC).
    assert START <= _at(result.first_attempt_at) < datetime(2024, 3, 10, 9, tzinfo=timezone.utc)
    assert _within(_at(result.last_attempt_at), datetime(2024, 3, 11, 2, 30, tzinfo=timezone.utc))


async def test_without_a_window_nobody_waits(start_rig: StartRig) -> None:
    rig = await start_rig(start=START, scale=SCALE)
    await rig.campaign([Contact(id="ny", phone=number(1))], poll_interval=(100.0, 200.0)).run()
    assert _within(_at(rig.results()["ny"].first_attempt_at), START)


async def test_a_client_retry_never_goes_out_after_the_window_closes(
    start_rig: StartRig,
) -> None:
    # 19:00 in London. The first try meets a 500 (not placed) after 0.2 real seconds of
    # latency, almost three hours on this clock: the client's retry would go out at night.
    evening = datetime(2024, 1, 15, 19, 0, tzinfo=timezone.utc)
    rig = await start_rig(
        start=evening,
        scale=SCALE,
        config=SandboxConfig(
            outcomes="last-digit",
            time_scale=SCALE,
            faults=FaultConfig(trigger_500_on=[1], trigger_latency=0.2),
        ),
    )
    person = Contact(id="london", phone=number(2), timezone="Europe/London")
    summary = await rig.campaign([person], **FAST_POLLS).run()
    assert summary.states == {"success": 1}
    result = rig.results()["london"]
    assert result.attempts == 1  # the abandoned retry was the same attempt, not a failure
    # The call went out the next morning, inside the window.
    assert _within(_at(result.last_attempt_at), datetime(2024, 1, 16, 9, 0, tzinfo=timezone.utc))
    (placement,) = rig.sandbox.ledger.placements
    assert placement.number == number(2)
