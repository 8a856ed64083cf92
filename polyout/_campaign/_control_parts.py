"""Live control's parts of a run: the control watch and its admission, auto-pause, a canary.

The control watch goes first in both lists: a worker knows the commanded phase before
any other check, and a withdrawn contact is asked nothing else. It is left out on a
caller's in-memory store: that store lives in this process only (nothing outside can
command it), often on a virtual clock that a poll every 0.4 s would hold back.
"""

from __future__ import annotations

from collections.abc import Sequence

from polyout._campaign._admission import Admission
from polyout._campaign._auto_pause import AutoPause, AutoPauseRules
from polyout._campaign._canary import Canary
from polyout._campaign._companions import Companion
from polyout._campaign._control_watch import ControlWatch
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._store import CampaignStore

__all__ = ["control_parts"]


def control_parts(
    admissions: Sequence[Admission],
    companions: Sequence[Companion],
    store: CampaignStore | None,
    auto_pause: AutoPauseRules | None,
    canary: int | None = None,
) -> tuple[list[Admission], list[Companion]]:
    """``admissions`` and ``companions`` with live control's own added."""
    admitting, running = list(admissions), list(companions)
    if not isinstance(store, MemoryStore):
        watch = ControlWatch()
        admitting.insert(0, watch.admission)
        running.insert(0, watch)
    if auto_pause is not None:
        running.append(AutoPause(auto_pause))
    if canary is not None:
        # Last: only a contact every other check lets through counts as one of the N.
        bird = Canary(canary)
        admitting.append(bird.admission)
        running.append(bird)
    return admitting, running
