"""Calling windows in the callee's time zone: when a person may be rung, and when next.

A window is local wall-clock time, start inclusive, end exclusive, on some days of the
week. A number that may ring in several zones is callable only while every one of them
is inside the window. All instants are aware datetimes; nothing here reads the clock.

Across daylight-saving changes the rule is the wall clock's: a zone is inside the window
whenever its local time of day is. When the opening time does not exist (the clocks jump
over it) the window opens at the jump; when the clocks go back, the repeated hour is
inside or outside the window both times it is lived, as it reads on the wall.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Iterable, Sequence

import attrs

from polyout._phone import time_zones_for

__all__ = ["EVERY_DAY", "NO_OVERLAP", "CallingWindow", "check_zone", "zones_for"]

EVERY_DAY = frozenset(range(7))
NO_OVERLAP = "no moment when all of its time zones are inside the window"

_UTC = dt.timezone.utc
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WINDOW = re.compile(
    r"\s*(?:(?P<days>[A-Za-z][A-Za-z,\s-]*?)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*"
)
# Looking a year and a little ahead covers every season's offsets: zones that share no
# moment of the window in that span never will under the same rules.
_HORIZON = dt.timedelta(days=400)
# Wide enough to hold a local day's midnights whatever the zone's offset (-12h to +14h).
_BEFORE_DAY, _AFTER_DAY = dt.timedelta(hours=15), dt.timedelta(hours=37)
# Names zoneinfo accepts that are not places: they would mean "wherever this machine is".
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def _days(value: Iterable[int]) -> frozenset[int]:
    return frozenset(value)


@attrs.frozen
class CallingWindow:
    """Local time of day when calls may ring, e.g. ``CallingWindow.parse("Mon-Fri 09:00-20:00")``.

    ``days`` are weekday numbers, Monday 0 to Sunday 6 (in the callee's zone).
    """

    start: dt.time
    end: dt.time
    days: frozenset[int] = attrs.field(default=EVERY_DAY, converter=_days)

    def __attrs_post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("a calling window is local wall-clock time: give naive times")
        if not self.start < self.end:
            raise ValueError(
                f"a calling window must start before it ends, and not cross midnight: "
                f"{self.start:%H:%M}-{self.end:%H:%M}"
            )
        if not self.days or not self.days <= EVERY_DAY:
            raise ValueError("days must be weekday numbers 0 (Monday) to 6 (Sunday), at least one")

    def __str__(self) -> str:
        hours = f"{self.start:%H:%M}-{self.end:%H:%M}"
        if self.days == EVERY_DAY:
            return hours
        return f"{_describe_days(self.days)} {hours}"

    @classmethod
    def parse(cls, text: str) -> CallingWindow:
        """``"09:00-20:00"``, ``"Mon-Fri 09:00-20:00"``, ``"Mon,Wed,Sat 10:00-14:30"``."""
        match = _WINDOW.fullmatch(text)
        if match is None:
            raise ValueError(
                f"calling window {text!r} is not like '09:00-20:00' or 'Mon-Fri 09:00-20:00'"
            )
        days = _parse_days(match["days"]) if match["days"] else EVERY_DAY
        return cls(_parse_time(match["start"]), _parse_time(match["end"]), days)

    def is_open(self, zones: Sequence[str], at: dt.datetime) -> bool:
        """Whether every zone is inside the window at ``at`` (true for no zones)."""
        moment = _as_utc(at)
        return all(self._open_in(_zone(name), moment) for name in zones)

    def next_opening(self, zones: Sequence[str], at: dt.datetime) -> dt.datetime:
        """The earliest instant (UTC) at or after ``at`` when every zone is inside the window.

        ``at`` itself, converted to UTC, when it is open. ValueError when the zones share
        no moment of the window.
        """
        moment = _as_utc(at)
        places = [_zone(name) for name in zones]
        horizon = moment + _HORIZON
        # Each closed zone pushes the candidate to its own next opening; the candidate only
        # moves forward, and it stops where no zone objects.
        while moment <= horizon:
            closed = [place for place in places if not self._open_in(place, moment)]
            if not closed:
                return moment
            moment = max(self._next_open_in(place, moment) for place in closed)
        raise ValueError(f"{NO_OVERLAP} {self} (time zones: {_describe(zones)})")

    def _open_in(self, place: zoneinfo.ZoneInfo, moment: dt.datetime) -> bool:
        local = moment.astimezone(place)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def _next_open_in(self, place: zoneinfo.ZoneInfo, moment: dt.datetime) -> dt.datetime:
        """The first instant after ``moment`` (when ``place`` is closed) that it is open."""
        found: list[dt.datetime] = []
        # The first local day with an opening, and the next allowed day too: where the
        # clocks go back over midnight, an instant of the next day can come first.
        days_to_check = 2
        today = moment.astimezone(place).date()
        for offset in range(16):
            day = today + dt.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            entries = [entry for entry in self._entries(place, day) if entry > moment]
            found += entries
            days_to_check -= 1 if found else 0
            if days_to_check == 0:
                break
        if not found:
            raise ValueError(f"{place.key}: the window {self} never opens")
        return min(found)

    def _entries(self, place: zoneinfo.ZoneInfo, day: dt.date) -> list[dt.datetime]:
        """The instants of local ``day`` when the local clock steps into the window.

        Either the clock reaches the start (once, or twice when the clocks go back), or it
        jumps into the window at an offset change.
        """
        opening = dt.datetime.combine(day, self.start, tzinfo=place)
        candidates = [opening.astimezone(_UTC), opening.replace(fold=1).astimezone(_UTC)]
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=_UTC)
        change = _offset_change(place, midnight - _BEFORE_DAY, midnight + _AFTER_DAY)
        if change is not None:
            candidates.append(change)
        return [
            instant
            for instant in candidates
            if instant.astimezone(place).date() == day and self._open_in(place, instant)
        ]


def _offset_change(
    place: zoneinfo.ZoneInfo, low: dt.datetime, high: dt.datetime
) -> dt.datetime | None:
    """The instant in (low, high] where the zone's UTC offset changes, if it does (once)."""
    before = low.astimezone(place).utcoffset()
    if high.astimezone(place).utcoffset() == before:
        return None
    # Offsets change on whole seconds: bisect down to one.
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) // 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(place).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def zones_for(
    e164: str, contact_timezone: str | None, default_timezone: str | None
) -> tuple[str, ...]:
    """The zones a call to this number must respect.

    The contact's own zone wins; else every zone the number may ring in; else the default;
    else none (the caller decides whether a number with no known zone may be called).
    """
    if contact_timezone:
        return (contact_timezone,)
    return time_zones_for(e164) or ((default_timezone,) if default_timezone else ())


def check_zone(name: str) -> str:
    """The canonical IANA name for ``name`` (any letter case), or ValueError."""
    canonical = _zone_names().get(name.strip().casefold()) if isinstance(name, str) else None
    if canonical is None:
        raise ValueError(f"{name!r} is not an IANA time zone name (like 'Europe/London')")
    return canonical


@functools.cache
def _zone_names() -> dict[str, str]:
    # Scanning the time zone database takes ~0.1 s: once per process.
    return {
        name.casefold(): name for name in zoneinfo.available_timezones() if name not in _NOT_PLACES
    }


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(check_zone(name))
    except (zoneinfo.ZoneInfoNotFoundError, OSError) as exc:
        raise ValueError(f"time zone {name!r} cannot be loaded: {exc}") from None


def _describe(zones: Sequence[str]) -> str:
    shown = ", ".join(zones[:3])
    return f"{shown} and {len(zones) - 3} more" if len(zones) > 3 else shown


def _as_utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware datetimes (use UTC)")
    return at.astimezone(_UTC)


def _describe_days(days: frozenset[int]) -> str:
    """``Mon-Fri``, ``Mon,Wed,Sat-Sun``: runs of three days or more as ranges."""
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [_DAY_NAMES[day][:3].title() for day in range(7)]
    return ",".join(
        f"{names[run[0]]}-{names[run[-1]]}" if len(run) > 2 else ",".join(names[d] for d in run)
        for run in runs
    )


def _parse_time(text: str) -> dt.time:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 23:59")
    return dt.time(hours, minutes)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip()):
        first, _, last = part.partition("-")
        start = _parse_day(first)
        stop = _parse_day(last) if last else start
        # A range may wrap over the weekend: "Fri-Mon" is Friday to Monday.
        days.update((start + step) % 7 for step in range((stop - start) % 7 + 1))
    return frozenset(days)


def _parse_day(text: str) -> int:
    name = text.strip().lower()
    for number, full in enumerate(_DAY_NAMES):
        if len(name) >= 3 and full.startswith(name):
            return number
    raise ValueError(f"{text!r} is not a day of the week (Mon, Tue, … Sun)")
