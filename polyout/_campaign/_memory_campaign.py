"""The in-memory store's writes: every transition, checked as the store contract says.

Each method checks everything first and raises :class:`StaleTransition` before
changing anything (clause 5), then changes the contact in place, having told the
backing to remember its committed version (so a crash can undo a batched write).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Sequence

from polyout._campaign._memory_backing import (
    NOT_PLACED,
    REQUEUED,
    CampaignData,
    ContactRecord,
    IntentRecord,
    MemoryBacking,
    check_entry,
    due_contact_of,
)
from polyout._campaign._memory_outbox import outbox_logged
from polyout._campaign._states import (
    EXCLUSIONS,
    RETRYABLE,
    WITHDRAWALS,
    ContactState,
    can_move,
)
from polyout._campaign._store import (
    ContactEntry,
    DueContact,
    DuplicateCallSid,
    FeedPosition,
    LogEntry,
    StaleTransition,
    checked_time,
    readable_time,
)

__all__ = ["MemoryCampaignWrites"]

S = ContactState

#: An earlier intent that ended so lets a new one be opened (clause 6).
_REOPENABLE = frozenset({NOT_PLACED, REQUEUED, *(state.value for state in RETRYABLE)})


class MemoryCampaignWrites:
    def __init__(
        self, backing: MemoryBacking, data: CampaignData, name: str, check: Callable[[], None]
    ) -> None:
        self.name = name
        self._backing = backing
        self._data = data
        self._check = check
        self._heap: list[tuple[float, int, int]] = []
        self._tickets: dict[int, int] = {}
        self._next_ticket = itertools.count()
        self._holders: dict[int, str] = {}
        self._members: dict[ContactState, set[int]] = {state: set() for state in ContactState}
        self._dialable: set[str] = set()
        self._taken_numbers: set[str] = set()
        self._taken_ids: set[str] = set()
        self._sids: dict[str, int] = {}

    # -- feed ----------------------------------------------------------------------------
    async def append(
        self, entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
    ) -> None:
        self._check()
        checked_time(now, "now")
        contacts = self._data.contacts
        fresh: list[ContactEntry] = []
        numbers: set[str] = set()
        for entry in entries:
            stored = contacts.get(entry.seq)
            if stored is not None and not fresh:
                if stored.entry != entry:
                    raise StaleTransition(f"contact #{entry.seq} is stored with other content")
                continue  # a feeder replaying its last batch
            if entry.seq != len(contacts) + len(fresh):
                raise StaleTransition(
                    f"contact #{entry.seq} is not the next one (#{len(contacts) + len(fresh)})"
                )
            check_entry(entry)
            if entry.state is S.SCHEDULED:
                assert entry.to_number is not None
                if entry.to_number in self._dialable or entry.to_number in numbers:
                    raise StaleTransition(
                        f"contact #{entry.seq}: its number is dialable in another contact"
                    )
                numbers.add(entry.to_number)
            fresh.append(entry)
        if position.count != len(contacts) + len(fresh):
            raise StaleTransition(
                f"the feed position ({position.count}) does not follow the contacts stored"
            )
        for entry in fresh:
            self._backing.changing(self.name, entry.seq)
            record = ContactRecord(entry=entry, state=entry.state, due=entry.due)
            if entry.state in EXCLUSIONS:
                record.reason = entry.reason
                record.finished_at = now
                outbox_logged(self._backing, self.name, record, None)
            contacts[entry.seq] = record
            self._index(record)
        if position != self._data.position:
            self._backing.set_position(self.name, position)

    def _index(self, record: ContactRecord) -> None:
        entry = record.entry
        self._members[record.state].add(entry.seq)
        if entry.state is S.SCHEDULED or entry.state is S.SUPPRESSED:
            if entry.to_number is not None:
                self._taken_numbers.add(entry.to_number)
            if entry.contact_id is not None:
                self._taken_ids.add(entry.contact_id)
        if entry.state is S.SCHEDULED and entry.to_number is not None:
            self._dialable.add(entry.to_number)
        if record.state is S.SCHEDULED and entry.seq not in self._holders:
            self._ticket(record)

    # -- dispatch ------------------------------------------------------------------------
    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        self._check()
        claimed: list[DueContact] = []
        heap = self._heap
        while heap and len(claimed) < limit and heap[0][0] <= now:
            _, seq, ticket = heapq.heappop(heap)
            if self._tickets.get(seq) != ticket:
                continue  # claimed, moved or dialled since this entry was pushed
            del self._tickets[seq]
            self._holders[seq] = worker
            claimed.append(due_contact_of(self._data.contacts[seq]))
        return claimed

    def _earliest(self) -> float | None:
        heap = self._heap
        while heap and self._tickets.get(heap[0][1]) != heap[0][2]:
            heapq.heappop(heap)
        return readable_time(heap[0][0]) if heap else None

    async def release(self, worker: str, seqs: Sequence[int]) -> None:
        self._check()
        for seq in seqs:
            record = self._data.contacts.get(seq)
            held = record is not None and self._holders.get(seq) == worker
            if held and record is not None and record.state is S.SCHEDULED:
                del self._holders[seq]
                self._ticket(record)

    async def reschedule(self, worker: str, seq: int, due: float, *, why: str, now: float) -> None:
        self._check()
        checked_time(due, "due")
        record = self._held(worker, seq, S.SCHEDULED)
        self._backing.changing(self.name, seq)
        record.due = due
        del self._holders[seq]
        self._ticket(record)
        self._log(record, now, "rescheduled", detail=why)

    async def withdraw(
        self, worker: str | None, seq: int, *, state: ContactState, reason: str, now: float
    ) -> None:
        self._check()
        checked_time(now, "now")
        if state not in WITHDRAWALS:
            raise StaleTransition(f"contact #{seq} cannot be withdrawn as {state}")
        record = self._held(worker, seq, S.SCHEDULED)
        record = self._change(seq)
        self._tickets.pop(seq, None)  # out of the due order
        record.due = None
        record.reason = reason
        self._to_final(record, state, now, detail=reason, intent=None)

    async def open_intent(self, worker: str, seq: int, *, after: int, now: float) -> int:
        self._check()
        checked_time(now, "now")
        record = self._held(worker, seq, None)
        intents = record.intents
        if len(intents) != after:
            raise StaleTransition(f"contact #{seq} has {len(intents)} intents, not {after}")
        between_sends = record.state is S.DIALING and intents[-1].outcome == NOT_PLACED
        if record.state is not S.SCHEDULED and not between_sends:
            raise StaleTransition(f"contact #{seq} is {record.state}: no intent may be opened")
        if any(intent.outcome not in _REOPENABLE for intent in intents):
            raise StaleTransition(f"an earlier intent of contact #{seq} may have placed a call")
        record = self._change(seq)
        record.intents.append(IntentRecord(number=after + 1, started_at=now))
        if record.state is S.SCHEDULED:
            self._move(record, S.DIALING)
            record.due = None
        record.first_at = now if record.first_at is None else record.first_at
        record.last_at = now
        self._log(record, now, "intent", intent=after + 1)
        self._backing.commit()
        return after + 1

    async def close_intent(self, seq: int, intent: int, *, error: str, now: float) -> None:
        self._check()
        record = self._sending(seq, intent, closed_ok=False)
        record = self._change(seq)
        record.intents[-1] = record.intents[-1].ended(NOT_PLACED, now, error)
        self._log(record, now, "not_placed", intent=intent, detail=error)
        self._backing.commit()

    async def record_placement(
        self,
        seq: int,
        intent: int,
        *,
        call_sid: str,
        call_status: str | None,
        correlation_id: str | None,
        deadline: float,
        now: float,
    ) -> None:
        self._check()
        checked_time(deadline, "deadline")
        record = self._contact(seq)
        if record.placed_as(intent, call_sid):
            return  # a retry whose first answer was lost (clause 3b)
        late = record.lost_sid(intent)  # unknown, its sid learned late: upgraded
        if not late:
            self._sending(seq, intent, closed_ok=False)
        owner = self._sids.get(call_sid)
        if owner is not None:
            if late:
                raise DuplicateCallSid(f"call sid {call_sid} is another contact's")
            shown = self._data.contacts[owner].entry.contact_id
            reason = (
                f"the server returned call sid {call_sid}, already used by contact "
                f"{repr(shown) if shown is not None else f'#{owner}'}: "
                "the call may have been placed"
            )
            self._to_unknown(self._change(seq), reason, "duplicate call sid", now)
            self._backing.commit()
            raise DuplicateCallSid(reason)
        record = self._change(seq)
        record.intents[-1] = record.intents[-1].placed(call_sid)
        self._sids[call_sid] = seq
        self._move(record, S.IN_FLIGHT)
        if late:  # counted when it became unknown; held by no worker until adopted
            record.finished_at = None
            self._holders.pop(seq, None)
        else:
            record.attempts += 1
        record.not_placed = 0
        record.call_sid, record.call_status = call_sid, call_status
        record.correlation_id, record.deadline, record.placed_at = correlation_id, deadline, now
        record.reason = record.error = None
        self._log(record, now, "placed", intent=intent, call_sid=call_sid, status=call_status)
        self._backing.commit()

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        self._check()
        self._sending(seq, intent, closed_ok=False)
        self._to_unknown(self._change(seq), reason, error, now)
        self._backing.commit()

    async def record_not_placed(
        self,
        seq: int,
        intent: int,
        *,
        state: ContactState,
        due: float | None,
        reason: str | None,
        error: str | None,
        now: float,
    ) -> None:
        self._check()
        record = self._sending(seq, intent, closed_ok=True)
        if state is S.SCHEDULED:
            if due is None:
                raise ValueError("a contact scheduled again needs a due time")
            checked_time(due, "due")
        elif state is S.UNKNOWN or not can_move(S.DIALING, state) or state is S.IN_FLIGHT:
            raise StaleTransition(f"contact #{seq}: a send that placed nothing cannot end {state}")
        record = self._change(seq)
        last = record.intents[-1]
        if last.outcome is None:
            record.intents[-1] = last.ended(NOT_PLACED, now, error)
        record.not_placed += 1
        record.error = error
        record.reason = record.reason if reason is None else reason
        if state is S.SCHEDULED:
            assert due is not None
            self._to_scheduled(record, due, now, "not_placed", error, intent=intent)
        else:
            self._to_final(record, state, now, detail=error, intent=intent)

    # -- the steps every write is made of ----------------------------------------------
    def _held(self, worker: str | None, seq: int, state: ContactState | None) -> ContactRecord:
        record = self._contact(seq)
        if state is not None and record.state is not state:
            raise StaleTransition(f"contact #{seq} is {record.state}, not {state}")
        if self._holders.get(seq) != worker:
            raise StaleTransition(f"contact #{seq} is not held by worker {worker!r}")
        return record

    def _contact(self, seq: int) -> ContactRecord:
        record = self._data.contacts.get(seq)
        if record is None:
            raise StaleTransition(f"the campaign has no contact #{seq}")
        return record

    def _sending(self, seq: int, intent: int, *, closed_ok: bool) -> ContactRecord:
        """The contact ``dialing`` with ``intent`` its latest, open (or closed not placed)."""
        record = self._contact(seq)
        last = record.intents[-1] if record.intents else None
        if record.state is not S.DIALING or last is None or last.number != intent:
            raise StaleTransition(f"contact #{seq} is not dialling intent {intent}")
        if last.outcome is not None and not (closed_ok and last.outcome == NOT_PLACED):
            raise StaleTransition(f"intent {intent} of contact #{seq} is not open")
        return record

    def _placed(self, seq: int, intent: int) -> ContactRecord:
        record = self._contact(seq)
        if record.state is not S.IN_FLIGHT or record.intents[-1].number != intent:
            raise StaleTransition(f"contact #{seq} has no call in flight for intent {intent}")
        return record

    def _change(self, seq: int) -> ContactRecord:
        self._backing.changing(self.name, seq)
        return self._data.contacts[seq]

    def _move(self, record: ContactRecord, target: ContactState) -> None:
        if not can_move(record.state, target):
            raise StaleTransition(f"contact #{record.entry.seq}: {record.state} -> {target}")
        self._members[record.state].discard(record.entry.seq)
        self._members[target].add(record.entry.seq)
        record.state = target

    def _to_scheduled(
        self,
        record: ContactRecord,
        due: float,
        now: float,
        event: str,
        detail: str | None,
        intent: int | None = None,
        status: str | None = None,
    ) -> None:
        self._move(record, S.SCHEDULED)
        record.due = due
        self._holders.pop(record.entry.seq, None)
        self._ticket(record)
        intent = record.intents[-1].number if intent is None and record.intents else intent
        self._log(record, now, event, intent=intent, status=status, detail=detail)

    def _to_final(
        self,
        record: ContactRecord,
        state: ContactState,
        now: float,
        *,
        detail: str | None,
        intent: int | None,
    ) -> None:
        self._move(record, state)
        record.finished_at = now
        self._holders.pop(record.entry.seq, None)
        self._log(record, now, "final", intent=intent, status=state.value, detail=detail)

    def _to_unknown(
        self, record: ContactRecord, reason: str, error: str | None, now: float
    ) -> None:
        last = record.intents[-1]
        record.intents[-1] = last.ended(S.UNKNOWN.value, now, error)
        record.attempts += 1
        record.reason, record.error = reason, error
        self._to_final(record, S.UNKNOWN, now, detail=error, intent=last.number)

    def _ticket(self, record: ContactRecord) -> None:
        """Put an unheld ``scheduled`` contact (back) in the due order."""
        if record.state is not S.SCHEDULED or record.due is None:
            return
        ticket = next(self._next_ticket)
        self._tickets[record.entry.seq] = ticket
        heapq.heappush(self._heap, (record.due, record.entry.seq, ticket))

    def _log(
        self,
        record: ContactRecord,
        now: float,
        event: str,
        *,
        intent: int | None = None,
        call_sid: str | None = None,
        status: str | None = None,
        detail: str | None = None,
    ) -> None:
        logged = LogEntry(now, event, intent, call_sid, status, detail)
        record.log.append(logged)
        outbox_logged(self._backing, self.name, record, logged)  # in the same commit
