"""``polyout.ContactPolicy``: the rules about calling people, across campaigns of a store.

A policy is checked when the campaign is created (a malformed cap, date, rules file or
holiday region raises :class:`polyout.ConfigurationError` naming the setting, before
anything is dialled) and stored with the campaign as plain values (times as POSIX
seconds, the rules as parsed): a resume, and every worker, obey the same policy.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

import attrs

from polyout._campaign._policy_regions import HolidayCalendars, holidays_module
from polyout._campaign._policy_rules import RegionRules, load_rules
from polyout._campaign._policy_schedule import PolicySchedule
from polyout._campaign._policy_time import parse_cap, parse_moment
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._store_policy import FrequencyCap
from polyout._errors import ConfigurationError

__all__ = ["ContactPolicy", "StoredPolicy"]

Moment = str | float | dt.datetime | None
DAY = 86400.0


@attrs.frozen(kw_only=True)
class ContactPolicy:
    """Who may be rung when, across every campaign of the store.

    * ``start_at``: no trigger before it: ISO 8601 with ``Z`` or an offset, an aware
      datetime, POSIX seconds, or a local ``"HH:MM"`` in ``default_timezone``.
    * ``end_by``: the deadline (same forms): contacts not reached by then end
      ``cancelled`` with the reason ``deadline``.
    * ``frequency_cap``: ``"3/24h"``, ``"8/7d"``: no number dialled more than N times in
      any rolling DURATION, counted across every campaign of the store.
    * ``skip_holidays``: no calls on the public holidays of the callee's country, or of
      its subdivision when the contact gives one (``pip install 'polyout[holidays]'``).
    * ``rules``: a TOML file of per-region windows and caps that tighten the campaign's.
    * ``quarantine_failures``: a number whose calls ended ``failure`` this many times
      across campaigns is suppressed (None: never); ``quarantine_refused``: a number the
      API refused as invalid is suppressed in later campaigns.
    * ``recent``: how far back ``polyout campaign run`` looks for numbers called by other
      campaigns of the store before it dials (it asks, or needs ``--yes``).
    """

    start_at: Moment = None
    end_by: Moment = None
    frequency_cap: str | None = None
    skip_holidays: bool = False
    rules: str | os.PathLike[str] | None = None
    quarantine_failures: int | None = 3
    quarantine_refused: bool = True
    recent: float = 7 * DAY

    def stored(self, *, now: float, default_timezone: str | None) -> dict[str, Any]:
        """The policy as the campaign stores it; ConfigurationError for a bad setting."""
        start = _moment("start_at", self.start_at, default_timezone, now)
        end = _moment("end_by", self.end_by, default_timezone, now)
        if start is not None and end is not None and end <= start:
            raise ConfigurationError("end_by", "must be later than start_at")
        if self.frequency_cap is not None:
            _cap(self.frequency_cap)
        if self.skip_holidays:
            holidays_module()
        rules: Mapping[str, Any] = {}
        if self.rules is not None:
            try:
                rules = load_rules(self.rules).stored
            except ValueError as exc:
                raise ConfigurationError("rules", str(exc)) from None
        failures = self.quarantine_failures
        if failures is not None and (isinstance(failures, bool) or not 1 <= failures <= 1000):
            raise ConfigurationError(
                "quarantine_failures", f"must be 1 to 1000 or None, got {failures!r}"
            )
        return {
            "start_at": start,
            "end_by": end,
            "frequency_cap": self.frequency_cap,
            "skip_holidays": bool(self.skip_holidays),
            "rules": dict(rules),
            "quarantine_failures": failures,
            "quarantine_refused": bool(self.quarantine_refused),
            "recent": float(self.recent),
        }


@attrs.frozen
class StoredPolicy:
    """A stored policy, ready to judge contacts."""

    schedule: PolicySchedule
    cap: FrequencyCap | None
    quarantine_failures: int | None
    quarantine_refused: bool
    recent: float

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None, window: CallingWindow | None) -> StoredPolicy:
        data = stored or {}
        rules = RegionRules.from_stored(data.get("rules") or {})
        return cls(
            PolicySchedule(
                window=window,
                start_at=data.get("start_at"),
                end_by=data.get("end_by"),
                rules=rules,
                holidays=HolidayCalendars() if data.get("skip_holidays") else None,
            ),
            _cap(data["frequency_cap"]) if data.get("frequency_cap") else None,
            data.get("quarantine_failures", 3) if stored else None,
            bool(data.get("quarantine_refused", True)) if stored else False,
            float(data.get("recent", 7 * DAY)),
        )

    @property
    def needs_zones(self) -> bool:
        """Holidays and regional windows are local: every contact needs a time zone."""
        schedule = self.schedule
        return schedule.holidays is not None or any(
            rule.window is not None for rule in schedule.rules.rules.values()
        )


def _cap(text: str) -> FrequencyCap:
    try:
        return parse_cap(text)
    except ValueError as exc:
        raise ConfigurationError("frequency_cap", str(exc)) from None


def _moment(setting: str, value: Moment, zone: str | None, now: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ConfigurationError(setting, "a datetime must be timezone-aware")
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ConfigurationError(setting, f"must be ISO 8601 text or a datetime, got {value!r}")
    try:
        return parse_moment(value, zone, now)
    except ValueError as exc:
        raise ConfigurationError(setting, str(exc)) from None
