"""Generated hostile files: every data row gives exactly one Contact or RowError, never a
crash or a hang; a file is refused only as a whole, with ContactFileError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyout._campaign import Contact, ContactFileError, ContactItem, RowError, iter_contacts
from polyout._campaign._records import MAX_RECORD_BYTES

pytestmark = pytest.mark.reliability

HEADER = b"phone,id,note\n"
ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16-le", "shift_jis", "koi8-r", "utf-32"]
_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def hostile_cells(draw: st.DrawFn) -> bytes:
    """A cell in any encoding, with NULs, BOMs and sometimes past the size limit.

    Quotes and line breaks are taken out, so every physical line is one record and the
    expected rows can be worked out from the bytes alone.
    """
    text = draw(st.text(max_size=12))
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    data += draw(st.sampled_from([b"", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xe9", b","]))
    if draw(st.integers(0, 30)) == 0:
        data += b"x" * (MAX_RECORD_BYTES + 1)
    return data.replace(b'"', b"'").replace(b"\n", b" ").replace(b"\r", b" ")


@st.composite
def hostile_csv(draw: st.DrawFn) -> bytes:
    rows = draw(
        st.lists(
            st.one_of(
                st.lists(hostile_cells(), min_size=0, max_size=5),  # ragged, blank, hostile
                st.tuples(st.just(b"+447700900123"), st.just(b"x"), hostile_cells()).map(list),
            ),
            max_size=12,
        )
    )
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    body = ending.join(b",".join(cells) for cells in rows)
    return bom + HEADER + body + draw(st.sampled_from([b"", ending]))


def expected_rows(content: bytes) -> list[int]:
    """The line numbers that must each give one item: every line that is not blank."""
    rows = []
    for number, line in enumerate(content.split(b"\n")[1:], start=2):
        line = line.removesuffix(b"\r")
        if len(line) > MAX_RECORD_BYTES or b"\x00" in line:
            rows.append(number)
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            rows.append(number)
            continue
        if any(cell.strip() for cell in text.split(",")):
            rows.append(number)
    return rows


@_SETTINGS
@given(content=hostile_csv())
def test_each_csv_row_gives_exactly_one_item(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "hostile.csv"
    path.write_bytes(content)
    items = list(iter_contacts(path))
    assert [item.row for item in items] == expected_rows(content)
    lines = content.split(b"\n")
    for item in items:
        if isinstance(item, Contact):
            # Nothing shifted between cells: the phone is the line's first cell.
            assert item.row is not None
            assert item.phone == lines[item.row - 1].split(b",")[0].decode()
        else:
            assert isinstance(item, RowError)
            assert item.reason


@_SETTINGS
@given(content=st.binary(max_size=400), quote_heavy=st.booleans())
def test_arbitrary_bytes_never_crash_or_hang(
    tmp_path: Path, content: bytes, quote_heavy: bool
) -> None:
    if quote_heavy:  # make quotes, delimiters and line breaks common
        content = content.translate(bytes.maketrans(b"abcdefgh", b'"",,\n\n\r;'))
    for name in ("any.csv", "any.jsonl"):
        path = tmp_path / name
        path.write_bytes(HEADER + content if name.endswith(".csv") else content)
        items: list[ContactItem] | ContactFileError
        try:
            items = list(iter_contacts(path))
        except ContactFileError as exc:
            items = exc
        if isinstance(items, ContactFileError):
            assert "\n" not in str(items)
            continue
        rows = [item.row for item in items if item.row is not None]
        assert len(rows) == len(items)
        assert rows == sorted(set(rows))
        line_count = (HEADER + content).count(b"\n") + 1
        assert all(1 <= row <= line_count for row in rows)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@st.composite
def hostile_jsonl_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        contact = {"phone": draw(st.text(max_size=15)), "metadata": draw(json_values)}
        return json.dumps(contact).encode()
    if kind == 1:
        return json.dumps(draw(json_values)).encode()
    if kind == 2:
        return draw(st.binary(max_size=30)).replace(b"\n", b"")
    if kind == 3:
        return draw(st.sampled_from([b"", b"  ", b"\t", b"\r"]))
    return b'{"phone": "' + b"9" * (MAX_RECORD_BYTES + 1) + b'"}'


@_SETTINGS
@given(lines=st.lists(hostile_jsonl_lines(), max_size=12))
def test_each_jsonl_line_gives_exactly_one_item(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "hostile.jsonl"
    # A first line with control bytes refuses the file as binary: keep it plain here.
    path.write_bytes(b'{"phone": "+447700900123"}\n' + b"\n".join(lines))
    items = list(iter_contacts(path))
    expected = [1] + [number for number, line in enumerate(lines, start=2) if not _blank(line)]
    assert [item.row for item in items] == expected


def _blank(line: bytes) -> bool:
    if len(line) > MAX_RECORD_BYTES or b"\x00" in line:
        return False
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False
