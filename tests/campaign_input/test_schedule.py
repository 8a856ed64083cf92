"""Calling windows: parsing, several zones, DST days to the minute, zones that never meet."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyout._campaign import CallingWindow, zones_for
from polyout._campaign._schedule import NO_OVERLAP, check_zone

UTC = dt.timezone.utc
MINUTE = dt.timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A wall-clock time in ``zone`` (its first occurrence), as UTC."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "start", "end", "days"),
    [
        ("09:00-20:00", dt.time(9), dt.time(20), range(7)),
        (" 9:30 - 17:45 ", dt.time(9, 30), dt.time(17, 45), range(7)),
        ("Mon-Fri 09:00-20:00", dt.time(9), dt.time(20), range(5)),
        ("mon,wed,Saturday 10:00-14:00", dt.time(10), dt.time(14), [0, 2, 5]),
        ("Fri-Mon 10:00-14:00", dt.time(10), dt.time(14), [4, 5, 6, 0]),
    ],
)
def test_parse(text: str, start: dt.time, end: dt.time, days: list[int]) -> None:
    assert CallingWindow.parse(text) == CallingWindow(start, end, frozenset(days))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9-5", "is not like '09:00-20:00'"),
        ("20:00-09:00", "must start before it ends, and not cross midnight"),
        ("09:00-09:00", "must start before it ends"),
        ("09:00-24:00", "'24:00' is not a time of day"),
        ("09:60-10:00", "'09:60' is not a time of day"),
        ("Funday 09:00-10:00", "'Funday' is not a day of the week"),
        ("Mo 09:00-10:00", "'Mo' is not a day of the week"),
    ],
)
def test_parse_errors_say_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallingWindow.parse(text)


@pytest.mark.parametrize(
    "text",
    ["09:00-20:00", "Mon-Fri 09:00-20:00", "Mon,Wed,Fri-Sun 08:30-12:00", "Sat,Sun 10:00-11:00"],
)
def test_str_reads_back(text: str) -> None:
    window = CallingWindow.parse(text)
    assert str(window) == text
    assert CallingWindow.parse(str(window)) == window


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CallingWindow.parse("09:00-20:00").is_open(["UTC"], dt.datetime(2025, 1, 1))


def test_every_zone_must_be_inside() -> None:
    window = CallingWindow.parse("09:00-20:00")
    # 13:30 UTC in January: 13:30 London, 08:30 New York.
    at = utc(2025, 1, 15, 13, 30)
    assert window.is_open(["Europe/London"], at)
    assert not window.is_open(["America/New_York"], at)
    assert not window.is_open(["Europe/London", "America/New_York"], at)
    assert window.next_opening(["Europe/London", "America/New_York"], at) == utc(2025, 1, 15, 14)
    assert window.next_opening(["Europe/London"], at) == at


def test_an_open_instant_is_its_own_next_opening_in_utc() -> None:
    at = dt.datetime(2025, 1, 15, 10, 0, 7, tzinfo=ZoneInfo("Europe/Paris"))
    opening = CallingWindow.parse("09:00-20:00").next_opening(["Europe/Paris"], at)
    assert opening == at
    assert opening.tzinfo is UTC


def test_a_number_spanning_two_zones_waits_for_the_later_one() -> None:
    # +1 709 is Newfoundland (St_Johns, UTC-3:30) and Labrador (Halifax, UTC-4) together.
    zones = zones_for("+17095550100", None, None)
    assert set(zones) == {"America/St_Johns", "America/Halifax"}
    window = CallingWindow.parse("09:00-20:00")
    at = utc(2025, 1, 15, 12, 0)  # 08:30 St John's, 08:00 Halifax
    assert window.next_opening(zones, at) == local("America/Halifax", 2025, 1, 15, 9)
    # And closes with the earlier one: 20:00 St John's is 19:30 Halifax.
    assert window.is_open(zones, local("America/St_Johns", 2025, 1, 15, 19, 59))
    assert not window.is_open(zones, local("America/St_Johns", 2025, 1, 15, 20, 0))


def test_zones_for_prefers_the_contact_then_the_number_then_the_default() -> None:
    assert zones_for("+61412345678", "Australia/Perth", "UTC") == ("Australia/Perth",)
    mobile = zones_for("+61412345678", None, "UTC")
    assert {"Australia/Sydney", "Australia/Perth"} <= set(mobile)
    # phonenumbers knows no zone for a +800 international freephone number.
    assert zones_for("+80012345678", None, "Europe/Paris") == ("Europe/Paris",)
    assert zones_for("+80012345678", None, None) == ()


@pytest.mark.parametrize(
    ("number", "start", "end"),
    [
        ("+61412345678", "09:00", "20:00"),  # Australian mobile: Perth to Lord Howe, 3.5 hours
        ("+79123456789", "09:00", "20:00"),  # Russian mobile: Kaliningrad to Kamchatka
        ("+18005550100", "09:00", "20:00"),  # US toll-free: Guam to Pago Pago
    ],
)
def test_many_zone_numbers_open_when_every_zone_is_inside(
    number: str, start: str, end: str
) -> None:
    zones = zones_for(number, None, None)
    assert len(zones) > 3
    window = CallingWindow.parse(f"{start}-{end}")
    at = utc(2025, 6, 2, 0, 0)
    opening = window.next_opening(zones, at)
    assert window.is_open(zones, opening)
    assert not window.is_open(zones, opening - dt.timedelta(seconds=1))


def test_zones_that_are_never_inside_together_raise() -> None:
    window = CallingWindow.parse("09:00-12:00")
    with pytest.raises(ValueError, match=NO_OVERLAP) as caught:
        window.next_opening(["Europe/London", "Asia/Tokyo"], utc(2025, 1, 1))
    assert "Europe/London, Asia/Tokyo" in str(caught.value)
    # US toll-free spans Guam and Pago Pago, a day apart: no weekday is shared at 9-5.
    with pytest.raises(ValueError, match=r"and \d+ more"):
        CallingWindow.parse("Mon-Fri 09:00-17:00").next_opening(
            zones_for("+18005550100", None, None), utc(2025, 1, 1)
        )


def test_days_are_the_callees_days() -> None:
    window = CallingWindow.parse("Mon-Fri 09:00-17:00")
    friday_evening = local("America/Los_Angeles", 2025, 1, 17, 17, 0)  # Sat 01:00 in London
    assert window.next_opening(["America/Los_Angeles"], friday_evening) == local(
        "America/Los_Angeles", 2025, 1, 20, 9
    )
    # Monday 08:00 in Auckland is still Sunday in UTC.
    assert window.next_opening(["Pacific/Auckland"], utc(2025, 1, 18, 12)) == local(
        "Pacific/Auckland", 2025, 1, 20, 9
    )


# -- Daylight saving: the spring-forward and fall-back days of London and New York. ----
# London 2025: 30 March 01:00 GMT -> 02:00 BST; 26 October 02:00 BST -> 01:00 GMT.
# New York 2025: 9 March 02:00 EST -> 03:00 EDT; 2 November 02:00 EDT -> 01:00 EST.


@pytest.mark.parametrize(
    ("zone", "window", "at", "expected"),
    [
        # A normal start on the change day: the new offset applies.
        ("Europe/London", "09:00-20:00", utc(2025, 3, 30, 0), utc(2025, 3, 30, 8)),
        ("Europe/London", "09:00-20:00", utc(2025, 10, 26, 0), utc(2025, 10, 26, 9)),
        ("America/New_York", "09:00-20:00", utc(2025, 3, 9, 5), utc(2025, 3, 9, 13)),
        ("America/New_York", "09:00-20:00", utc(2025, 11, 2, 5), utc(2025, 11, 2, 14)),
        # A start the clocks jump over opens at the jump (02:00 BST = 01:00 UTC).
        ("Europe/London", "01:30-03:00", utc(2025, 3, 30, 0), utc(2025, 3, 30, 1)),
        ("America/New_York", "02:15-04:00", utc(2025, 3, 9, 5), utc(2025, 3, 9, 7)),
        # A start that happens twice opens the first time (01:30 BST = 00:30 UTC)...
        ("Europe/London", "01:30-01:45", utc(2025, 10, 26, 0), utc(2025, 10, 26, 0, 30)),
        ("America/New_York", "01:30-01:45", utc(2025, 11, 2, 5), utc(2025, 11, 2, 5, 30)),
        # ...and again the second time, when the first has passed.
        ("Europe/London", "01:30-01:45", utc(2025, 10, 26, 0, 50), utc(2025, 10, 26, 1, 30)),
        # Falling back into the window opens it at the change itself (01:00 GMT).
        ("Europe/London", "00:30-01:30", utc(2025, 10, 26, 0, 40), utc(2025, 10, 26, 1)),
        # A window wholly inside the skipped hour does not exist that day: next day.
        ("Europe/London", "01:10-01:50", utc(2025, 3, 30, 0, 30), utc(2025, 3, 31, 0, 10)),
    ],
)
def test_next_opening_on_dst_days_is_right_to_the_minute(
    zone: str, window: str, at: dt.datetime, expected: dt.datetime
) -> None:
    calling = CallingWindow.parse(window)
    assert calling.next_opening([zone], at) == expected
    assert calling.is_open([zone], expected)
    assert not calling.is_open([zone], expected - MINUTE)


def test_london_and_new_york_together_across_the_weeks_their_clocks_disagree() -> None:
    # New York springs forward three weeks before London: the gap is 4 hours, not 5.
    window = CallingWindow.parse("09:00-14:00")
    zones = ["Europe/London", "America/New_York"]
    # 9 March 2025 (NY now EDT, London still GMT): 09:00 NY = 13:00 London.
    assert window.next_opening(zones, utc(2025, 3, 10, 0)) == utc(2025, 3, 10, 13)
    # In January the gap is 5 hours: 09:00 NY = 14:00 London, already closed there.
    with pytest.raises(ValueError, match=NO_OVERLAP):
        CallingWindow.parse("09:00-13:00").next_opening(zones, utc(2025, 1, 10))


def test_zone_names_are_checked_and_canonicalised() -> None:
    assert check_zone("europe/london") == "Europe/London"
    for name in ("Mars/Olympus", "", "../etc/passwd", "localtime", "Factory", "America"):
        with pytest.raises(ValueError, match="not an IANA time zone name"):
            check_zone(name)
    with pytest.raises(ValueError, match="not an IANA"):
        CallingWindow.parse("09:00-20:00").is_open(["Nowhere/Town"], utc(2025, 1, 1))


ZONES = [
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "Australia/Lord_Howe",  # moves by half an hour
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "America/Havana",  # changes at midnight, back over it in the autumn
    "America/Santiago",  # changes at 24:00
]
# Around the 2025 changes of the zones above, where mistakes hide.
STARTS = [
    utc(2025, 3, 8),
    utc(2025, 3, 29),
    utc(2025, 4, 4),
    utc(2025, 9, 5),
    utc(2025, 4, 5),
    utc(2025, 9, 27),
    utc(2025, 10, 4),
    utc(2025, 10, 25),
    utc(2025, 11, 1),
]


@settings(max_examples=80, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True),
    start_minute=st.integers(0, 23 * 60 - 1),
    length=st.integers(15, 10 * 60),
    start=st.sampled_from(STARTS),
    offset_minutes=st.integers(0, 2 * 24 * 60),
    days=st.frozensets(st.integers(0, 6), min_size=5),
)
def test_next_opening_is_the_first_open_minute(
    zones: list[str],
    start_minute: int,
    length: int,
    start: dt.datetime,
    offset_minutes: int,
    days: frozenset[int],
) -> None:
    """Against a minute-by-minute walk over the next three days."""
    end_minute = min(start_minute + length, 23 * 60 + 59)
    window = CallingWindow(
        dt.time(*divmod(start_minute, 60)), dt.time(*divmod(end_minute, 60)), days
    )
    at = start + dt.timedelta(minutes=offset_minutes)
    walked = next(
        (
            at + step * MINUTE
            for step in range(3 * 24 * 60)
            if window.is_open(zones, at + step * MINUTE)
        ),
        None,
    )
    try:
        opening = window.next_opening(zones, at)
    except ValueError:
        assert walked is None
        return
    if walked is not None:
        assert opening == walked
    else:
        assert opening > at + 3 * 24 * 60 * MINUTE
    assert window.is_open(zones, opening)
