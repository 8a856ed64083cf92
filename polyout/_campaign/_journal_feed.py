"""What the feed writes to the journal: contacts as they are planned, and the position.

Every method is one atomic step (see ``_journal_core``), committed with the next batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_core import JournalCore
from polyout._campaign._journal_schema import FINAL_STATES
from polyout._campaign._states import ContactState
from polyout._campaign._store import ContactEntry, FeedPosition

__all__ = ["JournalFeed"]


class JournalFeed(JournalCore):
    """Contacts fed in, and the feed position."""

    # -- meta ----------------------------------------------------------------------------
    def mark_feed_done(self) -> None:
        with self._atomic():
            self._set_meta("feed_done", "1")
        self.commit()

    def note_source_digest(self, digest: str) -> None:
        """The fingerprint of the items journaled so far (committed with their rows)."""
        self._source_digest = digest
        self._source_dirty = True

    # -- feeding -------------------------------------------------------------------------
    def append(self, entries: Sequence[ContactEntry], position: FeedPosition, now: float) -> None:
        """Store checked ``entries`` and the feed position after them, in one step."""
        with self._atomic():
            for entry in entries:
                if entry.state is ContactState.SCHEDULED:
                    assert entry.to_number is not None
                    assert entry.due is not None
                    self._insert_planned(
                        entry.seq,
                        contact_id=entry.contact_id,
                        row=entry.row,
                        to_number=entry.to_number,
                        request=entry.request,
                        zones=entry.zones,
                        due=entry.due,
                        now=now,
                    )
                else:
                    self._insert_excluded(
                        entry.seq,
                        contact_id=entry.contact_id,
                        row=entry.row,
                        to_number=entry.to_number,
                        state=entry.state.value,
                        reason=entry.reason,
                        now=now,
                    )
            if position.digest is None:
                self._db.execute(
                    "DELETE FROM campaign_meta WHERE campaign = ? AND key = 'source_digest'",
                    (self.campaign,),
                )
            else:
                self._set_meta("source_digest", position.digest)
            self._set_meta("feed_done", "1" if position.done else "0")

    def _insert_excluded(
        self,
        seq: int,
        *,
        contact_id: str | None,
        row: int | None,
        to_number: str | None,
        state: str,
        reason: str | None,
        now: float,
    ) -> None:
        # No step of its own: a batch (``append``) is one step, and a savepoint per row
        # made the store's thread run three statements per contact instead of one.
        if state not in FINAL_STATES:
            raise JournalError(f"an excluded contact must be final, not {state!r}")
        self._write(
            "INSERT INTO contacts (campaign, seq, contact_id, row, to_number, dialable,"
            " state, reason, created_at, finished_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (self.campaign, seq, contact_id, row, to_number, state, reason, now, now),
        )

    def add_planned(
        self,
        seq: int,
        *,
        contact_id: str | None,
        row: int | None,
        to_number: str,
        request: Mapping[str, Any],
        zones: tuple[str, ...],
        due: float,
        now: float,
    ) -> None:
        with self._atomic():
            self._insert_planned(
                seq,
                contact_id=contact_id,
                row=row,
                to_number=to_number,
                request=request,
                zones=zones,
                due=due,
                now=now,
            )

    def _insert_planned(
        self,
        seq: int,
        *,
        contact_id: str | None,
        row: int | None,
        to_number: str,
        request: Mapping[str, Any],
        zones: tuple[str, ...],
        due: float,
        now: float,
    ) -> None:
        self._write(
            "INSERT INTO contacts (campaign, seq, contact_id, row, to_number, dialable,"
            " request, zones, state, next_due, first_due, created_at)"
            " VALUES (?, ?, ?, ?, ?, 1, ?, ?, 'scheduled', ?, ?, ?)",
            (
                self.campaign,
                seq,
                contact_id,
                row,
                to_number,
                json.dumps(dict(request), separators=(",", ":")),
                json.dumps(list(zones)),
                due,
                due,
                now,
            ),
        )
