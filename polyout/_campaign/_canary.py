"""A canary run (``polyout campaign run --canary N``): the first N calls, then a pause.

The first ``N`` contacts that pass every other check are dialled (later ones are deferred
a second at a time); the run pauses once the N were placed, follows those calls to their end,
then pauses the campaign *in the store* (by ``canary``, with their outcomes as the
reason, and a ``canary`` line in the campaign log) and stops: the operator reads the
outcomes, and ``polyout campaign resume`` carries on with the rest. A contact whose send
placed nothing (it is tried again later) counts as ended for the canary, ``not placed``.
Across a crash, the pause is only written once the N calls ended: a canary run that
died before is resumed as an ordinary run, or run again with its own ``--canary``.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from polyout._campaign._admission import Allow, Defer, Verdict
from polyout._campaign._companions import EngineHandle
from polyout._campaign._events import EventKind
from polyout._campaign._store import DueContact
from polyout._campaign._store_control import Command

__all__ = ["CANARY", "Canary"]

#: Who the campaign log says paused the campaign after a canary.
CANARY = "canary"
_ENDS = (EventKind.RETRY, EventKind.FINISHED, EventKind.NOT_PLACED)
_LATER = 1.0  # seconds: a contact after the canary is judged again then


class Canary:
    """The companion (and, with :attr:`admission`, the check) of a canary run."""

    name = "canary"
    vital = True  # a canary that cannot count must not let the whole list be dialled

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("a canary dials at least one contact")
        self.count = count
        self.admitted: list[int] = []
        self.ended: dict[int, str] = {}
        self.admission = _CanaryAdmission(self)
        self._full = asyncio.Event()

    async def run(self, engine: EngineHandle) -> None:
        events = engine.events()
        await self._full.wait()
        sent: set[int] = set()
        async for event in events:
            if event.position not in self.admitted:
                continue
            if event.kind is EventKind.PLACED or event.kind in _ENDS:
                sent.add(event.position)
                if len(sent) == len(self.admitted) and engine.paused is None:
                    # Only now: a pause abandons a send still waiting for its pacer slot
                    # (its intent may be committed ahead of the slot, so not at DIALING).
                    engine.pause(f"canary: following the first {len(self.admitted)} calls")
            if event.kind in _ENDS:
                self.ended.setdefault(event.position, event.state or "not placed")
            if len(self.ended) >= len(self.admitted):
                break
        outcomes = Counter(self.ended.values())
        detail = ", ".join(f"{state} {count}" for state, count in sorted(outcomes.items()))
        now = engine.clock.time()
        reason = f"canary: the first {len(self.ended)} calls ended ({detail})"
        await engine.store.command(Command.PAUSE, reason=reason, by=CANARY, now=now)
        await engine.store.log_campaign_event(CANARY, detail=detail, by=engine.worker, now=now)
        engine.stop()

    def admit(self, contact: DueContact, now: float) -> Verdict:
        if contact.seq in self.admitted:
            return Allow()  # a canary contact's own second send
        if len(self.admitted) >= self.count:
            # Not yet, and not in a tight loop: the run pauses once the N have been sent.
            return Defer(now + _LATER, "after the canary")
        self.admitted.append(contact.seq)
        if len(self.admitted) == self.count:
            self._full.set()
        return Allow({"canary": len(self.admitted)})


class _CanaryAdmission:
    name = "canary"

    def __init__(self, canary: Canary) -> None:
        self._canary = canary

    async def admit(self, contact: DueContact, now: float) -> Verdict:
        return self._canary.admit(contact, now)
