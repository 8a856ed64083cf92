"""What the runner and the reports read from the journal.

A stored value is never trusted to be what the schema says: SQLite lets a REAL column
hold text, and a hand-edited or damaged file can hold anything. Times are clamped to
what a datetime can show (a 0.1 journal may hold a retry a trillion seconds away), and
:meth:`JournalReads.check_rows` refuses, before anything is sent, a value no run could
use (a time that is not a number, a count that is not an integer, broken JSON).
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._journal_core import JournalCore
from polyout._campaign._journal_schema import refuse_damage
from polyout._campaign._schedule import check_zone

__all__ = ["LATEST_TIME", "ContactRow", "JournalReads", "OpenCall", "clamp_time"]

#: The latest POSIX time a datetime can hold in any zone (a day before year 10000).
LATEST_TIME = 253402214400.0

_TIME_COLUMNS = (
    "next_due",
    "poll_deadline",
    "created_at",
    "first_attempt_at",
    "last_attempt_at",
    "finished_at",
)
#: Times a resumed run waits for.
_AWAITED_COLUMNS = ("next_due", "poll_deadline")
_COUNT_COLUMNS = ("seq", "tries", "attempts", "not_placed", "dialable")
_TEXT_COLUMNS = ("state", "contact_id", "to_number", "call_sid", "call_status")


def clamp_time(value: float) -> float:
    """A stored time made safe to turn into a datetime (never past :data:`LATEST_TIME`)."""
    return min(max(float(value), 0.0), LATEST_TIME)


@attrs.frozen
class ContactRow:
    """A scheduled contact as the dispatcher needs it."""

    seq: int
    contact_id: str | None
    to_number: str
    request: Mapping[str, Any]
    zones: tuple[str, ...]
    attempts: int
    tries: int
    not_placed: int


@attrs.frozen
class OpenCall:
    """A placed call not yet followed to its end (for resuming)."""

    seq: int
    contact_id: str | None
    attempt: int
    placed: int
    """Calls placed for the contact so far, this one included."""
    call_sid: str
    call_status: str | None
    placed_at: float
    poll_deadline: float


class JournalReads(JournalCore):
    # -- meta ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        with self._reading():
            value = json.loads(self._meta("config") or "{}")
        if not isinstance(value, dict):
            raise JournalError(f"{self.path}: the stored config is not a JSON object")
        return value

    def meta_json(self, key: str) -> Any:
        """A JSON meta value (None when absent), or JournalError when it is not JSON."""
        with self._reading():
            text = self._meta(key)
            return None if text is None else json.loads(text)

    def meta_text(self, key: str) -> str | None:
        with self._reading():
            return self._meta(key)

    @property
    def created_at(self) -> float:
        with self._reading():
            return clamp_time(float(self._meta("created_at") or 0.0))

    @property
    def source_digest(self) -> str | None:
        """The fingerprint of the items journaled (None in a journal from before it)."""
        return self._source_digest

    @property
    def feed_done(self) -> bool:
        with self._reading():
            return self._meta("feed_done") == "1"

    def contact_count(self) -> int:
        """How many input items the journal holds (the feed resumes after them)."""
        with self._reading():
            sql = "SELECT COUNT(*) FROM contacts WHERE campaign = ?"
            return int(self._db.execute(sql, (self.campaign,)).fetchone()[0])

    def suppressed_numbers(self) -> frozenset[str]:
        with self._reading():
            return frozenset(
                str(row[0])
                for row in self._db.execute(
                    "SELECT number FROM suppressed WHERE campaign = ?", (self.campaign,)
                )
            )

    # A contact takes its number and id when it is planned (dialable) or suppressed; an
    # invalid or duplicate row leaves both free. Lookups see uncommitted rows too.
    _TAKEN = "(dialable = 1 OR state = 'suppressed')"

    def has_taken_number(self, e164: str) -> bool:
        """Whether an earlier contact of the campaign took the number ``e164``."""
        sql = (
            f"SELECT 1 FROM contacts WHERE campaign = ? AND to_number = ? AND {self._TAKEN} LIMIT 1"
        )
        return self._db.execute(sql, (self.campaign, e164)).fetchone() is not None

    def has_taken_id(self, contact_id: str) -> bool:
        """Whether an earlier contact of the campaign took the id ``contact_id``."""
        sql = (
            "SELECT 1 FROM contacts WHERE campaign = ? AND contact_id = ?"
            f" AND {self._TAKEN} LIMIT 1"
        )
        return self._db.execute(sql, (self.campaign, contact_id)).fetchone() is not None

    # -- dispatching ---------------------------------------------------------------------
    def due_contacts(self, now: float, limit: int, skip: Iterable[int] = ()) -> list[ContactRow]:
        """Scheduled contacts due by ``now``, earliest first, leaving out ``skip``."""
        skipped = set(skip)
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, contact_id, to_number, request, zones, attempts, tries, not_placed"
                " FROM contacts WHERE campaign = ? AND state = 'scheduled' AND next_due <= ?"
                " ORDER BY next_due, seq LIMIT ?",
                (self.campaign, now, limit + len(skipped)),
            ).fetchall()
            return [
                ContactRow(
                    seq=row[0],
                    contact_id=row[1],
                    to_number=row[2],
                    request=json.loads(row[3]),
                    zones=tuple(json.loads(row[4])),
                    attempts=row[5],
                    tries=row[6],
                    not_placed=row[7],
                )
                for row in rows
                if row[0] not in skipped
            ][:limit]

    def next_due(self, skip: Iterable[int] = ()) -> float | None:
        """The earliest time a scheduled contact (other than ``skip``) becomes due."""
        skipped = set(skip)
        with self._reading():
            rows = self._db.execute(
                "SELECT seq, next_due FROM contacts WHERE campaign = ? AND state = 'scheduled'"
                " ORDER BY next_due, seq LIMIT ?",
                (self.campaign, len(skipped) + 1),
            ).fetchall()
            for seq, due in rows:
                if seq not in skipped:
                    return clamp_time(due)
        return None

    def open_calls(self) -> Iterator[OpenCall]:
        """Placed calls not followed to their end, oldest first."""
        query = (
            "SELECT c.seq, c.contact_id, c.tries, c.attempts, c.call_sid, c.call_status,"
            " a.started_at, c.poll_deadline FROM contacts c"
            " JOIN attempts a ON a.campaign = c.campaign AND a.contact = c.seq AND a.n = c.tries"
            " WHERE c.campaign = ? AND c.state = 'in_flight' ORDER BY a.started_at, c.seq"
        )
        with self._reading():
            for row in self._db.execute(query, (self.campaign,)):
                yield OpenCall(
                    seq=row[0],
                    contact_id=row[1],
                    attempt=row[2],
                    placed=row[3],
                    call_sid=row[4],
                    call_status=row[5],
                    placed_at=clamp_time(row[6]),
                    poll_deadline=clamp_time(row[7]),
                )

    def counts_by_state(self) -> dict[str, int]:
        with self._reading():
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM contacts WHERE campaign = ? GROUP BY state",
                (self.campaign,),
            )
            return {str(state): int(count) for state, count in rows}

    def contact_zones(self, seq: int) -> tuple[str, ...]:
        """The time zones a contact's calling window is checked in."""
        with self._reading():
            row = self._db.execute(
                "SELECT zones FROM contacts WHERE campaign = ? AND seq = ?", (self.campaign, seq)
            ).fetchone()
            return tuple(json.loads(row[0])) if row is not None and row[0] else ()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a query (a store's own reads), damage reported as JournalError."""
        with self._reading():
            return [tuple(row) for row in self._db.execute(sql, params)]

    # -- reading results -----------------------------------------------------------------
    def result_rows(self) -> Iterator[sqlite3.Row]:
        """Every contact with its outcome, in input order (streamed)."""
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        with self._reading():
            yield from cursor.execute(
                "SELECT seq, contact_id, row, to_number, state, call_sid, attempts, reason,"
                " error, correlation_id, first_attempt_at, last_attempt_at, finished_at,"
                " next_due FROM contacts WHERE campaign = ? ORDER BY seq",
                (self.campaign,),
            )

    def check_rows(self) -> None:
        """Read every contact once, refusing a value no run could use, before anything is
        sent (a page check cannot see a scribbled value).

        The indexes are checked against their tables first: the opening's quick check
        skips that, and a damaged unique index on the numbers would no longer refuse a
        second dial. It costs about 2 s on a million contacts, once per resume.
        """
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        with self._reading():
            refuse_damage(self.path, self._db.execute("PRAGMA integrity_check(1)").fetchone()[0])
            for row in cursor.execute(
                "SELECT * FROM contacts WHERE campaign = ?", (self.campaign,)
            ):
                problem = _row_problem(row)
                if problem is not None:
                    raise JournalError(
                        f"{self.path} is damaged (contact #{row['seq']}: {problem}): "
                        "it cannot be resumed safely"
                    )


def _row_problem(row: sqlite3.Row) -> str | None:
    """What makes a stored contact row unusable, or None."""
    for column in _TIME_COLUMNS:
        value = row[column]
        if value is not None and (not isinstance(value, (int, float)) or math.isnan(value)):
            return f"{column} is {str(value)[:40]!r}, not a time"
    for column in _COUNT_COLUMNS:
        if not isinstance(row[column], int):
            return f"{column} is {str(row[column])[:40]!r}, not a count"
    for column in _TEXT_COLUMNS:
        if row[column] is not None and not isinstance(row[column], str):
            return f"{column} is not text"
    if row["state"] == "scheduled" and row["next_due"] is None:
        return "scheduled with no due time"
    for column in _AWAITED_COLUMNS:
        # No run writes a time past year 9999: read clamped, a resume would wait for ever.
        if row[column] is not None and row[column] > LATEST_TIME:
            return f"{column} is {row[column]:.3g}, later than any run schedules"
    if row["dialable"]:
        try:
            request, zones = json.loads(row["request"]), json.loads(row["zones"])
        except (TypeError, ValueError):
            return "its request is not JSON"
        if not isinstance(request, dict) or not isinstance(zones, list):
            return "its request is not JSON"
        return _zones_problem(row["zones"])
    return None


@functools.lru_cache(maxsize=256)  # rows share a handful of zone lists
def _zones_problem(text: str) -> str | None:
    """Why a stored zone list cannot be used by the calling window, or None."""
    zones = json.loads(text)
    try:
        for zone in zones:
            check_zone(zone)
    except ValueError:
        return f"its zones are not time zones: {text[:60]!r}"
    return None
