"""The Planner: invalid, then duplicate, then suppressed; the first contact wins."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from polyout._campaign import (
    CallingWindow,
    Contact,
    ContactFileError,
    ContactItem,
    Excluded,
    Planned,
    Planner,
    RowError,
    load_suppression_list,
)
from polyout._campaign._planning import MemoryRecord
from polyout._campaign._schedule import NO_OVERLAP
from polyout._campaign._states import ContactState
from tests.campaign_input.conftest import WriteFile

ANN = "+447911123456"
BOB = "+447911123457"
WINDOW = CallingWindow.parse("09:00-20:00")


def person(phone: str = ANN, contact_id: str = "a", row: int = 2, **fields: object) -> Contact:
    return Contact(id=contact_id, phone=phone, row=row, **fields)  # type: ignore[arg-type]


def planned(result: Planned | Excluded) -> Planned:
    assert isinstance(result, Planned), result
    return result


def excluded(result: Planned | Excluded) -> Excluded:
    assert isinstance(result, Excluded), result
    return result


def plan_all(planner: Planner, items: Sequence[ContactItem]) -> list[tuple[str, str]]:
    """(contact id, state) for each item, "planned" for a Planned."""
    results = [planner.plan(item) for item in items]
    return [
        (result.contact.id, "planned")
        if isinstance(result, Planned)
        else (result.contact_id, result.state)
        for result in results
    ]


def test_a_valid_contact_becomes_a_request_in_e164() -> None:
    contact = person(" 07911 123456 ", country_code="gb", metadata={"name": "Ann"})
    result = planned(Planner().plan(contact))
    assert result.contact is contact
    assert result.request.to_number == ANN
    assert result.request.metadata == {"name": "Ann"}
    assert result.zones == ()


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        (person("12345"), "to_number: is not in E.164 format"),
        (person("+44 7911 I23456"), "to_number: contains letters"),
        (person("+1 800 FLOWERS"), "to_number: contains letters"),
        (person("+1 212 555 0100 ext 12"), "to_number: contains letters"),
        (person("07911123456", country_code="XX"), "country_code: 'XX' is not an ISO"),
        (person(metadata={"first name": "Ann"}), "metadata: key 'first name' cannot travel"),
        (person(metadata={"note": "a\nb"}), "metadata.note: must not contain line breaks"),
        (person(metadata={"blob": "x" * 30_000}), "metadata: is .* bytes as base64"),
        (person(timezone="Mars/Olympus"), "timezone: 'Mars/Olympus' is not an IANA time zone"),
        (person(contact_id=" "), "id: is empty"),
        (person(contact_id="x" * 300), "id: is longer than 256 characters"),
    ],
)
def test_invalid_contacts_say_why(contact: Contact, reason: str) -> None:
    result = excluded(Planner().plan(contact))
    assert result.state == "invalid"
    assert result.reason.startswith(reason.split(".*")[0])
    assert result.contact is contact
    assert (result.row, result.contact_id) == (contact.row, contact.id)
    assert result.to_number == contact.phone
    assert contact.phone not in result.reason


def test_unicode_digits_are_read_as_the_digits_they_are() -> None:
    assert planned(Planner().plan(person("+４４７９１１１２３４５６"))).request.to_number == ANN


def test_a_row_error_is_invalid_with_its_reason_and_a_fallback_id() -> None:
    result = excluded(Planner().plan(RowError(7, "contains a NUL byte", phone="+44\x00")))
    assert result == Excluded(
        None, 7, "row-7", ContactState.INVALID, "contains a NUL byte", "+44\x00"
    )
    named = excluded(Planner().plan(RowError(8, "bad", contact_id="A8")))
    assert named.contact_id == "A8"


def test_the_first_of_a_repeated_number_wins_whatever_its_format() -> None:
    planner = Planner()
    results = [
        planner.plan(person(ANN, "a", 2)),
        planner.plan(person("07911 123456", "b", 3, country_code="GB")),
        planner.plan(person("+44 (0)7911 123456", "c", 4)),
    ]
    assert planned(results[0]).contact.id == "a"
    for result in map(excluded, results[1:]):
        assert result.state == "duplicate"
        assert result.reason == "the same number as an earlier contact"
        assert result.to_number == ANN


def test_a_repeated_id_is_a_duplicate_too() -> None:
    planner = Planner()
    planned(planner.plan(person(ANN, "a1")))
    result = excluded(planner.plan(person(BOB, "a1")))
    assert (result.state, result.reason) == (
        "duplicate",
        "the same id as an earlier contact ('a1')",
    )
    assert result.to_number == BOB


def test_only_contacts_that_pass_take_their_number_and_id() -> None:
    planner = Planner()
    assert plan_all(
        planner,
        [
            person(ANN, "a", metadata={"bad key": "x"}),  # invalid: ANN stays free
            person(ANN, "b"),  # planned
            person(BOB, "b"),  # duplicate id: BOB stays free
            person(BOB, "c"),  # planned
        ],
    ) == [("a", "invalid"), ("b", "planned"), ("b", "duplicate"), ("c", "planned")]


def test_numbers_seen_earlier_in_the_campaign_are_duplicates() -> None:
    planner = Planner(record=MemoryRecord([ANN]))
    result = excluded(planner.plan(person("07911123456", country_code="GB")))
    assert result.state == "duplicate"
    assert planned(planner.plan(person(BOB, "b"))).request.to_number == BOB


def test_suppressed_numbers_match_in_any_format_and_duplicates_come_first() -> None:
    planner = Planner(suppress=["+44 7911 123456"])
    assert plan_all(
        planner,
        [person("07911123456", "a", country_code="GB"), person(ANN, "b"), person(BOB, "c")],
    ) == [("a", "suppressed"), ("b", "duplicate"), ("c", "planned")]
    result = excluded(Planner(suppress=[ANN]).plan(person(ANN)))
    assert (result.reason, result.to_number) == ("the number is on the suppression list", ANN)
    assert ANN not in repr(result)


def test_a_suppression_entry_that_is_not_a_number_is_refused_with_its_position() -> None:
    with pytest.raises(ValueError, match="suppression entry 2 is not a usable phone number"):
        Planner(suppress=[ANN, "07911123457"])


def test_with_a_window_each_contact_gets_the_zones_it_must_respect() -> None:
    planner = Planner(window=WINDOW, default_timezone="europe/paris")
    assert planner.default_timezone == "Europe/Paris"
    assert planned(planner.plan(person("+12125550100", "a"))).zones == ("America/New_York",)
    own = person(BOB, "b", timezone="asia/tokyo")
    assert planned(planner.plan(own)).zones == ("Asia/Tokyo",)
    # No zone known for a +800 number: the default applies.
    assert planned(planner.plan(person("+80012345678", "c"))).zones == ("Europe/Paris",)


def test_without_any_zone_a_windowed_contact_is_invalid() -> None:
    result = excluded(Planner(window=WINDOW).plan(person("+80012345678")))
    assert result.state == "invalid"
    assert result.reason.startswith("no time zone is known for this number")
    assert result.to_number == "+80012345678"
    # Without a window no zone is needed.
    assert planned(Planner().plan(person("+80012345678"))).zones == ()


def test_zones_never_inside_the_window_together_make_the_contact_invalid() -> None:
    planner = Planner(window=CallingWindow.parse("Mon-Fri 09:00-17:00"))
    toll_free = person("+18005550100", "a")
    result = excluded(planner.plan(toll_free))
    assert result.state == "invalid"
    assert result.reason.startswith(NO_OVERLAP)
    # The contact's own zone settles it.
    assert planned(planner.plan(person("+18005550100", "b", timezone="America/Chicago")))


def test_an_unknown_default_zone_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="'Europe/Londn' is not an IANA"):
        Planner(default_timezone="Europe/Londn")


def test_load_suppression_list_one_number_a_line(write: WriteFile) -> None:
    path = write(
        "stop.txt",
        "\ufeff# opted out\n+44 7911 123456\n\n  +1 (212) 555-0100   # by phone, 2024\n",
    )
    numbers = load_suppression_list(path)
    assert set(numbers) == {ANN, "+12125550100"}
    assert excluded(Planner(suppress=numbers).plan(person(ANN))).state == "suppressed"


def test_load_suppression_list_csv_with_a_phone_column(write: WriteFile) -> None:
    path = write(
        "stop.csv",
        'Name,Phone Number,date\n# legacy\nAnn,+447911123456,2024\n"B, ob",,2024\n'
        'Carl,"+44 7911 123458",2025\n',
    )
    assert set(load_suppression_list(path)) == {ANN, "+447911123458"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("+447911123456\n07911123457\n", "stop.txt, line 2: not a usable phone number"),
        ("msisdn,date\n+447911123456,2024\n", "no phone column"),
        (b"+447911123456\n+44\xe9\n", "line 2: is not valid UTF-8"),
    ],
)
def test_a_bad_suppression_file_is_refused_whole(
    write: WriteFile, content: str | bytes, message: str
) -> None:
    with pytest.raises(ContactFileError, match=message):
        load_suppression_list(write("stop.txt", content))


def test_an_empty_suppression_file_suppresses_nobody(write: WriteFile, tmp_path: Path) -> None:
    assert load_suppression_list(write("stop.txt", "# nobody yet\n")) == frozenset()
    with pytest.raises(ContactFileError, match="No such file"):
        load_suppression_list(tmp_path / "missing.txt")
