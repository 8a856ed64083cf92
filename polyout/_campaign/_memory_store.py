"""The in-memory campaign store: the reference implementation of the store contract.

Tests, rehearsals and short-lived embedded campaigns use it. Every clause of
:mod:`polyout._campaign._store` holds here exactly as it must in SQLite or PostgreSQL,
including what a crash may lose: the data lives in a :class:`MemoryBacking` that
outlives the store, and a store opened on it again after one that did not close sees
the last commit (see ``_memory_backing``).

Dispatch is O(log n) per contact: due contacts sit in a heap of ``(due, seq, token)``,
where ``token`` is the contact's current ticket; an entry whose token is no longer the
contact's (it was claimed, moved or dialled meanwhile) is skipped when it surfaces. A
contact has a live ticket exactly while it is ``scheduled`` and held by no worker.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._memory_answers import MemoryAnswers
from polyout._campaign._memory_backing import (
    NOT_PLACED,
    REQUEUED,
    CampaignData,
    MemoryBacking,
    followed_of,
    result_of,
)
from polyout._campaign._memory_campaign import MemoryCampaignWrites
from polyout._campaign._memory_control import MemoryControl
from polyout._campaign._memory_outbox import MemoryOutbox
from polyout._campaign._memory_policy import MemoryPolicy, MemoryPolicyStore
from polyout._campaign._memory_workers import ProcessWorkers
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignExists,
    CampaignNotFound,
    FeedPosition,
    FollowedCall,
    LogEntry,
    Recovery,
)
from polyout._campaign._store_records import checked_outcome

__all__ = ["MemoryBacking", "MemoryCampaign", "MemoryStore"]

S = ContactState


class MemoryStore(MemoryPolicyStore):
    """A :class:`~polyout._campaign._store.CampaignStore` held in memory.

    ``backing`` is where the data lives; pass the backing of a store that crashed (was
    dropped without ``aclose``) to reopen it as of its last commit. The store it
    replaces refuses any further work, as a dead process would do nothing more.
    """

    def __init__(self, backing: MemoryBacking | None = None) -> None:
        self.backing = backing if backing is not None else MemoryBacking()
        self.backing.rollback()  # the batched writes of a store that did not close
        self.backing.generation += 1
        self._generation = self.backing.generation
        self._campaigns: dict[str, MemoryCampaign] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<MemoryStore campaigns={len(self.backing.campaigns)}>"

    def check_usable(self) -> None:
        if self._closed:
            raise JournalError("the store is closed")
        if self._generation != self.backing.generation:
            raise JournalError("the store was reopened elsewhere (after a crash): it is dead")

    async def create(self, name: str, definition: CampaignDefinition) -> MemoryCampaign:
        self.check_usable()
        if not isinstance(name, str) or not name:
            raise ValueError("a campaign's name must be a non-empty string")
        if name in self.backing.campaigns:
            raise CampaignExists(f"the store already holds a campaign named {name!r}")
        data = CampaignData(definition=definition, position=FeedPosition(0, None, False))
        self.backing.campaigns[name] = data
        self.backing.commit()
        return self._campaign(name)

    async def open(self, name: str) -> MemoryCampaign:
        self.check_usable()
        if name not in self.backing.campaigns:
            raise CampaignNotFound(f"the store holds no campaign named {name!r}")
        return self._campaign(name)

    async def names(self) -> list[str]:
        self.check_usable()
        return sorted(self.backing.campaigns)

    async def aclose(self) -> None:
        if self._closed or self._generation != self.backing.generation:
            self._closed = True
            return
        self.backing.commit()
        self._closed = True

    def _campaign(self, name: str) -> MemoryCampaign:
        campaign = self._campaigns.get(name)
        if campaign is None:
            campaign = self._campaigns[name] = MemoryCampaign(self, name)
        return campaign


class MemoryCampaign(
    MemoryControl, MemoryOutbox, MemoryPolicy, MemoryAnswers, ProcessWorkers, MemoryCampaignWrites
):
    """One campaign of a :class:`MemoryStore` (a ``StoredCampaign``)."""

    def __init__(self, store: MemoryStore, name: str) -> None:
        data = store.backing.campaigns[name]
        super().__init__(store.backing, data, name, store.check_usable)
        self._rebuild(data)

    def __repr__(self) -> str:
        return f"<MemoryCampaign {self.name!r} contacts={len(self._data.contacts)}>"

    def _rebuild(self, data: CampaignData) -> None:
        """The indexes, from the data as of the last commit (opening, or after a crash)."""
        for record in data.contacts.values():
            self._index(record)
            for intent in record.intents:
                if intent.call_sid is not None:
                    self._sids[intent.call_sid] = record.entry.seq
        heapq.heapify(self._heap)

    # -- definition and reads --------------------------------------------------------------
    async def definition(self) -> CampaignDefinition:
        self._check()
        return self._data.definition

    async def feed_position(self) -> FeedPosition:
        self._check()
        return self._data.position

    async def has_number(self, e164: str) -> bool:
        self._check()
        return e164 in self._taken_numbers

    async def has_contact_id(self, contact_id: str) -> bool:
        self._check()
        return contact_id in self._taken_ids

    async def next_due(self) -> float | None:
        self._check()
        return self._earliest()

    async def counts(self) -> dict[ContactState, int]:
        self._check()
        return {state: len(seqs) for state, seqs in self._members.items() if seqs}

    async def history(self, seq: int) -> list[LogEntry]:
        self._check()
        record = self._data.contacts.get(seq)
        return [] if record is None else list(record.log)

    async def results(self) -> AsyncIterator[Mapping[str, Any]]:
        self._check()
        for seq in itertools.count():
            record = self._data.contacts.get(seq)
            if record is None:
                return
            yield result_of(record)

    async def flush(self) -> None:
        self._check()
        self._backing.commit()

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        self._check()
        record = self._placed(seq, intent)
        if record.call_status == status:
            return
        record = self._change(seq)
        record.call_status = status
        self._log(record, now, "status", intent=intent, call_sid=record.call_sid, status=status)

    async def record_poll_error(self, seq: int, intent: int, *, error: str, now: float) -> None:
        self._check()
        record = self._placed(seq, intent)
        record = self._change(seq)
        self._log(record, now, "poll_error", intent=intent, call_sid=record.call_sid, detail=error)

    async def record_outcome(
        self,
        seq: int,
        intent: int,
        *,
        outcome: ContactState,
        retry_due: float | None,
        reason: str | None,
        now: float,
        call_status: str | None = None,
    ) -> None:
        self._check()
        self._placed(seq, intent)
        checked_outcome(seq, outcome, retry_due)
        record = self._change(seq)
        record.intents[-1] = record.intents[-1].ended(outcome.value, now)
        record.call_status = record.call_status if call_status is None else call_status
        record.reason, record.error, record.deadline = reason, None, None
        if retry_due is not None:
            self._to_scheduled(record, retry_due, now, "retry", reason, intent, outcome.value)
        else:
            self._to_final(record, outcome, now, detail=reason, intent=intent)

    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        self._check()
        calls: list[FollowedCall] = []
        for seq in self._members[S.IN_FLIGHT]:
            if self._holders.setdefault(seq, worker) == worker:  # unheld ones become its own
                calls.append(followed_of(self._data.contacts[seq]))
        calls.sort(key=lambda call: (call.placed_at, call.seq))
        return calls

    # -- crashes -------------------------------------------------------------------------
    async def recover(self, now: float, *, worker: str | None = None) -> Recovery:
        self._check()
        unknown = rescheduled = 0
        reason = "the run stopped after deciding to dial, before the answer was recorded"
        for seq in sorted(self._members[S.DIALING]):
            if worker is not None and self._holders.get(seq) != worker:
                continue
            record = self._change(seq)
            last = record.intents[-1]
            if last.outcome == NOT_PLACED:
                self._to_scheduled(record, now, now, "not_placed", "the run stopped")
                rescheduled += 1
            else:
                self._to_unknown(record, reason, "interrupted trigger", now)
                unknown += 1
        for seq, holder in list(self._holders.items()):
            if worker is None or holder == worker:
                del self._holders[seq]
                self._ticket(self._data.contacts[seq])
        self._backing.commit()
        return Recovery(unknown=unknown, rescheduled=rescheduled)

    async def requeue_unknown(self, now: float) -> int:
        self._check()
        requeued = 0
        for seq in sorted(self._members[S.UNKNOWN]):
            record = self._change(seq)
            record.intents[-1] = attrs.evolve(record.intents[-1], outcome=REQUEUED)
            record.finished_at = None
            self._to_scheduled(record, now, now, "requeued", None)
            requeued += 1
        self._backing.commit()
        return requeued
