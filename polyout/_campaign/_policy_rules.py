"""Regional rules (``--rules FILE``): per-region windows and caps that tighten the campaign's.

A TOML file with one table per region, keyed by country (``US``) or subdivision
(``US-FL``)::

    [regions.US-FL]
    window = "Mon-Sat 08:00-20:00"
    frequency_cap = "3/24h"

A rule never loosens the campaign: a region's window applies *as well as* the
campaign's (a call needs both open), and its cap is checked *as well as* the
campaign's. A contact in ``US-FL`` obeys the rules of ``US`` and of ``US-FL``.

The rules are stored with the campaign (as parsed), so a resume obeys the rules it
started with even if the file changed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

import attrs

from polyout._campaign._policy_regions import Region
from polyout._campaign._policy_time import parse_cap
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._store_policy import FrequencyCap

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (3.10: the tomli backport, a dependency there)
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["RegionRule", "RegionRules", "load_rules"]

_KEY = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_FIELDS = ("window", "frequency_cap")


@attrs.frozen
class RegionRule:
    window: CallingWindow | None = None
    cap: FrequencyCap | None = None


@attrs.frozen
class RegionRules:
    """The rules of a file, by region key."""

    rules: Mapping[str, RegionRule] = attrs.field(factory=dict)
    stored: Mapping[str, Any] = attrs.field(factory=dict)
    """The ``regions`` table as read: what the campaign stores."""

    def for_region(self, region: Region) -> list[tuple[str, RegionRule]]:
        return [(key, self.rules[key]) for key in region.keys if key in self.rules]

    @classmethod
    def from_stored(cls, regions: Mapping[str, Any], source: str = "rules") -> RegionRules:
        """Rules from the ``regions`` table; ValueError naming the source and the key."""
        if not isinstance(regions, Mapping):
            raise ValueError(f"{source}: 'regions' must be a table of regions")
        rules: dict[str, RegionRule] = {}
        for key, table in regions.items():
            where = f"{source}: [regions.{key}]"
            if not isinstance(key, str) or _KEY.fullmatch(key) is None:
                raise ValueError(f"{where}: a region is a country (US) or subdivision (US-FL)")
            if not isinstance(table, Mapping):
                raise ValueError(f"{where} must be a table")
            unknown = sorted(set(table) - set(_FIELDS))
            if unknown:
                known = ", ".join(_FIELDS)
                raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {known})")
            rules[key] = RegionRule(
                window=_field(where, "window", table, CallingWindow.parse),
                cap=_field(where, "frequency_cap", table, _cap_parser(key)),
            )
        return cls(rules, {key: dict(table) for key, table in regions.items()})


def load_rules(path: str | os.PathLike[str]) -> RegionRules:
    """The rules of a TOML file; ValueError naming the file and the problem."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise ValueError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{name}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"regions"})
    if unknown:
        raise ValueError(f"{name}: unknown table {unknown[0]!r} (rules go under [regions.KEY])")
    return RegionRules.from_stored(data.get("regions", {}), name)


def _cap_parser(region: str) -> Any:
    return lambda text: parse_cap(text, region=region)


def _field(where: str, key: str, table: Mapping[str, Any], parse: Any) -> Any:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f'{where}: {key} must be text, like "09:00-20:00" or "3/24h"')
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {key}: {exc}") from None
