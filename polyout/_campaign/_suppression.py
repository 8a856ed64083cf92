"""Suppression lists: numbers that must never be called, normalised to E.164 once.

A number that cannot be read refuses the whole list: skipping it could ring someone who
asked not to be called.
"""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterable, Iterator

from polyout._campaign._columns import delimiter_of, find_role, split_header
from polyout._campaign._contacts import ContactFileError
from polyout._campaign._records import (
    MAX_RECORD_BYTES,
    Line,
    check_looks_like_text,
    csv_records,
    decode,
    open_binary,
    read_lines,
)
from polyout._errors import ValidationError
from polyout._phone import to_e164

__all__ = ["SuppressionList", "load_suppression_list", "normalized_suppression"]


class SuppressionList(frozenset[str]):
    """E.164 numbers never to call, already normalised (so a Planner need not re-parse)."""


def normalized_suppression(numbers: Iterable[str]) -> frozenset[str]:
    if isinstance(numbers, SuppressionList):
        return numbers
    normalized = set()
    for position, entry in enumerate(numbers, start=1):
        try:
            normalized.add(to_e164(entry))
        except ValidationError as exc:
            raise ValueError(
                f"suppression entry {position} is not a usable phone number ({exc.reason})"
            ) from None
    return frozenset(normalized)


def load_suppression_list(path: str | os.PathLike[str]) -> SuppressionList:
    """The numbers of a suppression file, in E.164: refuses the file over any bad entry.

    Either one number a line (``#`` starts a comment), or a CSV file whose header has a
    phone column (its other columns are ignored, lines starting with ``#`` too). Numbers
    need their ``+`` and country code. A number that cannot be read refuses the whole
    file: skipping it could ring someone who asked not to be called.
    """
    name = os.fspath(path)
    with open_binary(path) as stream:
        check_looks_like_text(stream, name)
        lines = read_lines(stream)
        for line in lines:
            if text := _suppression_text(line, name):
                break
        else:
            return SuppressionList()
        delimiter = delimiter_of(text)
        cells = split_header(text, delimiter, name)
        column = find_role(cells, "phone", name)
        if column is not None:
            return SuppressionList(_numbers_in_csv(lines, column, delimiter, name))
        if len(cells) > 1:
            raise ContactFileError(
                f"{name}: no phone column in the header (expected one named 'phone')"
            )
        first = _suppressed_number(text, line.number, name)
        return SuppressionList(itertools.chain([first], _numbers_per_line(lines, name)))


def _suppression_text(line: Line, name: str) -> str:
    """The line's content without comment or spaces ("" for nothing), or ContactFileError."""
    if line.data is None:
        raise ContactFileError(f"{name}, line {line.number}: longer than {MAX_RECORD_BYTES} bytes")
    try:
        text = decode(line.data)
    except ValueError as exc:
        raise ContactFileError(f"{name}, line {line.number}: {exc}") from None
    return text.split("#", 1)[0].strip()


def _numbers_per_line(lines: Iterable[Line], name: str) -> Iterable[str]:
    for line in lines:
        text = _suppression_text(line, name)
        if text:
            yield _suppressed_number(text, line.number, name)


def _numbers_in_csv(lines: Iterator[Line], column: int, delimiter: str, name: str) -> Iterable[str]:
    for record in csv_records(lines, delimiter.encode()):
        where = f"{name}, line {record.number}"
        if record.data is None:
            raise ContactFileError(f"{where}: {record.problem}")
        try:
            text = decode(record.data)
            cells = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])
        except (ValueError, csv.Error) as exc:
            raise ContactFileError(f"{where}: {exc}") from None
        if not cells or cells[0].lstrip().startswith("#"):
            continue
        entry = cells[column].strip() if column < len(cells) else ""
        if entry:
            yield _suppressed_number(entry, record.number, name)


def _suppressed_number(entry: str, number: int, name: str) -> str:
    try:
        return to_e164(entry)
    except ValidationError as exc:
        raise ContactFileError(
            f"{name}, line {number}: not a usable phone number ({exc.reason})"
        ) from None
