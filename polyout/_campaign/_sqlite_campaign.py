"""One campaign of the SQLite store: the store contract over the journal's writes.

Every method is a job for the store's writer thread (``_sqlite_writer``): it checks
what the contract asks (clause 5: before anything changes), then calls the journal's
own write, which is one savepoint and, for a durable method, commits. The exactly-once
rules are enforced a second time by the file's triggers; a trigger's refusal surfaces
as :class:`StaleTransition` too.

Which worker holds a contact lives in memory, on the writer thread (so two workers'
claims never race), and dies with the process, as the contract says. The reads and the
writer-thread plumbing are in ``_sqlite_base``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from polyout._campaign._journal import Journal
from polyout._campaign._memory_backing import check_entry
from polyout._campaign._sqlite_answers import SQLiteAnswers
from polyout._campaign._sqlite_base import SQLiteCampaignBase
from polyout._campaign._sqlite_control import SQLiteControl
from polyout._campaign._sqlite_outbox import SQLiteOutbox
from polyout._campaign._sqlite_policy import SQLitePolicy
from polyout._campaign._sqlite_rows import (
    NOT_PLACED,
    contact_state,
    entry_matches,
    followed_calls,
    late_sid,
    placed,
    sending,
)
from polyout._campaign._sqlite_workers import SQLiteWorkers
from polyout._campaign._states import (
    WITHDRAWALS,
    ContactState,
    can_move,
)
from polyout._campaign._store import (
    ContactEntry,
    DueContact,
    FeedPosition,
    FollowedCall,
    Recovery,
    StaleTransition,
    checked_time,
)
from polyout._campaign._store_policy import IntentPolicy
from polyout._campaign._store_records import checked_outcome

__all__ = ["SQLiteCampaign"]

S = ContactState


class SQLiteCampaign(
    SQLiteControl, SQLiteOutbox, SQLitePolicy, SQLiteAnswers, SQLiteWorkers, SQLiteCampaignBase
):
    """A ``StoredCampaign`` in an SQLite store (see ``SQLiteStore.open``)."""

    async def append(
        self, entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
    ) -> None:
        checked_time(now, "now")
        entries = list(entries)

        def job(journal: Journal) -> None:
            count = journal.contact_count()
            fresh: list[ContactEntry] = []
            for entry in entries:
                if not fresh:
                    stored = entry_matches(journal, entry)
                    if stored is False:
                        raise StaleTransition(f"contact #{entry.seq} is stored with other content")
                    if stored:
                        continue  # a feeder replaying its last batch
                if entry.seq != count + len(fresh):
                    raise StaleTransition(
                        f"contact #{entry.seq} is not the next one (#{count + len(fresh)})"
                    )
                check_entry(entry)
                fresh.append(entry)
            if position.count != count + len(fresh):
                raise StaleTransition(
                    f"the feed position ({position.count}) does not follow the contacts stored"
                )
            journal.append(fresh, position, now)

        await self._run(job)

    async def claim_due(self, worker: str, now: float, limit: int) -> list[DueContact]:
        def job(journal: Journal) -> list[DueContact]:
            rows = journal.due_contacts(now, limit, skip=self._claimed)
            for row in rows:
                self._holders[row.seq] = worker
                self._claimed.add(row.seq)
            return [
                DueContact(
                    seq=row.seq,
                    contact_id=row.contact_id,
                    to_number=row.to_number,
                    request=row.request,
                    zones=row.zones,
                    attempts=row.attempts,
                    intents=row.tries,
                    not_placed=row.not_placed,
                )
                for row in rows
            ]

        return await self._run(job)

    async def release(self, worker: str, seqs: Sequence[int]) -> None:
        def job(journal: Journal) -> None:
            for seq in seqs:
                if seq in self._claimed and self._holders.get(seq) == worker:
                    self._drop_hold(seq)

        await self._run(job)

    async def reschedule(self, worker: str, seq: int, due: float, *, why: str, now: float) -> None:
        checked_time(due, "due")

        def job(journal: Journal) -> None:
            self._check_held(worker, seq)
            journal.reschedule(seq, due, event="rescheduled", detail=why, now=now)
            self._drop_hold(seq)

        await self._run(job)

    async def withdraw(
        self, worker: str | None, seq: int, *, state: ContactState, reason: str, now: float
    ) -> None:
        checked_time(now, "now")
        if state not in WITHDRAWALS:
            raise StaleTransition(f"contact #{seq} cannot be withdrawn as {state}")

        def job(journal: Journal) -> None:
            if self._holders.get(seq) != worker:
                raise StaleTransition(f"contact #{seq} is not held by worker {worker!r}")
            journal.withdraw(seq, state.value, reason=reason, now=now)
            self._drop_hold(seq)

        await self._run(job)

    async def open_intent(
        self, worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
    ) -> int:
        checked_time(now, "now")

        def job(journal: Journal) -> int:
            state, tries, outcome, _, _ = contact_state(journal, seq)
            self._check_held(worker, seq)
            if tries != after:
                raise StaleTransition(f"contact #{seq} has had {tries} intents, not {after}")
            between_sends = state == S.DIALING.value and outcome == NOT_PLACED
            if state != S.SCHEDULED.value and not between_sends:
                raise StaleTransition(f"contact #{seq} is {state}: no intent can be opened")
            unseal = self._seal_receipt(journal, seq, after + 1, now, policy)  # its transaction
            try:
                if between_sends:
                    intent = journal.begin_retry(seq, after, now)
                else:
                    intent = journal.begin_attempt(seq, now)
            except (StaleTransition, sqlite3.IntegrityError):
                unseal()
                raise
            self._claimed.discard(seq)
            return intent

        return await self._run(job)

    async def close_intent(self, seq: int, intent: int, *, error: str, now: float) -> None:
        def job(journal: Journal) -> None:
            sending(journal, seq, intent, closed_ok=False)
            journal.close_try(seq, intent, error=error, now=now)

        await self._run(job)

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
        checked_time(deadline, "deadline")

        def job(journal: Journal) -> None:
            late = late_sid(journal, seq, intent, call_sid)
            if late is None:
                return  # a retry whose first answer was lost (clause 3b)
            if not late:
                sending(journal, seq, intent, closed_ok=False)
            try:
                journal.record_placed(
                    seq,
                    intent,
                    call_sid=call_sid,
                    call_status=call_status,
                    correlation_id=correlation_id,
                    poll_deadline=deadline,
                    now=now,
                    late=late,
                )
            except StaleTransition:
                raise
            except Exception:
                if contact_state(journal, seq)[0] == S.UNKNOWN.value:
                    self._drop_hold(seq)  # a duplicate sid: recorded unknown
                raise

        await self._run(job)

    async def record_unknown(
        self, seq: int, intent: int, *, reason: str, error: str | None, now: float
    ) -> None:
        def job(journal: Journal) -> None:
            sending(journal, seq, intent, closed_ok=False)
            journal.record_unknown(seq, intent, reason=reason, error=error, now=now)
            journal.commit()
            self._drop_hold(seq)

        await self._run(job)

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
        if state is S.SCHEDULED:
            if due is None:
                raise ValueError("a contact scheduled again needs a due time")
            checked_time(due, "due")
        elif state is S.UNKNOWN or state is S.IN_FLIGHT or not can_move(S.DIALING, state):
            raise StaleTransition(f"contact #{seq}: a send that placed nothing cannot end {state}")

        def job(journal: Journal) -> None:
            sending(journal, seq, intent, closed_ok=True)
            if state is S.SCHEDULED or (state is S.FAILURE and reason is None):
                journal.record_not_placed(seq, intent, error=error, due=due, now=now)
            else:
                journal.record_refused(
                    seq, intent, state=state.value, reason=reason, error=error, now=now
                )
            self._drop_hold(seq)

        await self._run(job)

    # -- following ----------------------------------------------------------------------
    async def calls_in_flight(self, worker: str) -> list[FollowedCall]:
        def job(journal: Journal) -> list[FollowedCall]:
            return [
                call
                for call in followed_calls(journal)
                if self._holders.setdefault(call.seq, worker) == worker
            ]

        return await self._run(job)

    async def record_status(self, seq: int, intent: int, status: str, now: float) -> None:
        def job(journal: Journal) -> None:
            current, call_sid = placed(journal, seq, intent)
            if current != status:
                journal.record_status(seq, intent, call_sid=call_sid, status=status, now=now)

        await self._run(job)

    async def record_poll_error(self, seq: int, intent: int, *, error: str, now: float) -> None:
        def job(journal: Journal) -> None:
            _, call_sid = placed(journal, seq, intent)
            journal.record_poll_error(seq, intent, call_sid=call_sid, error=error, now=now)

        await self._run(job)

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
        checked_outcome(seq, outcome, retry_due)

        def job(journal: Journal) -> None:
            current, _ = placed(journal, seq, intent)
            journal.record_outcome(
                seq,
                intent,
                outcome=outcome.value,
                call_status=current if call_status is None else call_status,
                reason=reason,
                error=None,
                retry_at=retry_due,
                now=now,
            )
            self._drop_hold(seq)

        await self._run(job)

    # -- crashes and reads ----------------------------------------------------------------
    async def recover(self, now: float, *, worker: str | None = None) -> Recovery:
        def job(journal: Journal) -> Recovery:
            unknown = rescheduled = 0
            for seq, intent, outcome in journal.interrupted():
                if worker is not None and self._holders.get(seq) != worker:
                    continue
                if journal.settle_interrupted(seq, intent, outcome, now):
                    unknown += 1
                else:
                    rescheduled += 1
            for seq, holder in list(self._holders.items()):
                if worker is None or holder == worker:
                    self._drop_hold(seq)
            journal.commit()
            return Recovery(unknown=unknown, rescheduled=rescheduled)

        return await self._run(job)

    async def requeue_unknown(self, now: float) -> int:
        return await self._run(lambda journal: journal.requeue_unknown(now))
