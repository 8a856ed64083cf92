"""The words and numbers of campaign progress, fitted to the width there is.

One line says how far a campaign is: ``final 12/40 · in flight 3 · dialled 15 · success 9
· 2.0 calls/s · ETA 14s``. A terminal of 80 columns cannot hold every part, so each part
has a rank: the least useful are dropped first (the count of each final state, then
the rate), and the final count and the ETA go last. Durations are spelled with their
units (``1m14s``, ``1h02m``), never ``1:14``, which reads as either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import attrs

from polyout._campaign._events import CampaignStats
from polyout._campaign._states import ACTIVE, DISPLAY_ORDER, FINAL, ContactState

__all__ = [
    "FINAL_ORDER",
    "OPEN_ORDER",
    "Part",
    "calls_in_flight",
    "calls_per_second",
    "fit",
    "format_duration",
    "plural",
    "progress_line",
    "progress_parts",
]

#: Final states in the order an operator reads them: good news first, then what to act on.
FINAL_ORDER = tuple(state for state in DISPLAY_ORDER if state in FINAL)
#: States a contact of a stopped campaign can still be in.
OPEN_ORDER = tuple(state for state in DISPLAY_ORDER if state not in FINAL)
SEPARATOR = " · "


def plural(count: int, noun: str) -> str:
    """``1 contact``, ``2 contacts``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def calls_per_second(rate: float, spec: str = ".1f") -> str:
    """``2.0 calls/s``, ``1 call/s``: the rate as ``spec`` formats it, and the right noun."""
    text = format(rate, spec)
    return f"{text} call/s" if float(text) == 1 else f"{text} calls/s"


def format_duration(seconds: float | None) -> str:
    """``42s``, ``1m14s``, ``1h02m``, ``2d03h``; ``-`` when unknown.

    Two units at most: a progress line needs the size of the wait, not its last second.
    """
    if seconds is None or not math.isfinite(seconds):
        return "-"
    whole = max(round(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02}h"
    if hours:
        return f"{hours}h{minutes:02}m"
    if minutes:
        return f"{minutes}m{secs:02}s"
    return f"{secs}s"


def calls_in_flight(stats: CampaignStats) -> int:
    """Contacts with a call being placed or followed.

    Counted from the journal's states: ``CampaignStats.in_flight`` also counts the
    concurrency slots that workers hold while they wait for a due contact.
    """
    return sum(stats.states.get(state, 0) for state in ACTIVE)


@attrs.frozen
class Part:
    text: str
    rank: int
    """0 is kept longest; higher ranks are dropped first when the line is too long."""


def _state_parts(states: Mapping[str, int], order: Iterable[str], rank: int) -> list[Part]:
    # The later states in the order go first: success outlives suppressed.
    kept = [state for state in order if states.get(state)]
    return [
        Part(f"{state} {states[state]}", rank + len(kept) - index)
        for index, state in enumerate(kept)
    ]


def progress_parts(stats: CampaignStats, eta: float | None, *, resumed: bool) -> list[Part]:
    """Every part of the progress line, in reading order, each with its rank.

    "in flight" counts calls placed and being followed, so that in a run it never
    exceeds "dialled"; a resume follows calls an earlier run placed, so its own count
    says "this run". Until the campaign knows how many contacts it has, it is starting.
    """
    if stats.total == 0 and not stats.input_done:
        return [Part("starting", 0)]
    total = str(stats.total) if stats.input_done else f"{stats.total}+"
    in_flight = stats.states.get(ContactState.IN_FLIGHT, 0)
    sending = stats.states.get(ContactState.DIALING, 0)
    parts = [
        Part(f"final {stats.finished}/{total}", 0),
        Part(f"dialled {stats.placed}" + (" this run" if resumed else ""), 3),
        Part(f"in flight {in_flight}", 2),
    ]
    if sending:
        parts.append(Part(f"sending {sending}", 6))
    parts += _state_parts(stats.states, FINAL_ORDER, 10)
    if stats.scheduled:
        parts.append(Part(f"waiting {stats.scheduled}", 7))
    if stats.rate_limited:
        parts.append(Part(f"429s {stats.rate_limited}", 4))
    parts.append(Part(calls_per_second(stats.achieved_rate), 5))
    if stats.stopping:
        parts.append(Part("stopping", 1))
    elif stats.paused is not None:  # the operator must act: first to show, last to go
        parts[:0] = [Part("PAUSED", 0), Part(stats.paused, 2)]
    else:
        parts.append(Part(f"ETA {format_duration(eta)}", 1))
    return parts


def fit(parts: list[Part], width: int) -> str:
    """The parts that fit in ``width`` columns, dropping the highest ranks first."""
    kept = list(parts)
    while len(kept) > 1 and len(SEPARATOR.join(part.text for part in kept)) > width:
        kept.remove(max(kept, key=lambda part: part.rank))
    line = SEPARATOR.join(part.text for part in kept)
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def progress_line(stats: CampaignStats, eta: float | None, *, resumed: bool = False) -> str:
    """The whole line, for logs and pipes, where nothing is cut."""
    return SEPARATOR.join(part.text for part in progress_parts(stats, eta, resumed=resumed))
