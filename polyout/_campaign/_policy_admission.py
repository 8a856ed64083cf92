"""The policy's check before each intent: time rules, quarantine, caps, and the receipt.

In order: the time rules (:class:`PolicySchedule`) defer the contact to the next moment
they all allow, or withdraw it ``cancelled`` when none comes before the deadline (or
its ``not_after``); a quarantined number is withdrawn ``suppressed``; a number at its
frequency cap is withdrawn ``suppressed`` with the rule and the moment it may be rung
again, or deferred to that moment when the campaign's deadline comes after it. An
allowed contact's notes are what its audit receipt records.

The caps are read here from the store's history (to give the reason) and checked again
by the store in the intent's own transaction (``IntentPolicy``): two workers can never
both pass one. The loser of that race is handed back and judged here again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from polyout._campaign._admission import Allow, Defer, Verdict, Withdraw
from polyout._campaign._clock import utc_datetime
from polyout._campaign._policy import StoredPolicy
from polyout._campaign._policy_planning import timing_of
from polyout._campaign._policy_schedule import Closed, ContactTiming
from polyout._campaign._states import ContactState
from polyout._campaign._store import DueContact, StoredCampaign
from polyout._campaign._store_policy import CapReached, FrequencyCap, IntentPolicy, cap_counts

__all__ = ["CAPS_NOTE", "PolicyAdmission", "intent_policy", "suppression_fingerprint"]

#: Where an Allow's notes carry the caps the store must check with the intent.
CAPS_NOTE = "frequency_caps"
#: When the rules stop allowing this dial: the intent is not opened at or after it.
ALLOWED_UNTIL = "allowed_until"
S = ContactState


def suppression_fingerprint(numbers: Iterable[str]) -> str:
    """SHA-256 of the do-not-call list, sorted, one number a line."""
    return hashlib.sha256("\n".join(sorted(set(numbers))).encode()).hexdigest()


class PolicyAdmission:
    """The contact policy as an :class:`~._admission.Admission` (named ``policy``)."""

    name = "policy"

    def __init__(
        self,
        store: StoredCampaign,
        policy: StoredPolicy,
        *,
        suppressed: Iterable[str],
        phase: Callable[[], str],
    ) -> None:
        self._store = store
        self._policy = policy
        self._fingerprint = suppression_fingerprint(suppressed)
        self._phase = phase

    async def admit(self, contact: DueContact, now: float) -> Verdict:
        policy, schedule = self._policy, self._policy.schedule
        timing = timing_of(contact.request.get("policy"), contact.zones)
        allowed = schedule.next_allowed(timing, now)
        if isinstance(allowed, Closed):
            return Withdraw(S.CANCELLED, allowed.reason)
        if allowed > now:
            return Defer(allowed, _why_later(schedule.holiday(timing, now)))
        caps = self._caps(timing)
        longest = max((cap.window for cap in caps), default=0.0)
        asks_history = caps or policy.quarantine_refused or policy.quarantine_failures
        if asks_history:
            history = await self._store.number_history(contact.to_number, now - longest)
            if policy.quarantine_refused and history.refusals:
                return Withdraw(S.SUPPRESSED, "quarantined: the API refused this number as invalid")
            limit = policy.quarantine_failures
            if limit is not None and history.failures >= limit:
                return Withdraw(
                    S.SUPPRESSED,
                    f"quarantined: {history.failures} calls to this number ended failure",
                )
            try:
                counts = cap_counts(caps, [at for at, _ in history.dials], now)
            except CapReached as reached:
                return self._capped(reached)
        else:
            counts = []
        notes = self._notes(timing, now, caps, counts)
        notes["zone_source"] = (contact.request.get("policy") or {}).get("zone_source")
        return Allow(notes)

    def _caps(self, timing: ContactTiming) -> list[FrequencyCap]:
        caps = [self._policy.cap] if self._policy.cap is not None else []
        regional = self._policy.schedule.rules.for_region(timing.region)
        return caps + [rule.cap for _, rule in regional if rule.cap is not None]

    def _capped(self, reached: CapReached) -> Verdict:
        again = reached.next_allowed
        end_by = self._policy.schedule.end_by
        if end_by is not None and again < end_by:
            return Defer(again, f"frequency cap {reached.cap.rule}")
        return Withdraw(
            S.SUPPRESSED,
            f"frequency cap {reached.cap.rule}: {reached.count} calls to this number; "
            f"it may be called again from {_iso(again)}",
        )

    def _notes(
        self,
        timing: ContactTiming,
        now: float,
        caps: list[FrequencyCap],
        counts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        schedule, stored = self._policy.schedule, timing
        zone = stored.zones[0] if stored.zones else None
        local = utc_datetime(now).astimezone(zoneinfo.ZoneInfo(zone)) if zone else None
        return {
            "local_time": local.isoformat() if local else None,
            "zones": list(stored.zones),
            "region": str(stored.region),
            "windows": [f"{name}: {window}" for name, window in schedule.windows(stored)],
            "holidays": f"checked for {stored.region}" if schedule.holidays else None,
            "rules": [key for key, _ in schedule.rules.for_region(stored.region)],
            "start_at": _iso(schedule.start_at),
            "end_by": _iso(schedule.end_by),
            "not_before": _iso(stored.not_before),
            "not_after": _iso(stored.not_after),
            "cap_counts_seen": counts,
            "suppression_fingerprint": self._fingerprint,
            "phase": self._phase(),
            ALLOWED_UNTIL: schedule.allowed_until(stored, now),
            CAPS_NOTE: [{"limit": c.limit, "window": c.window, "rule": c.rule} for c in caps],
        }


def intent_policy(notes: Mapping[str, Any] | None) -> IntentPolicy | None:
    """What the store checks and seals with the intent, from the admissions' notes: the
    caps the policy noted, and every note as the receipt's body (None without notes)."""
    if not notes:
        return None
    noted = notes.get(PolicyAdmission.name)
    caps = noted.get(CAPS_NOTE, []) if isinstance(noted, Mapping) else []
    until = noted.get(ALLOWED_UNTIL) if isinstance(noted, Mapping) else None
    return IntentPolicy(
        tuple(FrequencyCap(int(c["limit"]), float(c["window"]), str(c["rule"])) for c in caps),
        notes,
        allowed_until=float(until) if until is not None else None,
    )


def _why_later(holiday: str | None) -> str:
    return (
        f"a public holiday: {holiday}" if holiday else "not yet allowed (start, not_before, window)"
    )


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).isoformat()
