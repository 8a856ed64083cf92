"""Where a callee is, for rules and holidays: a country, and a subdivision when known.

The country comes from the number (its calling region); the subdivision from the
contact's ``subdivision`` column, written ``US-FL`` or, with the country known, ``FL``.
Public holidays come from the maintained ``holidays`` package (``polyout[holidays]``),
imported only when ``skip_holidays`` is asked for.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import attrs
import phonenumbers

from polyout._errors import ConfigurationError

__all__ = [
    "HOLIDAYS_MISSING",
    "HolidayCalendars",
    "Region",
    "check_subdivision",
    "country_of",
    "holidays_module",
]

HOLIDAYS_MISSING = "skip_holidays needs the holidays package: pip install 'polyout[holidays]'"
_SUBDIVISION = re.compile(r"(?:(?P<country>[A-Za-z]{2})-)?(?P<code>[A-Za-z0-9]{1,3})")


@attrs.frozen
class Region:
    """A callee's country (ISO 3166-1 alpha-2) and subdivision (``US-FL``), if known."""

    country: str | None
    subdivision: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The rule keys that apply, broadest first: ``("US", "US-FL")``."""
        return tuple(key for key in (self.country, self.subdivision) if key)

    def __str__(self) -> str:
        return self.subdivision or self.country or "unknown"


def country_of(e164: str) -> str | None:
    """The country a number belongs to (``+1415…`` -> ``US``), or None."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "001" else None


def check_subdivision(text: str, country: str | None) -> str:
    """``US-FL`` for ``US-FL``, ``us-fl`` or ``FL`` (with country US); ValueError otherwise."""
    match = _SUBDIVISION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a subdivision like US-FL or FL")
    written = match["country"].upper() if match["country"] else None
    if written is None and country is None:
        raise ValueError(f"{text!r} needs its country: write it like US-FL")
    if written is not None and country is not None and written != country:
        raise ValueError(f"{text!r} is not in {country}, the country of the number")
    return f"{written or country}-{match['code'].upper()}"


def holidays_module() -> Any:
    """The ``holidays`` package, or ConfigurationError saying how to install it."""
    try:
        import holidays
    except ImportError:
        raise ConfigurationError("skip_holidays", HOLIDAYS_MISSING) from None
    return holidays


class HolidayCalendars:
    """Public holidays per region, from the ``holidays`` package (loaded once per region)."""

    def __init__(self) -> None:
        self._module = holidays_module()

    def check(self, region: Region) -> None:
        """ValueError when the package knows no calendar for the region."""
        self._calendar(region.country, _local_code(region))

    def holiday(self, region: Region, day: dt.date) -> str | None:
        """The holiday's name when ``day`` is a public holiday there, else None."""
        if region.country is None:
            return None
        name = self._calendar(region.country, _local_code(region)).get(day)
        return str(name) if name else None

    @functools.lru_cache(maxsize=512)  # noqa: B019 (one instance per campaign)
    def _calendar(self, country: str, subdivision: str | None) -> Any:
        try:
            return self._module.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            where = f"{country}-{subdivision}" if subdivision else country
            raise ValueError(f"no public holiday calendar is known for {where}") from None


def _local_code(region: Region) -> str | None:
    if region.subdivision is None:
        return None
    return region.subdivision.partition("-")[2]
