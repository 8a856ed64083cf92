"""Moments and caps as people write them: ISO 8601 instants, local ``HH:MM``, ``3/24h``.

Parsed the same on every supported Python: ``datetime.fromisoformat`` reads more forms
on 3.11+ than on 3.10 (a trailing ``Z``, an offset without a colon, a fraction of one
digit), so instants are read by one pattern here, never by it. An instant must say
where it is (``Z`` or an offset): a bare date and time would silently mean "wherever
this machine is".
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from polyout._campaign._store_policy import FrequencyCap

__all__ = [
    "FrequencyCap",
    "parse_cap",
    "parse_instant",
    "parse_local_time",
    "parse_moment",
    "parse_span",
]

_INSTANT = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?"
)
_LOCAL_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
#: A cap window longer than this (a year) is a typo: the store would count forever.
MAX_CAP_WINDOW = 366 * 86400.0


def parse_instant(text: str) -> float:
    """POSIX seconds of ``2026-12-01T09:00:00Z`` or ``…+01:00``; ValueError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected a date and time like 2026-12-01T09:00:00Z")
    match = _INSTANT.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        day = dt.date.fromisoformat(match["date"])
        fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
        clock = dt.time(
            int(match["hour"]), int(match["minute"]), int(match["second"] or 0), int(fraction)
        )
        offset = _offset(match)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date and time (like 2026-12-01T09:00:00Z)"
        ) from None
    if offset is None:
        raise ValueError(f"{text!r} has no time zone: end it with Z or an offset like +01:00")
    return dt.datetime.combine(day, clock, tzinfo=offset).timestamp()


def _offset(match: re.Match[str]) -> dt.timezone | None:
    if match["utc"]:
        return dt.timezone.utc
    if not match["sign"]:
        return None
    minutes = int(match["oh"]) * 60 + int(match["om"] or 0)
    if minutes >= 24 * 60:
        raise ValueError("an offset is less than 24 hours")
    return dt.timezone(dt.timedelta(minutes=-minutes if match["sign"] == "-" else minutes))


def parse_local_time(text: str, zone: str | None, now: float) -> float:
    """The next ``HH:MM`` in ``zone`` at or after ``now`` (today, else tomorrow)."""
    match = _LOCAL_TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 date and time, nor a local HH:MM")
    hours, minutes = int(match[1]), int(match[2])
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 23:59")
    if zone is None:
        raise ValueError(f"a local time ({text}) needs a default time zone to be read in")
    place = zoneinfo.ZoneInfo(zone)
    today = dt.datetime.fromtimestamp(now, place).date()
    for day in (today, today + dt.timedelta(days=1)):
        local = dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=place)
        # A wall time the clocks jump over is read after the jump (fold=0's instant).
        moment = local.astimezone(dt.timezone.utc).timestamp()
        if moment >= now:
            return moment
    raise AssertionError("unreachable: tomorrow's time is after now")  # pragma: no cover


def parse_moment(text: str, zone: str | None, now: float) -> float:
    """An instant (:func:`parse_instant`), or a local ``HH:MM`` in ``zone``."""
    if _LOCAL_TIME.fullmatch(text.strip()):
        return parse_local_time(text, zone, now)
    return parse_instant(text)


def parse_span(text: str) -> float:
    """Seconds of ``90s``, ``30m``, ``24h``, ``7d``, ``2w`` (one number and a unit)."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 24h, 7d or 30m")
    return float(match[1]) * _SECONDS[match[2]]


def parse_cap(text: str, *, region: str | None = None) -> FrequencyCap:
    """``3/24h`` as a :class:`FrequencyCap`; ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"expected a cap like 3/24h, got {text!r}")
    count, slash, span = text.strip().partition("/")
    if not slash or not count.strip().isdigit():
        raise ValueError(f"{text!r} is not a cap like 3/24h (N calls per DURATION)")
    limit = int(count)
    if not 1 <= limit <= 1000:
        raise ValueError(f"{text!r}: the number of calls must be from 1 to 1000")
    try:
        window = parse_span(span)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc} (a cap is like 3/24h)") from None
    if not 0 < window <= MAX_CAP_WINDOW:
        raise ValueError(f"{text!r}: the duration must be more than 0 and at most 366d")
    rule = f"{limit}/{span.strip().lower()}"
    return FrequencyCap(limit, window, f"{region} {rule}" if region else rule)
