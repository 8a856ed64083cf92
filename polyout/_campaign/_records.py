"""Reading a contact file as bytes, line by line, so that one bad row cannot stop the rest.

Everything is bounded: a line or a CSV record longer than :data:`MAX_RECORD_BYTES` is
skipped without being held in memory, and a quoted CSV field may span at most
:data:`MAX_RECORD_LINES` lines. Decoding happens per record, so a single row in another
encoding becomes that row's error instead of ending the file.
"""

from __future__ import annotations

import io
import os
import re
from collections import deque
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from polyout._campaign._contacts import ContactFileError

__all__ = [
    "MAX_RECORD_BYTES",
    "MAX_RECORD_LINES",
    "Line",
    "Record",
    "check_looks_like_text",
    "csv_records",
    "decode",
    "open_binary",
    "read_lines",
]

#: Far above any valid contact (its metadata must stay under 26 KB as base64), and no
#: more than the csv module's default field size limit, so that limit never decides.
MAX_RECORD_BYTES = 128 * 1024
#: A cell that spans this many lines is a stray quote, not an address: a field with line
#: breaks cannot travel as a SIP header anyway.
MAX_RECORD_LINES = 100

_SKIP_CHUNK = 64 * 1024
_BOM = b"\xef\xbb\xbf"
# Bytes that never appear in the first line of a text file (tab, CR, LF and form feed do).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive; an .xlsx workbook is one: export it as CSV UTF-8",
    b"\xd0\xcf\x11\xe0": "an old Excel or Office document: export it as CSV UTF-8",
    b"\x1f\x8b": "gzip-compressed: decompress it first",
    b"%PDF": "a PDF document",
    b"SQLite format 3\x00": "an SQLite database",
}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class Line(NamedTuple):
    """A physical line with its line break, or ``data=None`` when it was too long to keep."""

    number: int
    data: bytes | None


class Record(NamedTuple):
    """One CSV record (its lines joined) starting at line ``number``, or why it has none."""

    number: int
    data: bytes | None
    problem: str | None = None


def open_binary(path: str | os.PathLike[str]) -> io.BufferedReader:
    try:
        return open(path, "rb")  # the reading generator closes it, also when abandoned
    except OSError as exc:
        raise ContactFileError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None


def check_looks_like_text(stream: io.BufferedReader, name: str) -> None:
    """Refuse, before reading any row, a file that is clearly not UTF-8 text."""
    start = stream.peek(4096)[:4096]
    for signature, what in _BINARY_SIGNATURES.items():
        if start.startswith(signature):
            raise ContactFileError(f"{name} looks binary ({what})")
    if start.startswith(_UTF16_BOMS):
        raise ContactFileError(f"{name} is UTF-16 text: save it as UTF-8")
    first_line = start.split(b"\n", 1)[0]
    if _CONTROL.search(first_line):
        raise ContactFileError(
            f"{name} looks binary (control bytes in its first line; "
            "if it is UTF-16 text, save it as UTF-8)"
        )


def read_lines(stream: BinaryIO, limit: int = MAX_RECORD_BYTES) -> Iterator[Line]:
    """Every physical line, numbered from 1, with a leading UTF-8 BOM removed.

    A line longer than ``limit`` bytes is read past in chunks and reported with no data.
    """
    number = 0
    while chunk := stream.readline(limit + 1):
        number += 1
        if number == 1 and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        if len(chunk) > limit and not chunk.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield Line(number, None)
        else:
            yield Line(number, chunk)


def _skip_rest_of_line(stream: BinaryIO) -> None:
    while (chunk := stream.readline(_SKIP_CHUNK)) and not chunk.endswith(b"\n"):
        pass


def csv_records(lines: Iterator[Line], delimiter: bytes) -> Iterator[Record]:
    """Group lines into CSV records: a record goes on while a quoted field is open.

    A record that would pass :data:`MAX_RECORD_BYTES` or :data:`MAX_RECORD_LINES` lines
    while a quote is still open, or reaches the end of the file that way, started with a
    stray quote: its first line becomes an error and the lines after it are read again as
    records of their own, so a single stray quote costs one row, not the rest of the file.
    """
    replay: deque[Line] = deque()
    pending: list[Line] = []  # the lines of a record whose quoted field is still open
    size = 0
    inside_quotes = False
    while True:
        line = replay.popleft() if replay else next(lines, None)
        if line is None:  # the end of the file
            if not pending:
                return
            stray = pending
        elif line.data is None:  # a line too long to keep
            if not pending:
                yield Record(line.number, None, f"is longer than {MAX_RECORD_BYTES} bytes")
                continue
            stray = [*pending, line]
        else:
            pending.append(line)
            size += len(line.data)
            inside_quotes = _ends_inside_quotes(line.data, inside_quotes, delimiter)
            if not inside_quotes:
                yield Record(pending[0].number, b"".join(part.data or b"" for part in pending))
                pending, size = [], 0
                continue
            if size <= MAX_RECORD_BYTES and len(pending) <= MAX_RECORD_LINES:
                continue
            stray = pending
        yield Record(stray[0].number, None, 'opens a quoted field (") that never closes')
        replay.extendleft(reversed(stray[1:]))
        pending, size, inside_quotes = [], 0, False


def _ends_inside_quotes(line: bytes, inside: bool, delimiter: bytes) -> bool:
    """Whether a CSV line ends inside a quoted field, by the csv module's own rules.

    A quote opens a field only at the start of a field; inside one, ``""`` is a quote and a
    lone quote closes it; whatever follows a closing quote up to the delimiter is plain text.
    """
    if not inside and b'"' not in line:
        return False
    position = 0
    while True:
        if inside:
            closing = _closing_quote(line, position)
            if closing < 0:
                return True
            inside = False
            position = line.find(delimiter, closing + 1)
        elif line.startswith(b'"', position):
            inside = True
            position += 1
            continue
        else:
            position = line.find(delimiter, position)
        if position < 0:
            return False
        position += 1


def _closing_quote(line: bytes, position: int) -> int:
    """Index of the quote that closes a quoted field (``""`` is an escaped quote), or -1."""
    while (quote := line.find(b'"', position)) >= 0:
        if not line.startswith(b'"', quote + 1):
            return quote
        position = quote + 2
    return -1


def decode(data: bytes) -> str:
    """UTF-8 text of a record, or raise ValueError with a reason fit for a row error."""
    if b"\x00" in data:
        raise ValueError("contains a NUL byte")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save the file as UTF-8"
        ) from None
