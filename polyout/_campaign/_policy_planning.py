"""What planning keeps of a contact for the policy: its times and its region, checked.

A contact's ``not_before``/``not_after`` (ISO 8601 with an offset) and ``subdivision``
are checked when it is planned: a bad value makes that row ``invalid``, the reason
naming the column. What is kept is stored with the contact (``request["policy"]``), so
a resume and every worker read the same: POSIX times, the region, and where the time
zone came from (the receipt says so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from polyout._campaign._contacts import Contact
from polyout._campaign._policy_regions import Region, check_subdivision, country_of
from polyout._campaign._policy_schedule import ContactTiming
from polyout._campaign._policy_time import parse_instant
from polyout._campaign._schedule import check_zone, zones_for
from polyout._phone import time_zones_for

__all__ = ["PlanPolicy", "contact_policy", "timing_of", "zone_source"]


@attrs.frozen
class PlanPolicy:
    """What the campaign's policy asks of planning."""

    needs_zones: bool = False
    """Holidays or regional windows: every contact needs a time zone, window or not."""
    check_region: Callable[[Region], None] | None = None
    """Raises ValueError for a region the policy cannot serve (no holiday calendar)."""


def zone_source(contact: Contact, number_zones: tuple[str, ...]) -> str:
    """Where a contact's zones came from: its own column, its number, or the default."""
    if contact.timezone:
        return "contact"
    return "number" if number_zones else "default"


def contact_policy(
    contact: Contact, e164: str, plan: PlanPolicy | None, default_timezone: str | None = None
) -> dict[str, Any]:
    """The policy fields to store with the contact, or ValueError naming the column."""
    if plan is None and contact.not_before is contact.not_after is contact.subdivision is None:
        return {}  # a campaign without a policy stores its contacts as it always did
    kept: dict[str, Any] = {}
    for column in ("not_before", "not_after"):
        text = getattr(contact, column)
        if text is not None:
            try:
                kept[column] = parse_instant(text)
            except ValueError as exc:
                raise ValueError(f"{column}: {exc}") from None
    if "not_before" in kept and "not_after" in kept and kept["not_after"] <= kept["not_before"]:
        raise ValueError("not_after: must be later than not_before")
    country = country_of(e164)
    subdivision = None
    if contact.subdivision is not None:
        try:
            subdivision = check_subdivision(contact.subdivision, country)
        except ValueError as exc:
            raise ValueError(f"subdivision: {exc}") from None
    region = Region(country, subdivision)
    if plan is not None and plan.check_region is not None and country is not None:
        try:
            plan.check_region(region)
        except ValueError as exc:
            raise ValueError(f"subdivision: {exc}" if subdivision else str(exc)) from None
    source = zone_source(contact, time_zones_for(e164))
    # Its zones even without a calling window: the receipt says the callee's local time.
    own = check_zone(contact.timezone) if contact.timezone else None  # checked by planning
    zones = zones_for(e164, own, default_timezone)
    return {
        **kept,
        "country": country,
        "subdivision": subdivision,
        "zones": list(zones),
        "zone_source": source,
    }


def timing_of(policy: dict[str, Any] | Any, zones: tuple[str, ...]) -> ContactTiming:
    """A stored contact's timing (its ``request["policy"]``, possibly empty)."""
    stored = policy if isinstance(policy, dict) else {}
    return ContactTiming(
        zones=tuple(stored.get("zones") or zones),
        region=Region(stored.get("country"), stored.get("subdivision")),
        not_before=stored.get("not_before"),
        not_after=stored.get("not_after"),
    )
