"""A campaign's results: one record per contact, read from its store, as JSONL or CSV.

Records hold what an operator needs to act on the outcome and nothing more (no
metadata: it may be personal data the results file does not need). The full number
is there, because the operator must be able to tell who was called; it never
reaches a log line.

Everything reads through the store contract (``StoredCampaign.results``), so a report
is the same on SQLite and PostgreSQL. :func:`iter_results` and :func:`export_results`
are the synchronous doors for scripts: they run the store on a thread of their own.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

import attrs

from polyout._campaign._states import ContactState

if TYPE_CHECKING:  # the store's modules import the package, which imports this one
    from polyout._campaign._addressing import StoreRef
    from polyout._campaign._store import StoredCampaign

__all__ = [
    "RESULT_FIELDS",
    "ContactResult",
    "ResultsFile",
    "export_results",
    "iter_results",
    "stored_results",
]

ResultFormat = Literal["jsonl", "csv"]
T = TypeVar("T")
R = TypeVar("R")
#: Results handed from the store's loop to a synchronous reader at a time.
_PAGE = 500


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

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ContactResult:
        """A store's record (``StoredCampaign.results``); a value of the wrong type (a
        damaged file) reads as none rather than failing the whole report."""
        state = _text(record.get("state")) or ContactState.UNKNOWN.value
        row = record.get("row")
        return cls(
            contact_id=_text(record.get("contact_id")),
            row=row if isinstance(row, int) and not isinstance(row, bool) else None,
            to_number=_text(record.get("to_number")),
            state=state,
            call_sid=_text(record.get("call_sid")),
            attempts=_count(record.get("attempts")),
            reason=_text(record.get("reason")),
            error=_text(record.get("error")),
            correlation_id=_text(record.get("correlation_id")),
            first_attempt_at=_text(record.get("first_attempt_at")),
            last_attempt_at=_text(record.get("last_attempt_at")),
            finished_at=_text(record.get("finished_at")),
            next_attempt_at=(
                _text(record.get("next_attempt_at")) if state == ContactState.SCHEDULED else None
            ),
        )


RESULT_FIELDS: tuple[str, ...] = tuple(field.name for field in attrs.fields(ContactResult))


async def stored_results(stored: StoredCampaign) -> AsyncIterator[ContactResult]:
    """Every contact's result, in input order, streamed from the store."""
    async for record in stored.results():
        yield ContactResult.from_record(record)


def iter_results(
    journal: str | os.PathLike[str], *, campaign: str | None = None
) -> Iterator[ContactResult]:
    """Every contact's result, in input order, streamed from a journal (or from the
    store URL ``journal`` names, with ``campaign``).

    Safe while the campaign runs: it reads the last committed state, taking no lock.
    """
    from polyout._campaign._addressing import journal_ref, parse_store

    ref = journal_ref(journal) if campaign is None else parse_store(journal, campaign)
    for page in _in_thread(_pages(ref)):
        yield from page


async def _pages(ref: StoreRef) -> AsyncIterator[list[ContactResult]]:
    from polyout._campaign._addressing import opened_campaign

    async with opened_campaign(ref, read_only=True) as (_, stored):
        page: list[ContactResult] = []
        async for result in stored_results(stored):
            page.append(result)
            if len(page) >= _PAGE:
                yield page
                page = []
        if page:
            yield page


def _in_thread(pages: AsyncIterator[T]) -> Iterator[T]:
    """``pages`` read by a loop on a thread of its own: the caller may be anywhere,
    inside a running loop too (a test, a notebook)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="polyout-results", daemon=True)
    thread.start()

    def call(step: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(step, loop).result()

    async def following() -> T:
        return await pages.__anext__()

    async def closing() -> None:
        await pages.aclose()  # type: ignore[attr-defined]

    try:
        while True:
            try:
                page = call(following())
            except StopAsyncIteration:
                return
            yield page
    finally:
        try:
            call(closing())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()


def export_results(
    journal: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    format: ResultFormat | None = None,
    campaign: str | None = None,
) -> int:
    """Write one record per contact to ``path`` (JSONL or CSV, from its extension).

    Returns the number of records written. The file is written next to its final
    name and renamed into place, so a reader never sees half of it.
    """
    with ResultsFile(path, format=format) as out:
        for result in iter_results(journal, campaign=campaign):
            out.write(result)
    return out.count


class ResultsFile:
    """A results file being written: whole under its name once the ``with`` ends well,
    nothing at all if it ends with an error (a full disk mid-file: the store still
    holds it all)."""

    def __init__(self, path: str | os.PathLike[str], *, format: ResultFormat | None = None):
        self.path = Path(path)
        self.kind = format or _format_from(self.path)
        self.count = 0
        self._partial = self.path.with_name(self.path.name + ".partial")
        self._out: IO[str] | None = None
        self._csv: csv.DictWriter[str] | None = None

    def __enter__(self) -> ResultsFile:
        self._out = self._partial.open("w", encoding="utf-8", newline="")
        if self.kind == "csv":
            self._csv = csv.DictWriter(self._out, fieldnames=RESULT_FIELDS)
            self._csv.writeheader()
        return self

    def write(self, result: ContactResult) -> None:
        assert self._out is not None
        if self._csv is not None:
            self._csv.writerow(result.to_json())
        else:
            self._out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        self.count += 1

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        assert self._out is not None
        try:
            self._out.close()
            if error is None:
                self._partial.replace(self.path)
        except BaseException:
            self._partial.unlink(missing_ok=True)
            raise
        if error is not None:
            self._partial.unlink(missing_ok=True)


def _format_from(path: Path) -> ResultFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path.name!r}: use .jsonl or .csv, or format=")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
