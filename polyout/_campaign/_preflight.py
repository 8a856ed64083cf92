"""The pre-launch check of a contact list: what a campaign would do with it, dialling nobody.

Every item goes through the same :class:`Planner` a campaign uses, so "valid" here means
"would be dialled" there. One pass, bounded memory: counts for everything, and only the
first few problems kept as examples.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
from collections.abc import Iterable

import attrs
import phonenumbers

from polyout._campaign._contacts import ContactItem
from polyout._campaign._planning import Excluded, Planned, Planner
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._states import ContactState

__all__ = ["Preflight", "RowProblem", "check_contacts"]


@attrs.frozen
class RowProblem:
    """A contact the campaign would exclude, named by row and id (never by number)."""

    row: int | None
    contact_id: str
    state: str
    reason: str


@attrs.frozen
class Preflight:
    """What a campaign would make of a contact list, at a given moment and rate."""

    total: int
    valid: int
    invalid: int
    duplicates: int
    suppressed: int
    closed_now: int
    """Valid contacts whose calling window is closed at ``checked_at``."""
    next_opening: dt.datetime | None
    """When the first of those can be called (UTC); None when none waits."""
    countries: dict[str, int]
    """Valid contacts per ISO country code ("001" for non-geographic numbers)."""
    problems: tuple[RowProblem, ...]
    """The first excluded rows (invalid first, then duplicates and suppressed)."""
    checked_at: dt.datetime
    rate: float
    window: CallingWindow | None

    @property
    def dialling_seconds(self) -> float:
        """Time to start a first call to every valid contact at ``rate`` (no retries)."""
        return self.valid / self.rate

    @property
    def calling_days(self) -> int | None:
        """Days of the calling window the first attempts need (None without a window)."""
        if self.window is None or self.valid == 0:
            return None
        start = dt.datetime.combine(dt.date.min, self.window.start)
        open_seconds = (dt.datetime.combine(dt.date.min, self.window.end) - start).seconds
        return max(1, math.ceil(self.dialling_seconds / open_seconds))


def check_contacts(
    items: Iterable[ContactItem],
    planner: Planner,
    *,
    rate: float,
    now: dt.datetime,
    examples: int = 20,
) -> Preflight:
    """Plan every item with ``planner`` and add up the outcome (``now`` must be aware)."""
    if not rate > 0:
        raise ValueError(f"rate must be > 0, got {rate!r}")
    excluded: collections.Counter[ContactState] = collections.Counter()
    countries: collections.Counter[str] = collections.Counter()
    # In the order problems are shown: invalid first, then duplicates and suppressed.
    kept: dict[ContactState, list[RowProblem]] = {
        ContactState.INVALID: [],
        ContactState.DUPLICATE: [],
        ContactState.SUPPRESSED: [],
    }
    total = valid = closed_now = 0
    next_opening: dt.datetime | None = None
    for item in items:
        total += 1
        plan = planner.plan(item)
        if isinstance(plan, Excluded):
            excluded[plan.state] += 1
            if len(kept[plan.state]) < examples:
                problem = RowProblem(plan.row, plan.contact_id, plan.state, plan.reason)
                kept[plan.state].append(problem)
            continue
        valid += 1
        countries[_country_of(plan)] += 1
        if planner.window is not None and not planner.window.is_open(plan.zones, now):
            closed_now += 1
            opening = planner.window.next_opening(plan.zones, now)
            next_opening = opening if next_opening is None else min(next_opening, opening)
    problems = tuple(problem for shown in kept.values() for problem in shown)[:examples]
    return Preflight(
        total=total,
        valid=valid,
        invalid=excluded[ContactState.INVALID],
        duplicates=excluded[ContactState.DUPLICATE],
        suppressed=excluded[ContactState.SUPPRESSED],
        closed_now=closed_now,
        next_opening=next_opening,
        countries=dict(countries.most_common()),
        problems=problems,
        checked_at=now,
        rate=rate,
        window=planner.window,
    )


def _country_of(plan: Planned) -> str:
    number = phonenumbers.parse(plan.request.to_number, None)
    return str(phonenumbers.region_code_for_number(number) or "001")
