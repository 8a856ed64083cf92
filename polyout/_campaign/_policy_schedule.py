"""When a contact may be rung: every time rule at once, and the earliest moment they all allow.

The rules: the campaign's start (``start_at``) and deadline (``end_by``); the contact's
own ``not_before`` and ``not_after``; the campaign's calling window and the windows of
its region's rules; and, with ``skip_holidays``, no public holiday of the callee's
region on the local date in any of its zones. Each rule, when it objects, pushes the
candidate moment forward to where it stops objecting; the candidate only moves forward,
and the answer is the first moment none objects. A moment at or past the deadline (or
the contact's ``not_after``) is no moment: the contact is never rung.

Pure: the caller gives the moment; nothing reads a clock.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs

from polyout._campaign._clock import utc_datetime
from polyout._campaign._policy_regions import HolidayCalendars, Region
from polyout._campaign._policy_rules import RegionRules
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._windows import window_opening

__all__ = ["Closed", "ContactTiming", "PolicySchedule"]

_UTC = dt.timezone.utc
# Each step skips at least a closed window or a holiday: a year of them is plenty.
_MAX_STEPS = 2000


@attrs.frozen
class ContactTiming:
    """What a contact brings to the schedule (from its planning, stored with it)."""

    zones: tuple[str, ...] = ()
    region: Region = attrs.field(factory=lambda: Region(None))
    not_before: float | None = None
    not_after: float | None = None


@attrs.frozen
class Closed:
    """The contact can never be rung under the rules; ``reason`` says which ended it."""

    reason: str


@attrs.frozen
class PolicySchedule:
    """A campaign's time rules (see the module docstring)."""

    window: CallingWindow | None = None
    start_at: float | None = None
    end_by: float | None = None
    rules: RegionRules = attrs.field(factory=RegionRules)
    holidays: HolidayCalendars | None = None

    def windows(self, timing: ContactTiming) -> list[tuple[str, CallingWindow]]:
        """The windows that apply, named: the campaign's, then its region rules'."""
        found = [("campaign", self.window)] if self.window is not None else []
        found += [
            (key, rule.window)
            for key, rule in self.rules.for_region(timing.region)
            if rule.window is not None
        ]
        return found

    def next_allowed(self, timing: ContactTiming, at: float) -> float | Closed:
        """The earliest moment at or after ``at`` every rule allows, or :class:`Closed`."""
        moment = max(at, self.start_at or at, timing.not_before or at)
        windows = [window for _, window in self.windows(timing)]
        for _ in range(_MAX_STEPS):
            closed = self._past_the_end(timing, moment)
            if closed is not None:
                return closed
            candidate = moment
            for window in windows:
                candidate = window_opening(window, timing.zones, candidate)
            candidate = self._after_holidays(timing, candidate)
            if candidate == moment:
                return moment
            moment = candidate
        return Closed("no moment in the next years satisfies every rule")  # pragma: no cover

    def allowed_until(self, timing: ContactTiming, at: float) -> float | None:
        """When a moment ``at`` that every rule allows stops being allowed (at the
        earliest): the deadline, ``not_after``, a window's close in one of the zones, or
        the local midnight after which a holiday may begin. None: never."""
        ends = [end for end in (self.end_by, timing.not_after) if end is not None]
        for _, window in self.windows(timing):
            ends += [_window_close(window, zone, at) for zone in timing.zones]
        if self.holidays is not None:
            for name in timing.zones or ("UTC",):
                place = zoneinfo.ZoneInfo(name)
                ends.append(_next_midnight(place, utc_datetime(at).astimezone(place).date(), at))
        return min(ends, default=None)

    def holiday(self, timing: ContactTiming, at: float) -> str | None:
        """The holiday that forbids ``at`` in one of the contact's zones, if any."""
        if self.holidays is None:
            return None
        for name in timing.zones or ("UTC",):
            day = utc_datetime(at).astimezone(zoneinfo.ZoneInfo(name)).date()
            holiday = self.holidays.holiday(timing.region, day)
            if holiday is not None:
                return f"{holiday} ({timing.region}, {day.isoformat()})"
        return None

    def _past_the_end(self, timing: ContactTiming, moment: float) -> Closed | None:
        if self.end_by is not None and moment >= self.end_by:
            return Closed("deadline")
        if timing.not_after is not None and moment >= timing.not_after:
            return Closed(f"not_after {utc_datetime(timing.not_after).isoformat()} has passed")
        return None

    def _after_holidays(self, timing: ContactTiming, at: float) -> float:
        """``at``, or the next local midnight after a holiday in the first zone having one."""
        if self.holidays is None:
            return at
        for name in timing.zones or ("UTC",):
            place = zoneinfo.ZoneInfo(name)
            day = utc_datetime(at).astimezone(place).date()
            if self.holidays.holiday(timing.region, day) is not None:
                return _next_midnight(place, day, at)
        return at


def _window_close(window: CallingWindow, zone: str, at: float) -> float:
    """The end of the window's local day in ``zone`` that ``at`` (inside it) belongs to."""
    place = zoneinfo.ZoneInfo(zone)
    local = utc_datetime(at).astimezone(place)
    close = dt.datetime.combine(local.date(), window.end, tzinfo=place).astimezone(_UTC)
    return close.timestamp() if close.timestamp() > at else at


def _next_midnight(place: zoneinfo.ZoneInfo, day: dt.date, after: float) -> float:
    """The first instant of the local day after ``day`` (never at or before ``after``)."""
    following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=place)
    moment = following.astimezone(_UTC).timestamp()
    # Where the clocks jump over midnight the combined time reads an hour off: never back.
    return moment if moment > after else after + 3600.0
