"""The demo's contact list: believable reminder-campaign rows, a few of them wrong on purpose.

Numbers are made from phonenumbers' own example mobile numbers, so they are valid in
form but belong to nobody; the sandbox is the only thing that ever "dials" them.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import attrs
import phonenumbers

__all__ = ["DemoContacts", "write_demo_contacts"]

_COUNTRIES = ("GB", "US", "FR", "DE", "ES", "AU")
_NAMES = ("Ada", "Bea", "Cal", "Dev", "Eli", "Fay", "Gus", "Hal", "Ines", "Jo", "Kai", "Lea")
_HEADER = ("id", "phone", "country_code", "first_name", "appointment")


@attrs.frozen
class DemoContacts:
    contacts: Path
    suppress: Path
    rows: int
    bad_rows: int
    suppressed: int
    countries: tuple[str, ...] = _COUNTRIES


def _number(region: str, rng: random.Random, taken: set[str]) -> str:
    sample = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert sample is not None  # every region in _COUNTRIES has one
    example = phonenumbers.format_number(sample, phonenumbers.PhoneNumberFormat.E164)
    while True:
        # The example with its last four digits replaced stays valid for these regions.
        number = f"{example[:-4]}{rng.randrange(10_000):04d}"
        if number not in taken:
            taken.add(number)
            return number


def _national(e164: str) -> str:
    parsed = phonenumbers.parse(e164, None)
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))


def write_demo_contacts(folder: Path, count: int, rng: random.Random) -> DemoContacts:
    """Write ``contacts.csv`` (``count`` rows) and ``suppress.txt`` into ``folder``."""
    taken: set[str] = set()
    rows: list[tuple[str, ...]] = []
    for index in range(count):
        region = _COUNTRIES[index % len(_COUNTRIES)]
        number = _number(region, rng, taken)
        # Half the rows in national format with their country, as spreadsheets have them.
        phone, country = (_national(number), region) if index % 2 else (number, "")
        when = f"2026-12-{1 + index % 28:02d} {9 + index % 8:02d}:{15 * (index % 4):02d}"
        rows.append((f"C{index + 1:04d}", phone, country, rng.choice(_NAMES), when))
    bad = [
        ("B0001", "12345", "", "Max", "2026-12-01 10:00"),  # too short
        ("B0002", "+44 7400 12345X", "", "Ned", "2026-12-01 10:00"),  # a letter
        ("B0003", "", "", "Oli", "2026-12-01 10:00"),  # no number
        ("B0004", "07400 123456", "XX", "Pia", "2026-12-01 10:00"),  # no such country
    ]
    duplicate = ("B0005", rows[0][1], rows[0][2], "Quin", "2026-12-02 11:00")
    # Spread the bad rows through the file, where real ones hide.
    for offset, row in enumerate([*bad, duplicate]):
        rows.insert(min(len(rows), (offset + 1) * max(count // 6, 1)), row)
    contacts = folder / "contacts.csv"
    with contacts.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(_HEADER)
        writer.writerows(rows)
    suppressed = sorted(taken)[:2] if count >= 10 else []
    suppress = folder / "suppress.txt"
    suppress.write_text(
        "# numbers that asked not to be called\n" + "".join(f"{n}\n" for n in suppressed),
        encoding="utf-8",
    )
    return DemoContacts(
        contacts=contacts,
        suppress=suppress,
        rows=len(rows),
        bad_rows=len(bad) + 1,
        suppressed=len(suppressed),
    )
