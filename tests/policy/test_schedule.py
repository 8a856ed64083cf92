"""The time rules of issue 12, as pure functions: start, deadline, not_before/not_after,
windows, regional rules and holidays, across DST changes and zones."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from polyout._campaign._policy_regions import HolidayCalendars, Region, check_subdivision
from polyout._campaign._policy_rules import load_rules
from polyout._campaign._policy_schedule import Closed, ContactTiming, PolicySchedule
from polyout._campaign._policy_time import parse_cap, parse_instant, parse_moment
from polyout._campaign._schedule import CallingWindow

NY = "America/New_York"
LONDON = "Europe/London"


def at(text: str, zone: str = "UTC") -> float:
    naive = dt.datetime.fromisoformat(text)
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(zone)).timestamp()


def local(moment: float, zone: str) -> str:
    return dt.datetime.fromtimestamp(moment, zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# -- parsing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T09:00:00Z", "2026-12-01T09:00:00"),
        ("2026-12-01T09:00z", "2026-12-01T09:00:00"),
        ("2026-12-01T10:00:00+01:00", "2026-12-01T09:00:00"),
        ("2026-12-01T04:00:00-0500", "2026-12-01T09:00:00"),
        ("2026-12-01 09:00:00.5+00:00", "2026-12-01T09:00:00.500000"),
        ("2026-12-01T14:00:00+05", "2026-12-01T09:00:00"),
        ("2026-12-01T09:00:00.123456789Z", "2026-12-01T09:00:00.123456"),
    ],
)
def test_instants_with_z_or_an_offset_read_the_same_everywhere(text: str, expected: str) -> None:
    moment = parse_instant(text)
    assert dt.datetime.fromtimestamp(moment, dt.timezone.utc).replace(tzinfo=None).isoformat() == (
        expected
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-12-01T09:00:00", "no time zone"),
        ("tomorrow", "not an ISO 8601"),
        ("2026-13-01T09:00:00Z", "not an ISO 8601"),
        ("", "expected a date"),
        # Read by 3.11's fromisoformat and not by 3.10's: refused on every version.
        ("20261201T090000Z", "not an ISO 8601"),
        ("2026-12-01T09:00:00+24:00", "not an ISO 8601"),
    ],
)
def test_an_instant_without_a_zone_or_malformed_is_refused(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_instant(text)


def test_a_local_time_is_the_next_one_in_the_default_zone() -> None:
    now = at("2026-12-01T10:00", NY)
    assert local(parse_moment("09:00", NY, now), NY) == "2026-12-02 09:00"
    assert local(parse_moment("11:30", NY, now), NY) == "2026-12-01 11:30"
    with pytest.raises(ValueError, match="default time zone"):
        parse_moment("09:00", None, now)
    with pytest.raises(ValueError, match="between 00:00 and 23:59"):
        parse_moment("25:00", NY, now)


@pytest.mark.parametrize(
    ("text", "limit", "window"),
    [("3/24h", 3, 86400.0), ("8/7d", 8, 604800.0), ("1/90m", 1, 5400.0)],
)
def test_caps_read_as_calls_per_duration(text: str, limit: int, window: float) -> None:
    cap = parse_cap(text)
    assert (cap.limit, cap.window, cap.rule) == (limit, window, text)


@pytest.mark.parametrize(
    "text", ["3", "three/24h", "3/", "3/24", "0/24h", "3/0h", "3/400d", "3/24y"]
)
def test_malformed_caps_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"cap|duration|number of calls"):
        parse_cap(text)


# -- start, deadline, not_before, not_after ---------------------------------------------
def test_nothing_before_the_start_and_nothing_at_or_after_the_deadline() -> None:
    schedule = PolicySchedule(start_at=at("2026-12-01T09:00"), end_by=at("2026-12-01T17:00"))
    timing = ContactTiming()
    assert schedule.next_allowed(timing, at("2026-12-01T08:00")) == at("2026-12-01T09:00")
    assert schedule.next_allowed(timing, at("2026-12-01T12:00")) == at("2026-12-01T12:00")
    assert schedule.next_allowed(timing, at("2026-12-01T17:00")) == Closed("deadline")


def test_a_window_that_opens_after_the_deadline_closes_the_contact() -> None:
    schedule = PolicySchedule(
        window=CallingWindow.parse("09:00-17:00"), end_by=at("2026-12-01T20:00", NY)
    )
    timing = ContactTiming(zones=(NY,))
    assert schedule.next_allowed(timing, at("2026-12-01T18:00", NY)) == Closed("deadline")


def test_not_before_across_the_spring_forward_lands_on_the_local_window() -> None:
    # New York jumps 02:00 -> 03:00 on 2026-03-08; a 09:00 window opens at 13:00 UTC after.
    window = CallingWindow.parse("09:00-20:00")
    timing = ContactTiming(zones=(NY,), not_before=at("2026-03-07T21:00", NY))
    found = PolicySchedule(window=window).next_allowed(timing, at("2026-03-01T00:00"))
    assert local(found, NY) == "2026-03-08 09:00"  # type: ignore[arg-type]
    assert found == at("2026-03-08T13:00")


def test_not_after_in_another_zone_ends_a_contact_whose_window_comes_too_late() -> None:
    # London falls back on 2026-10-25: 08:00 local is 08:00 UTC that day (07:00 UTC the day before).
    window = CallingWindow.parse("09:00-17:00")
    deadline = parse_instant("2026-10-25T09:30:00+01:00")  # 08:30 UTC, before 09:00 GMT
    timing = ContactTiming(zones=(LONDON,), not_after=deadline)
    closed = PolicySchedule(window=window).next_allowed(timing, at("2026-10-24T18:00", LONDON))
    assert isinstance(closed, Closed)
    assert closed.reason.startswith("not_after")
    later = ContactTiming(zones=(LONDON,), not_after=at("2026-10-25T09:30", LONDON))
    assert PolicySchedule(window=window).next_allowed(later, at("2026-10-24T18:00", LONDON)) == at(
        "2026-10-25T09:00"
    )


# -- holidays and rules ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "zone", "day", "next_day"),
    [
        (Region("US"), NY, "2026-12-25", "2026-12-28"),  # Christmas, a Friday
        (Region("DE", "DE-BY"), "Europe/Berlin", "2026-01-06", "2026-01-07"),  # Epiphany, Bavaria
        (Region("GB", "GB-SCT"), LONDON, "2026-01-02", "2026-01-05"),  # Scotland; a weekend
        (Region("FR"), "Europe/Paris", "2026-07-14", "2026-07-15"),
        (Region("JP"), "Asia/Tokyo", "2026-05-05", "2026-05-07"),  # Golden Week, 6th substitute
    ],
)
def test_a_public_holiday_moves_the_call_to_the_next_working_window(
    region: Region, zone: str, day: str, next_day: str
) -> None:
    schedule = PolicySchedule(
        window=CallingWindow.parse("Mon-Fri 09:00-18:00"), holidays=HolidayCalendars()
    )
    timing = ContactTiming(zones=(zone,), region=region)
    found = schedule.next_allowed(timing, at(f"{day}T10:00", zone))
    assert local(found, zone) == f"{next_day} 09:00"  # type: ignore[arg-type]
    assert schedule.holiday(timing, at(f"{day}T10:00", zone)) is not None


def test_a_regional_holiday_binds_only_that_subdivision() -> None:
    schedule = PolicySchedule(holidays=HolidayCalendars())
    epiphany = at("2026-01-06T10:00", "Europe/Berlin")
    bavaria = ContactTiming(zones=("Europe/Berlin",), region=Region("DE", "DE-BY"))
    berlin = ContactTiming(zones=("Europe/Berlin",), region=Region("DE", "DE-BE"))
    assert schedule.next_allowed(berlin, epiphany) == epiphany
    assert schedule.next_allowed(bavaria, epiphany) == at("2026-01-07T00:00", "Europe/Berlin")


def test_subdivisions_are_read_with_or_without_their_country() -> None:
    assert check_subdivision("FL", "US") == "US-FL"
    assert check_subdivision("us-fl", "US") == "US-FL"
    for bad, words in [
        ("Florida", "not a subdivision"),
        ("FL", "needs its country"),
        ("CA-ON", "not in US"),
    ]:
        with pytest.raises(ValueError, match=words):
            check_subdivision(bad, None if bad == "FL" else "US")
    with pytest.raises(ValueError, match="no public holiday calendar"):
        HolidayCalendars().check(Region("US", "US-XX"))


def test_a_rules_file_tightens_one_region_only(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[regions.US-FL]\nwindow = "Mon-Fri 10:00-18:00"\nfrequency_cap = "2/24h"\n')
    rules = load_rules(path)
    schedule = PolicySchedule(window=CallingWindow.parse("09:00-20:00"), rules=rules)
    nine = at("2026-12-01T09:00", NY)  # a Tuesday
    florida = ContactTiming(zones=(NY,), region=Region("US", "US-FL"))
    georgia = ContactTiming(zones=(NY,), region=Region("US", "US-GA"))
    assert schedule.next_allowed(georgia, nine) == nine
    assert local(schedule.next_allowed(florida, nine), NY) == "2026-12-01 10:00"  # type: ignore[arg-type]
    assert [key for key, _ in rules.for_region(florida.region)] == ["US-FL"]
    cap = rules.rules["US-FL"].cap
    assert cap is not None
    assert cap.rule == "US-FL 2/24h"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[regions.Florida]\nwindow = '09:00-17:00'\n", "regions.Florida"),
        ("[regions.US]\nwindow = '9-5'\n", r"\[regions.US\]: window"),
        ("[regions.US]\nfrequency_cap = 'often'\n", "frequency_cap"),
        ("[regions.US]\nhours = '09:00-17:00'\n", "unknown key 'hours'"),
        ("[states.US]\n", "unknown table 'states'"),
        ("[regions.US\n", "not valid TOML"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=words) as raised:
        load_rules(path)
    assert str(path) in str(raised.value)


def test_the_example_rules_file_loads_and_tightens_florida() -> None:
    example = Path(__file__).parents[2] / "examples" / "rules.toml"
    rules = load_rules(example)
    florida = rules.for_region(Region("US", "US-FL"))
    assert [key for key, _ in florida] == ["US", "US-FL"]
    cap = florida[1][1].cap
    assert cap is not None
    assert (cap.limit, cap.window) == (3, 86400.0)
