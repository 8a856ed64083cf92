"""Contacts of a CSV file with a header row (see :mod:`polyout._campaign._columns`).

Rows are numbered by the line their record starts on (the header is line 1). Lines that
are empty, or hold only delimiters and spaces, are skipped.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Generator, Iterable, Sequence

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

__all__ = ["read_csv"]


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
        not_before=_cell(cells, columns.not_before),
        not_after=_cell(cells, columns.not_after),
        subdivision=_cell(cells, columns.subdivision),
    )


def _cell(cells: Sequence[str], index: int | None) -> str | None:
    return (cells[index].strip() or None) if index is not None else None
