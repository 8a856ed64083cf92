"""The store's policy capability: caps across campaigns, receipts, a number's history.

Rules about calling are about people, not campaigns: the store remembers every intent
to every number across all of its campaigns and workers, and this capability reads that
history. Its clauses continue those of :mod:`polyout._campaign._store`:

P1. ``open_intent(..., policy=IntentPolicy(caps, notes))`` counts, in the SAME
    transaction as the intent, the *dials* of the contact's number (intents that were
    not closed as provably not placed) whose ``started_at`` is within each cap's window
    before ``now``, across every campaign of the store. If any cap would be exceeded it
    raises :class:`CapReached` (with the earliest moment the number may ring again) and
    changes nothing; two workers (two transactions) can never both pass one cap.
    ``policy=None`` checks nothing and writes no receipt.
P2. With a policy, the intent and its :class:`Receipt` are written in one transaction
    (durable together, or neither). Receipts of a campaign are numbered from 1 with no
    gap; each seals its body with the hash of the previous one (:func:`seal`), and the
    campaign's head (count and last hash) is kept beside them, so an edited, deleted or
    truncated receipt is detectable (:func:`verify_chain`).
P3. ``receipts()`` yields the campaign's receipts in order; ``receipt_head()`` gives
    ``(count, last hash)`` or None before the first.
P4. ``number_history(e164, since)`` reads, across every campaign of the store: the dials
    since ``since`` (oldest first, with their campaign), the placed calls that ended
    ``failure``, and the triggers the API refused for the number (the contact ended
    ``invalid`` after an intent). Reads see what is committed, and this campaign's own
    batched writes (another campaign's, once they are committed: the caps count intents,
    which are durable).
P5. ``recently_called(numbers, since)`` (on the store, before a campaign exists): for
    each campaign, how many of ``numbers`` it dialled since ``since``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

import attrs

from polyout._campaign._errors import JournalError

__all__ = [
    "CapReached",
    "FrequencyCap",
    "IntentPolicy",
    "NumberHistory",
    "PolicyCampaign",
    "PolicyStore",
    "Receipt",
    "body_of",
    "canonical",
    "cap_counts",
    "receipt_body",
    "seal",
]


@attrs.frozen
class FrequencyCap:
    """At most ``limit`` dials of one number in any rolling ``window`` seconds."""

    limit: int
    window: float
    rule: str
    """How the rule is named in reasons and receipts: ``3/24h``, ``US-FL 3/24h``."""


@attrs.frozen
class IntentPolicy:
    """What ``open_intent`` checks and records with the intent (P1, P2)."""

    caps: tuple[FrequencyCap, ...] = ()
    notes: Mapping[str, Any] = attrs.field(factory=dict)
    """Why the intent was allowed (JSON-able): the receipt's body."""
    allowed_until: float | None = None
    """When the rules that allowed it stop allowing it: checked by the caller before the
    intent (a send that waited for its slot past a deadline is not sent)."""


class CapReached(JournalError):
    """A frequency cap refused the intent; nothing changed (P1). Not a failure of the
    store: the caller withdraws or defers the contact."""

    def __init__(self, cap: FrequencyCap, count: int, next_allowed: float) -> None:
        super().__init__(f"the frequency cap {cap.rule} is reached ({count} dials)")
        self.cap = cap
        self.count = count
        self.next_allowed = next_allowed


@attrs.frozen
class Receipt:
    """One intent's audit receipt, as sealed in its campaign's chain."""

    n: int
    body: Mapping[str, Any]
    previous: str
    """The hash of receipt ``n - 1`` (empty for the first)."""
    hash: str


@attrs.frozen
class NumberHistory:
    """What the store remembers of one number, across its campaigns (P4)."""

    dials: tuple[tuple[float, str], ...] = ()
    """(started_at, campaign) of each dial since the asked moment, oldest first."""
    failures: int = 0
    refusals: int = 0


class PolicyCampaign(Protocol):
    """The policy capability of one campaign in a store."""

    def receipts(self) -> AsyncIterator[Receipt]: ...

    async def receipt_head(self) -> tuple[int, str] | None: ...

    async def number_history(self, e164: str, since: float) -> NumberHistory: ...


class PolicyStore(Protocol):
    """The policy capability of a whole store."""

    async def recently_called(self, numbers: Sequence[str], since: float) -> dict[str, int]: ...


def cap_counts(
    caps: Sequence[FrequencyCap], dial_times: Sequence[float], now: float
) -> list[dict[str, Any]]:
    """Each cap's count at ``now``, or CapReached for the first cap already full.

    ``dial_times`` are the number's dials within the longest cap's window, any order.
    """
    counts = []
    for cap in caps:
        within = sorted(at for at in dial_times if at > now - cap.window)
        if len(within) >= cap.limit:
            # The number may ring again once enough of these dials leave the window.
            raise CapReached(cap, len(within), within[len(within) - cap.limit] + cap.window)
        counts.append({"rule": cap.rule, "count": len(within), "limit": cap.limit})
    return counts


def receipt_body(
    *,
    campaign: str,
    n: int,
    seq: int,
    intent: int,
    at: float,
    policy: IntentPolicy,
    counts: list[dict[str, Any]],
) -> dict[str, Any]:
    """What a receipt seals: where it is in the chain, and why the intent was allowed."""
    return {
        "campaign": campaign,
        "n": n,
        "seq": seq,
        "intent": intent,
        "at": at,
        "caps": counts,
        **{key: value for key, value in policy.notes.items() if key not in _PLACE_KEYS},
    }


_PLACE_KEYS = frozenset({"campaign", "n", "seq", "intent", "at", "caps"})


def canonical(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_of(text: str) -> dict[str, Any]:
    """A stored receipt body read back; an edited one may not even be JSON, and then it
    reads as ``{"unreadable": text}`` (its seal no longer matches: verification says so)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"unreadable": text}
    return value if isinstance(value, dict) else {"unreadable": text}


def seal(previous: str, body: Mapping[str, Any]) -> str:
    """The receipt's hash: SHA-256 over the previous hash and the body's canonical JSON."""
    return hashlib.sha256(f"{previous}\n{canonical(body)}".encode()).hexdigest()
