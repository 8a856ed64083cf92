"""The campaign's own history for the report: pauses, resumes, cancels, rounds, and 429s.

It comes from the campaign log of the store's control capability
(``polyout._campaign._store_control``: ``campaign_log``). A store without that
capability has no such history, and the page says so instead of showing an empty one
as if nothing had happened. 429s are counted per minute (bounded by the campaign's
span), never kept one by one.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Sequence
from typing import Any, Protocol, cast

import attrs

__all__ = [
    "CONTROL_KINDS",
    "RATE_LIMITED",
    "UNMARKED_KINDS",
    "ControlEvent",
    "Timeline",
    "control_timeline",
]

#: The campaign-log kinds an operator reads as the campaign's history, in words.
CONTROL_KINDS: dict[str, str] = {
    "paused": "paused",
    "auto_paused": "paused itself",
    "resumed": "resumed",
    "cancelled": "cancelled",
    "cancel_finished": "cancel finished",
    "reopened": "reopened",
    "contacts_added": "contacts added",
    "retry_round": "retry round",
    "suppressed": "numbers suppressed",
    "run_started": "run started",
    "run_ended": "run ended",
}
#: Kinds listed in the history table but not drawn on the timeline chart (every run
#: would add two lines to it).
UNMARKED_KINDS = frozenset({"run_started", "run_ended"})
#: The kind of the 429s the engine met: the control watch writes one entry per look
#: (every 0.4 s) that saw any, its ``detail`` how many.
RATE_LIMITED = "rate_limited"


class _CampaignLog(Protocol):
    async def campaign_log(self, kinds: Collection[str] | None = None) -> Sequence[Any]: ...


@attrs.frozen
class ControlEvent:
    at: float
    kind: str
    what: str
    """The kind in words (:data:`CONTROL_KINDS`)."""
    by: str | None
    detail: str | None


@attrs.frozen
class Timeline:
    recorded: bool
    """Whether the store keeps a campaign log at all."""
    events: tuple[ControlEvent, ...] = ()
    rate_limited_by_minute: dict[int, int] = attrs.field(factory=dict)
    """429s per POSIX minute."""

    @property
    def rate_limited(self) -> int:
        return sum(self.rate_limited_by_minute.values())


async def control_timeline(stored: object) -> Timeline:
    """The campaign log of ``stored``, if its store keeps one."""
    if not callable(getattr(stored, "campaign_log", None)):
        return Timeline(recorded=False)
    log = cast(_CampaignLog, stored)
    entries = await log.campaign_log([*CONTROL_KINDS, RATE_LIMITED])
    events: list[ControlEvent] = []
    limited: collections.Counter[int] = collections.Counter()
    for entry in entries:
        kind, at = str(entry.kind), float(entry.at)
        if kind == RATE_LIMITED:
            limited[int(at // 60)] += _how_many(entry.detail)
        elif kind in CONTROL_KINDS:
            events.append(ControlEvent(at, kind, CONTROL_KINDS[kind], entry.by, entry.detail))
    # In time order: a command logged by another process may be written after a later one.
    events.sort(key=lambda event: event.at)
    return Timeline(True, tuple(events), dict(sorted(limited.items())))


def _how_many(detail: object) -> int:
    """The 429s one entry stands for: its detail's count, else one."""
    text = str(detail).strip() if detail is not None else ""
    return int(text) if text.isdigit() and int(text) > 0 else 1
