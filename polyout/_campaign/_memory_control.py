"""The in-memory store's control capability (the contract: ``_store_control``).

The commanded phase and the campaign log live beside the campaign's data in the
backing (so a store reopened after a "crash" sees them, as a file would), and every
control write is durable: it commits the backing, batched writes before it included.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection

import attrs

from polyout._campaign._memory_backing import REQUEUED, MemoryBacking
from polyout._campaign._memory_campaign import MemoryCampaignWrites
from polyout._campaign._memory_outbox import outbox_commanded
from polyout._campaign._states import ContactState
from polyout._campaign._store import checked_time
from polyout._campaign._store_control import (
    RETRY_ROUND_STATES,
    WAKING_KINDS,
    CampaignLogEntry,
    Command,
    ControlState,
    next_phase,
)

__all__ = ["MemoryControl"]

S = ContactState


@attrs.define
class _Control:
    state: ControlState = attrs.field(factory=ControlState)
    log: list[CampaignLogEntry] = attrs.field(factory=list)


#: Each backing's control data, by campaign name: it outlives the store, as the data does.
_CONTROLS: weakref.WeakKeyDictionary[MemoryBacking, dict[str, _Control]] = (
    weakref.WeakKeyDictionary()
)


class MemoryControl(MemoryCampaignWrites):
    """Live control of a campaign of a ``MemoryStore``."""

    def _control(self) -> _Control:
        return _CONTROLS.setdefault(self._backing, {}).setdefault(self.name, _Control())

    async def control(self) -> ControlState:
        self._check()
        return self._control().state

    async def command(
        self, command: Command, *, reason: str | None, by: str, now: float
    ) -> ControlState:
        self._check()
        checked_time(now, "now")
        control = self._control()
        phase = next_phase(control.state.phase, command)
        if phase is None:
            return control.state
        control.state = ControlState(phase, reason, by, now, control.state.revision + 1)
        control.log.append(CampaignLogEntry(now, command.value, by, reason))
        outbox_commanded(self._backing, self.name, command.value, reason, by, now)
        self._backing.commit()
        return attrs.evolve(control.state, changed=True)

    async def log_campaign_event(
        self, kind: str, *, detail: str | None = None, by: str | None = None, now: float
    ) -> None:
        self._check()
        checked_time(now, "now")
        control = self._control()
        control.log.append(CampaignLogEntry(now, kind, by, detail))
        if kind in WAKING_KINDS:
            control.state = attrs.evolve(
                control.state, revision=control.state.revision + 1, changed=False
            )

    async def campaign_log(self, kinds: Collection[str] | None = None) -> list[CampaignLogEntry]:
        self._check()
        return [entry for entry in self._control().log if kinds is None or entry.kind in kinds]

    async def cancel_pending(self, reason: str, now: float) -> int:
        return await self._withdraw_unheld(S.CANCELLED, reason, now, numbers=None)

    async def suppress(self, numbers: Collection[str], now: float) -> int:
        self._check()
        checked_time(now, "now")
        wanted = frozenset(numbers)
        definition = self._data.definition
        self._data.definition = attrs.evolve(definition, suppressed=definition.suppressed | wanted)
        reason = "on the do-not-call list (added while the campaign ran)"
        return await self._withdraw_unheld(S.SUPPRESSED, reason, now, numbers=wanted)

    async def _withdraw_unheld(
        self, state: ContactState, reason: str, now: float, *, numbers: frozenset[str] | None
    ) -> int:
        self._check()
        checked_time(now, "now")
        withdrawn = 0
        for seq in sorted(self._members[S.SCHEDULED]):
            if seq in self._holders:
                continue  # its worker withdraws it before the next dial (C4, C6)
            if numbers is not None and self._data.contacts[seq].entry.to_number not in numbers:
                continue
            await self.withdraw(None, seq, state=state, reason=reason, now=now)
            withdrawn += 1
        self._backing.commit()
        return withdrawn

    def _round(
        self, states: Collection[ContactState], max_attempts: int | None, include_unknown: bool
    ) -> list[int]:
        taken = (frozenset(states) & RETRY_ROUND_STATES) | (
            {S.UNKNOWN} if include_unknown else set()
        )
        suppressed = self._data.definition.suppressed
        chosen = []
        for state in taken:
            for seq in self._members[state]:
                record = self._data.contacts[seq]
                if max_attempts is not None and record.attempts >= max_attempts:
                    continue
                if record.entry.to_number in suppressed or not record.entry.to_number:
                    continue
                if record.entry.state is not S.SCHEDULED:
                    continue  # an exclusion appended as such: never dialable
                chosen.append(seq)
        return sorted(chosen)

    async def retry_candidates(
        self, states: Collection[ContactState], *, max_attempts: int | None, include_unknown: bool
    ) -> dict[ContactState, int]:
        self._check()
        counts: dict[ContactState, int] = {}
        for seq in self._round(states, max_attempts, include_unknown):
            state = self._data.contacts[seq].state
            counts[state] = counts.get(state, 0) + 1
        return counts

    async def retry_round(
        self,
        states: Collection[ContactState],
        *,
        max_attempts: int | None,
        include_unknown: bool,
        now: float,
    ) -> int:
        self._check()
        checked_time(now, "now")
        chosen = self._round(states, max_attempts, include_unknown)
        for seq in chosen:
            record = self._change(seq)
            was = record.state
            if record.intents:
                # The operator asked for this round: the last call's end no longer
                # forbids a new intent (clause 6, lifted as requeue_unknown lifts it).
                record.intents[-1] = attrs.evolve(record.intents[-1], outcome=REQUEUED)
            record.finished_at = None
            self._to_scheduled(record, now, now, "retry_round", f"was {was}")
        self._backing.commit()
        return len(chosen)
