"""A number's country and time zones, as the report needs them, fast enough for 100,000.

Parsing with phonenumbers costs about 30 µs a number: a 100,000-contact report would
spend seconds on it. Both facts depend only on the number's leading digits (the time
zone data's longest prefix is 9 digits, country code included; a region is told from
its country code and leading digits), so they are computed once per 9-digit prefix and
shared by every number that starts with it.
"""

from __future__ import annotations

import attrs
import phonenumbers
from phonenumbers import timezone as _timezone

__all__ = ["UNKNOWN_REGION", "NumberFacts", "number_facts"]

#: What the report shows for a number whose country phonenumbers cannot tell.
UNKNOWN_REGION = "??"
#: Digits after the "+" that decide region and zones (phonenumbers' TIMEZONE_LONGEST_PREFIX).
_PREFIX_DIGITS = 9
_UNKNOWN_ZONE = "Etc/Unknown"
_CACHE_SIZE = 65536
_CACHE: dict[str, NumberFacts | None] = {}


@attrs.frozen
class NumberFacts:
    region: str
    """ISO 3166 region code (``GB``), or :data:`UNKNOWN_REGION`."""
    zones: tuple[str, ...]
    """IANA zones the number may ring in (empty when unknown)."""


def number_facts(e164: str) -> NumberFacts | None:
    """The region and zones of an E.164 number; None for text that is not one."""
    if not e164.startswith("+") or not e164[1:].isdigit():
        return None
    prefix = e164[: 1 + _PREFIX_DIGITS]
    try:
        return _CACHE[prefix]
    except KeyError:
        pass
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()  # a report over more prefixes than this: start again, stay small
    facts = _CACHE[prefix] = _facts(e164)
    return facts


def _facts(e164: str) -> NumberFacts | None:
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed) or UNKNOWN_REGION
    zones = tuple(z for z in _timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE)
    return NumberFacts(region, zones)
