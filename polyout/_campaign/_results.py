"""A campaign's results: one record per contact, read from its journal, as JSONL or CSV.

Records hold what an operator needs to act on the outcome and nothing more (no
metadata: it may be personal data the results file does not need). The full number
is there, because the operator must be able to tell who was called; it never
reaches a log line.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs

from polyout._campaign._clock import utc_datetime
from polyout._campaign._journal import Journal
from polyout._campaign._states import ContactState

__all__ = ["RESULT_FIELDS", "ContactResult", "export_results", "iter_results"]

ResultFormat = Literal["jsonl", "csv"]


@attrs.frozen
class ContactResult:
    """What happened to one contact.

    ``state`` is final (``success``, ``failure``, ``no_answer``, ``busy``, ``cancelled``,
    ``expired``, ``unknown``, ``invalid``, ``duplicate``, ``suppressed``) or, for a
    campaign that was stopped, ``scheduled`` (``next_attempt_at`` says when) or
    ``in_flight`` (a call whose end was not seen yet: resume to follow it).
    """

    contact_id: str | None
    row: int | None
    to_number: str | None
    """E.164; the raw input for an ``invalid`` row."""
    state: str
    call_sid: str | None
    """The last call's sid."""
    attempts: int
    """Calls placed (or possibly placed) for this contact."""
    reason: str | None
    error: str | None
    correlation_id: str | None
    first_attempt_at: str | None
    last_attempt_at: str | None
    finished_at: str | None
    next_attempt_at: str | None
    """ISO 8601 UTC times."""

    def to_json(self) -> dict[str, object]:
        return attrs.asdict(self)


RESULT_FIELDS: tuple[str, ...] = tuple(field.name for field in attrs.fields(ContactResult))


def iter_results(journal: str | os.PathLike[str]) -> Iterator[ContactResult]:
    """Every contact's result, in input order, streamed from the journal.

    Safe while the campaign runs (it reads the last committed state).
    """
    store = Journal.open(journal, owner=False)
    try:
        for row in store.result_rows():
            yield _result(row)
    finally:
        store.close()


def export_results(
    journal: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    format: ResultFormat | None = None,
) -> int:
    """Write one record per contact to ``path`` (JSONL or CSV, from its extension).

    Returns the number of records written. The file is written next to its final
    name and renamed into place, so a reader never sees half of it.
    """
    target = Path(path)
    kind = format or _format_from(target)
    partial = target.with_name(target.name + ".partial")
    count = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            if kind == "csv":
                writer = csv.DictWriter(out, fieldnames=RESULT_FIELDS)
                writer.writeheader()
                for result in iter_results(journal):
                    writer.writerow(result.to_json())
                    count += 1
            else:
                for result in iter_results(journal):
                    out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                    count += 1
        partial.replace(target)
    except BaseException:
        # A full disk mid-file: leave nothing half-written; the journal still holds it all.
        partial.unlink(missing_ok=True)
        raise
    return count


def _format_from(path: Path) -> ResultFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path.name!r}: use .jsonl or .csv, or format=")


#: The latest time a datetime can show, in any zone (a day before year 10000).
_LATEST_TIME = 253402214400.0


def _iso(value: object) -> str | None:
    """A stored time as ISO 8601, or None when it is none (or not a time at all).

    Reading never fails on a stored value: a time past year 9999 (a 0.1 journal may
    hold a retry 10^12 s away) shows as the latest one a datetime holds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    seconds = min(max(float(value), 0.0), _LATEST_TIME)
    return utc_datetime(seconds).isoformat().replace("+00:00", "Z")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _result(row: sqlite3.Row) -> ContactResult:
    state = _text(row["state"]) or ContactState.UNKNOWN.value
    return ContactResult(
        contact_id=_text(row["contact_id"]),
        row=row["row"] if isinstance(row["row"], int) else None,
        to_number=_text(row["to_number"]),
        state=state,
        call_sid=_text(row["call_sid"]),
        attempts=_count(row["attempts"]),
        reason=_text(row["reason"]),
        error=_text(row["error"]),
        correlation_id=_text(row["correlation_id"]),
        first_attempt_at=_iso(row["first_attempt_at"]),
        last_attempt_at=_iso(row["last_attempt_at"]),
        finished_at=_iso(row["finished_at"]),
        next_attempt_at=_iso(row["next_due"]) if state == ContactState.SCHEDULED else None,
    )
