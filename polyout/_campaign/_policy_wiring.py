"""The contact policy plugged into a run: its admission, its deadline, its planning needs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from polyout._campaign._admission import Admission
from polyout._campaign._companions import Companion
from polyout._campaign._policy import StoredPolicy
from polyout._campaign._policy_admission import PolicyAdmission
from polyout._campaign._policy_deadline import DeadlineSweep
from polyout._campaign._policy_planning import PlanPolicy
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._store import StoredCampaign
from polyout._campaign._windows import parse_window

__all__ = ["plan_policy", "policy_parts"]


def plan_policy(stored: Mapping[str, Any] | None, window: str | None) -> PlanPolicy | None:
    """What planning checks for the policy (None without one: contacts as before)."""
    if stored is None:
        return None
    policy = StoredPolicy.of(stored, parse_window(window))
    holidays = policy.schedule.holidays
    return PlanPolicy(
        needs_zones=policy.needs_zones,
        check_region=holidays.check if holidays is not None else None,
    )


def policy_parts(
    stored_policy: Mapping[str, Any] | None,
    window: CallingWindow | None,
    campaign: StoredCampaign,
    *,
    suppressed: Iterable[str],
    phase: Callable[[], str],
) -> tuple[list[Admission], list[Companion]]:
    """The admission (every intent then gets its receipt) and the deadline's sweep; none
    without a policy (a receipt costs about a third of the engine's own work per dial)."""
    if stored_policy is None:
        return [], []
    policy = StoredPolicy.of(stored_policy, window)
    admission = PolicyAdmission(campaign, policy, suppressed=suppressed, phase=phase)
    end_by = policy.schedule.end_by
    return [admission], [DeadlineSweep(end_by)] if end_by is not None else []
