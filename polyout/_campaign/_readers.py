"""Streaming contact readers: CSV and JSON Lines files, and any (async) iterable of contacts.

Every data row yields exactly one :class:`Contact` or :class:`RowError`, in file order;
blank lines are skipped but still counted, so row numbers stay the file's line numbers.
A file that cannot be read at all raises :class:`ContactFileError` from the first
``next()``, before any row. Memory stays flat whatever the size of the file.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import threading
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Sequence
from typing import Any, Literal, TypeAlias

from polyout._campaign._columns import Columns, delimiter_of, parse_header, split_header
from polyout._campaign._contacts import (
    Contact,
    ContactFileError,
    ContactItem,
    RowError,
    fallback_id,
)
from polyout._campaign._records import (
    MAX_RECORD_BYTES,
    Line,
    Record,
    check_looks_like_text,
    csv_records,
    decode,
    open_binary,
    read_lines,
)

__all__ = [
    "ContactFormat",
    "ContactSource",
    "aiter_contacts",
    "format_of",
    "iter_contacts",
    "read_csv",
    "read_jsonl",
]

ContactSource: TypeAlias = (
    Iterable[ContactItem] | AsyncIterable[ContactItem] | str | os.PathLike[str]
)
ContactFormat: TypeAlias = Literal["csv", "jsonl"]

_EXTENSIONS: dict[str, ContactFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json-lines": "jsonl",
}
_JSONL_KEYS = ("id", "phone", "country_code", "timezone", "metadata")
# Rows read per trip to the worker thread: large enough to amortise the hop, small
# enough that the event loop is never held for more than a few milliseconds.
_BATCH_SIZE = 1000


def format_of(path: str | os.PathLike[str]) -> ContactFormat:
    """The format a file's extension names, or ContactFileError."""
    name = os.fspath(path)
    extension = os.path.splitext(name)[1].lower()
    if extension not in _EXTENSIONS:
        known = ", ".join(_EXTENSIONS)
        raise ContactFileError(
            f"{name}: cannot tell the format from the extension {extension!r} "
            f"(known: {known}); name the format explicitly"
        )
    return _EXTENSIONS[extension]


def iter_contacts(
    path: str | os.PathLike[str], *, format: ContactFormat | None = None
) -> Generator[ContactItem, None, None]:
    """Stream the contacts of a CSV or JSON Lines file (format from the extension if None)."""
    chosen = format_of(path) if format is None else format
    if chosen == "csv":
        return read_csv(path)
    if chosen == "jsonl":
        return read_jsonl(path)
    raise ValueError(f"format must be 'csv' or 'jsonl', not {format!r}")


# -- CSV ---------------------------------------------------------------------------------


def read_csv(path: str | os.PathLike[str]) -> Generator[ContactItem, None, None]:
    """Contacts of a CSV file with a header row; see :mod:`polyout._campaign._columns`."""
    name = os.fspath(path)
    with open_binary(path) as stream:
        check_looks_like_text(stream, name)
        lines = read_lines(stream)
        header = _header_text(lines, name)
        delimiter = delimiter_of(header)
        columns = parse_header(split_header(header, delimiter, name), name)
        for record in csv_records(lines, delimiter.encode()):
            item = _csv_item(record, columns, delimiter)
            if item is not None:
                yield item


def _header_text(lines: Iterable[Line], name: str) -> str:
    for line in lines:
        if line.data is None:
            raise ContactFileError(
                f"{name}: line {line.number} is longer than {MAX_RECORD_BYTES} bytes; "
                "is this a CSV file?"
            )
        try:
            text = decode(line.data)
        except ValueError as exc:
            raise ContactFileError(f"{name}: the header row {exc}") from None
        if not text.strip():
            continue
        header = text.rstrip("\r\n")
        if "\r" in header:
            raise ContactFileError(
                f"{name}: its lines end with a carriage return alone (old Mac format): "
                "save it with Windows or Unix line breaks"
            )
        return header
    raise ContactFileError(f"{name}: no header row (the file is empty)")


def _csv_item(record: Record, columns: Columns, delimiter: str) -> ContactItem | None:
    """The record's contact or error; None for a blank line (or one of only delimiters)."""
    if record.data is None:
        return RowError(record.number, record.problem or "cannot be read")
    try:
        text = decode(record.data)
    except ValueError as exc:
        return RowError(record.number, str(exc))
    try:
        cells = next(csv.reader([_without_line_break(text)], delimiter=delimiter), [])
    except csv.Error as exc:
        # The csv module's own wording for this one is advice for programmers.
        why = "a line break inside an unquoted cell" if "new-line" in str(exc) else str(exc)
        return RowError(record.number, f"cannot be read as CSV ({why})")
    if not any(cell.strip() for cell in cells):
        return None
    if len(cells) != columns.width:
        return RowError(
            record.number, f"has {len(cells)} cells where the header has {columns.width}"
        )
    return _csv_contact(cells, columns, record.number)


def _without_line_break(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def _csv_contact(cells: Sequence[str], columns: Columns, row: int) -> Contact:
    return Contact(
        id=_cell(cells, columns.id) or fallback_id(row),
        phone=cells[columns.phone],
        country_code=_cell(cells, columns.country_code),
        timezone=_cell(cells, columns.timezone),
        # Empty cells are omitted: "no value" is not a value to send to the agent.
        metadata={key: cells[index] for index, key in columns.metadata if cells[index].strip()},
        row=row,
    )


def _cell(cells: Sequence[str], index: int | None) -> str | None:
    return (cells[index].strip() or None) if index is not None else None


# -- JSON Lines --------------------------------------------------------------------------


def read_jsonl(path: str | os.PathLike[str]) -> Generator[ContactItem, None, None]:
    """Contacts of a JSON Lines file: one object a line with the keys of :data:`_JSONL_KEYS`."""
    name = os.fspath(path)
    with open_binary(path) as stream:
        check_looks_like_text(stream, name)
        for line in read_lines(stream):
            item = _jsonl_item(line)
            if item is not None:
                yield item


class _RepeatedKey(ValueError):
    pass


def _jsonl_item(line: Line) -> ContactItem | None:
    if line.data is None:
        return RowError(line.number, f"is longer than {MAX_RECORD_BYTES} bytes")
    try:
        text = decode(line.data)
    except ValueError as exc:
        return RowError(line.number, str(exc))
    if not text.strip():
        return None
    try:
        value = json.loads(text, object_pairs_hook=_refuse_repeated_keys)
    except _RepeatedKey as exc:
        return RowError(line.number, str(exc))
    except json.JSONDecodeError as exc:
        return RowError(line.number, f"is not valid JSON ({exc.msg} at column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # a huge integer, or nesting too deep
        return RowError(line.number, f"is not valid JSON ({_shown(str(exc), 80)})")
    if not isinstance(value, dict):
        return RowError(line.number, f"is a JSON {_json_type(value)}, not an object")
    return _jsonl_contact(value, line.number)


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of repeated keys silently: which "phone" was meant is unknowable.
    result = dict(pairs)
    if len(result) != len(pairs):
        repeated = next(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise _RepeatedKey(f"has the key {_shown(repeated)} twice in one object")
    return result


def _jsonl_contact(value: dict[str, Any], row: int) -> ContactItem:
    contact_id, phone = value.get("id"), value.get("phone")
    known_id = contact_id.strip() if isinstance(contact_id, str) and contact_id.strip() else None
    problem = _jsonl_problem(value)
    if problem is not None:
        return RowError(
            row, problem, contact_id=known_id, phone=phone if isinstance(phone, str) else None
        )
    return Contact(
        id=known_id or fallback_id(row),
        phone=value["phone"],
        country_code=_optional_text(value.get("country_code")),
        timezone=_optional_text(value.get("timezone")),
        metadata=value.get("metadata") or {},
        row=row,
    )


def _jsonl_problem(value: dict[str, Any]) -> str | None:
    """Why an object is not a contact, or None. Nothing is coerced: 42 is not "42"."""
    for key in value:
        if key not in _JSONL_KEYS:
            return (
                f"has the unknown key {_shown(key)} "
                f"(a contact has only {', '.join(_JSONL_KEYS)}; put other values in metadata)"
            )
    if value.get("phone") is None:
        return "has no phone"
    texts = []
    for key in ("id", "phone", "country_code", "timezone"):
        if value.get(key) is not None and not isinstance(value[key], str):
            return f"{key} must be a string, not a JSON {_json_type(value[key])}"
        texts.append(value.get(key) or "")
    metadata = value.get("metadata") or {}
    if not isinstance(metadata, dict):
        return f"metadata must be an object, not a JSON {_json_type(metadata)}"
    for key, item in metadata.items():
        if not isinstance(item, str):
            return f"metadata {_shown(key)} must be a string, not a JSON {_json_type(item)}"
        texts += (key, item)
    if not all(text.isascii() or _is_unicode(text) for text in texts):
        # json reads "\\ud800" as a lone surrogate: not text, and no encoder downstream takes it.
        return "contains a lone UTF-16 surrogate (\\ud800 to \\udfff), which is not text"
    return None


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_text(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    names = {str: "string", list: "array", dict: "object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _shown(text: str, limit: int = 40) -> str:
    """A name for a message: quoted, and cut short, since a hostile row chooses it."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


# -- Any source, without blocking the event loop -----------------------------------------


async def aiter_contacts(source: ContactSource) -> AsyncIterator[ContactItem]:
    """The contacts of a file path, an async iterable, or a plain iterable, asynchronously.

    A file is read in a worker thread, a batch of rows at a time. A plain iterable is
    iterated in place (it may be bound to this thread, like a database cursor), giving
    the event loop a turn after every batch.
    """
    if isinstance(source, (str, os.PathLike)):
        batches = _ThreadedBatches(iter_contacts(source))
        try:
            while batch := await asyncio.to_thread(batches.take, _BATCH_SIZE):
                for item in batch:
                    yield item
        finally:
            batches.close()
    elif isinstance(source, AsyncIterable):
        async for item in source:
            yield item
    else:
        for count, item in enumerate(source, start=1):
            yield item
            if count % _BATCH_SIZE == 0:
                await asyncio.sleep(0)


class _ThreadedBatches:
    """A generator advanced in worker threads, one batch at a time, closable at any moment.

    When the consumer is cancelled while a batch is being read, closing the generator
    from the event loop would collide with the thread still running it; instead the
    thread closes it as soon as its batch is done.
    """

    def __init__(self, items: Generator[ContactItem, None, None]) -> None:
        self._items = items
        self._lock = threading.Lock()
        self._closing = False

    def take(self, size: int) -> list[ContactItem]:
        with self._lock:
            batch = [] if self._closing else list(itertools.islice(self._items, size))
        if self._closing:
            self._close_now()
        return batch

    def close(self) -> None:
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._items.close()
            finally:
                self._lock.release()

    def _close_now(self) -> None:
        with self._lock:
            self._items.close()
