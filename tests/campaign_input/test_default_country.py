"""A default country for national numbers (issue 17, item 25).

A US CRM exports ``4155551000``: no ``+``, no country column. With a default country
those rows are read as numbers of that country; a row's own country code, and a number
that starts with ``+``, still win. A bad code is a ConfigurationError before anything
is read or created.
"""

from __future__ import annotations

import datetime as dt

import pytest

import polyout
import polyout.campaign
from polyout import Contact
from polyout.campaign import Excluded, Planned, Planner, check_contacts
from tests.campaign_input.conftest import WriteFile

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)
# National US numbers as a CRM exports them; the last digit 0 completes in the sandbox.
NATIONAL = [f"415555{1000 + 10 * index}" for index in range(6)]
E164 = [f"+1{number}" for number in NATIONAL]
US_EXPORT = "id,phone,first_name\n" + "".join(
    f"c{index},{number},Sam\n" for index, number in enumerate(NATIONAL)
)


def plan(planner: Planner, phone: str, country_code: str | None = None) -> Planned | Excluded:
    return planner.plan(Contact(id="a", phone=phone, country_code=country_code, row=2))


def test_a_national_number_takes_the_default_country() -> None:
    result = plan(Planner(default_country="US"), "4155551000")
    assert isinstance(result, Planned), result
    assert result.request.to_number == "+14155551000"


def test_without_a_default_a_national_number_is_invalid() -> None:
    result = plan(Planner(), "4155551000")
    assert isinstance(result, Excluded)
    assert result.state == "invalid"
    assert "E.164" in result.reason


def test_the_rows_own_country_code_wins_over_the_default() -> None:
    result = plan(Planner(default_country="US"), "07911 123456", country_code="GB")
    assert isinstance(result, Planned), result
    assert result.request.to_number == "+447911123456"


def test_a_number_with_a_plus_is_never_read_in_the_default_country() -> None:
    result = plan(Planner(default_country="US"), "+44 7911 123456")
    assert isinstance(result, Planned), result
    assert result.request.to_number == "+447911123456"


def test_a_national_number_invalid_in_the_default_country_is_refused() -> None:
    # A UK mobile read as a US number: not valid there, so refused (never guessed).
    result = plan(Planner(default_country="US"), "07911 123456")
    assert isinstance(result, Excluded)
    assert result.state == "invalid"
    assert "US" in result.reason


def test_the_default_country_is_normalised() -> None:
    assert Planner(default_country=" us ").default_country == "US"


@pytest.mark.parametrize("code", ["USA", "XX", "", "1", "U S"])
def test_a_bad_default_country_is_a_configuration_error(code: str) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        Planner(default_country=code)
    assert caught.value.setting == "default_country"
    assert repr(code) in caught.value.reason


def test_preflight_of_a_us_crm_export(write: WriteFile) -> None:
    path = write("export.csv", US_EXPORT)
    without = check_contacts(polyout.campaign.iter_contacts(path), Planner(), rate=1.0, now=NOW)
    assert (without.valid, without.invalid) == (0, len(NATIONAL))
    planner = Planner(default_country="US")
    checked = check_contacts(polyout.campaign.iter_contacts(path), planner, rate=1.0, now=NOW)
    assert (checked.valid, checked.invalid) == (len(NATIONAL), 0)
    assert checked.countries == {"US": len(NATIONAL)}


def test_preflight_of_a_jsonl_export(write: WriteFile) -> None:
    lines = "".join(f'{{"id": "c{i}", "phone": "{n}"}}\n' for i, n in enumerate(NATIONAL))
    path = write("export.jsonl", lines)
    planner = Planner(default_country="US")
    checked = check_contacts(polyout.campaign.iter_contacts(path), planner, rate=1.0, now=NOW)
    assert (checked.valid, checked.invalid) == (len(NATIONAL), 0)
