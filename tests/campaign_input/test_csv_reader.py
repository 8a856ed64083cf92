"""CSV contact files: columns, metadata, row numbers, and each kind of bad row or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyout._campaign import Contact, ContactFileError, ContactItem, RowError, iter_contacts
from polyout._campaign._records import MAX_RECORD_BYTES, MAX_RECORD_LINES
from tests.campaign_input.conftest import WriteFile


def read(path: Path) -> list[ContactItem]:
    return list(iter_contacts(path))


def contact(item: ContactItem) -> Contact:
    assert isinstance(item, Contact), item
    return item


def error(item: ContactItem) -> RowError:
    assert isinstance(item, RowError), item
    return item


def test_columns_become_contact_fields_and_the_rest_metadata(write: WriteFile) -> None:
    path = write(
        "c.csv",
        "id,phone,country_code,timezone,first_name,appointment\n"
        "A1,+447700900123,GB,Europe/London,Ann,Mon 10:00\n",
    )
    [item] = read(path)
    assert item == Contact(
        id="A1",
        phone="+447700900123",
        country_code="GB",
        timezone="Europe/London",
        metadata={"first_name": "Ann", "appointment": "Mon 10:00"},
        row=2,
    )


def test_header_names_match_without_case_or_spaces_and_aliases_fill_in(write: WriteFile) -> None:
    path = write("c.csv", " Phone Number ,ID, Time-Zone ,Country_Code\n07700900123,x,UTC,gb\n")
    item = contact(read(path)[0])
    assert (item.phone, item.id, item.timezone, item.country_code) == (
        "07700900123",
        "x",
        "UTC",
        "gb",
    )
    assert item.metadata == {}


def test_the_main_phone_name_wins_over_an_alias_which_stays_metadata(write: WriteFile) -> None:
    item = contact(read(write("c.csv", "number,phone\n42,+447700900123\n"))[0])
    assert item.phone == "+447700900123"
    assert item.metadata == {"number": "42"}


def test_two_aliases_and_no_main_name_is_ambiguous(write: WriteFile) -> None:
    path = write("c.csv", "phone_number,to_number\n+447700900123,+447700900124\n")
    with pytest.raises(ContactFileError, match=r"'phone_number' and 'to_number'.*'phone'"):
        read(path)


def test_empty_cells_are_left_out_of_metadata_and_ids_fall_back_to_the_row(
    write: WriteFile,
) -> None:
    path = write("c.csv", "phone,id,note,tz\n+447700900123,,  ,\n")
    item = contact(read(path)[0])
    assert item.id == "row-2"
    assert item.metadata == {}
    assert item.timezone is None


def test_cells_keep_their_text_but_ids_and_codes_are_trimmed(write: WriteFile) -> None:
    item = contact(read(write("c.csv", "phone,id,note\n +447700900123 , a1 , hi there \n"))[0])
    assert item.phone == " +447700900123 "
    assert item.id == "a1"
    assert item.metadata == {"note": " hi there "}


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(write: WriteFile, delimiter: str) -> None:
    text = delimiter.join(["phone", "name"]) + "\n" + delimiter.join(["+447700900123", "Ann"])
    item = contact(read(write("c.csv", text))[0])
    assert item.metadata == {"name": "Ann"}


def test_rows_are_numbered_by_line_blank_lines_counted_but_skipped(write: WriteFile) -> None:
    path = write(
        "c.csv",
        '\n\nphone,note\r\n+447700900123,a\r\n\r\n,\r\n   ,  \r\n+447700900124,"two\nlines"\n'
        "+447700900125,c",
    )
    items = read(path)
    assert [item.row for item in items] == [4, 8, 10]
    assert [contact(item).id for item in items] == ["row-4", "row-8", "row-10"]
    assert contact(items[1]).metadata == {"note": "two\nlines"}


def test_a_bom_is_not_part_of_the_first_column_name(write: WriteFile) -> None:
    item = contact(read(write("c.csv", b"\xef\xbb\xbfphone,id\n+447700900123,x\n"))[0])
    assert item.id == "x"


def test_quotes_inside_cells_follow_csv_rules(write: WriteFile) -> None:
    path = write("c.csv", 'phone,note,height\n+447700900123,"say ""hi""",5\'10"\n')
    item = contact(read(path)[0])
    assert item.metadata == {"note": 'say "hi"', "height": "5'10\""}


def test_ragged_rows_are_row_errors(write: WriteFile) -> None:
    items = read(
        write("c.csv", "phone,a,b\n+447700900123,1\n+447700900124,1,2,3\n+4477009001,1,2\n")
    )
    assert [(item.row, item.reason) for item in map(error, items[:2])] == [
        (2, "has 2 cells where the header has 3"),
        (3, "has 4 cells where the header has 3"),
    ]
    assert contact(items[2]).row == 4


def test_nul_bytes_and_other_encodings_spoil_only_their_row(write: WriteFile) -> None:
    path = write(
        "c.csv",
        b"phone,name\n+447700900123,A\x00n\n+447700900124,Jos\xe9\n+447700900125,Zo\xc3\xab\n",
    )
    bad_nul, bad_latin1, good = read(path)
    assert error(bad_nul).reason == "contains a NUL byte"
    assert error(bad_latin1).reason.startswith("is not valid UTF-8 (byte 0xe9")
    assert contact(good).metadata == {"name": "Zoë"}


def test_a_huge_line_is_skipped_as_one_row_error(write: WriteFile) -> None:
    huge = b"+447700900123," + b"x" * (MAX_RECORD_BYTES + 10)
    items = read(write("c.csv", b"phone,note\n" + huge + b"\n+447700900124,ok\n"))
    assert error(items[0]) == RowError(2, f"is longer than {MAX_RECORD_BYTES} bytes")
    assert contact(items[1]).row == 3


def test_a_one_megabyte_line_without_a_line_break_ends_the_file_cleanly(
    write: WriteFile,
) -> None:
    items = read(write("c.csv", b"phone\n" + b"9" * 1_000_000))
    assert [error(item).row for item in items] == [2]


def test_a_stray_quote_costs_its_own_row_only(write: WriteFile) -> None:
    rows = "".join(f"+4477009001{n:02d},x\n" for n in range(MAX_RECORD_LINES + 5))
    path = write("c.csv", 'phone,note\n+447700900199,"never closed\n' + rows)
    items = read(path)
    assert error(items[0]) == RowError(2, 'opens a quoted field (") that never closes')
    assert [contact(item).row for item in items[1:]] == list(range(3, MAX_RECORD_LINES + 8))


def test_a_quote_left_open_at_the_end_of_the_file(write: WriteFile) -> None:
    items = read(write("c.csv", 'phone,note\n+447700900123,ok\n+447700900124,"open\nmore'))
    assert contact(items[0]).row == 2
    assert error(items[1]).row == 3
    # The line after the stray quote is read again on its own: too few cells.
    assert error(items[2]) == RowError(4, "has 1 cells where the header has 2")


def test_a_line_break_inside_an_unquoted_cell_is_a_row_error(write: WriteFile) -> None:
    items = read(write("c.csv", b"phone,note\n+447700900123,a\rb\n+447700900124,c\n"))
    assert error(items[0]).reason == "cannot be read as CSV (a line break inside an unquoted cell)"
    assert contact(items[1]).row == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no header row"),
        (b"\n\r\n  \n", "no header row"),
        (b"name,email\nAnn,a@example.com\n", "no phone column"),
        (b"phone,name,Name\n", "names the column 'Name' twice \\(as 'name' too\\)"),
        (b"phone,,name\n", "column 2 has no name"),
        (b"phone,first name\n", "'first name' cannot become a metadata key"),
        (b"phone,caf\xe9\n", "header row is not valid UTF-8"),
        (b"phone,id\r+447911123456,a\r", "carriage return alone"),
        (b"PK\x03\x04\x14\x00\x06\x00", "looks binary \\(a ZIP archive"),
        (b"\xff\xfep\x00h\x00o\x00n\x00e\x00", "is UTF-16 text"),
        (b"p\x00h\x00o\x00n\x00e\x00\n\x00", "looks binary"),
        (b"\x7fELF\x02\x01\x01\x00", "looks binary"),
        (b"phone," + b"x" * (MAX_RECORD_BYTES + 1), "longer than"),
    ],
)
def test_files_that_cannot_be_contact_lists_are_refused(
    write: WriteFile, content: bytes, message: str
) -> None:
    path = write("c.csv", content)
    with pytest.raises(ContactFileError, match=message) as caught:
        read(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file_or_a_directory_is_refused_with_the_os_reason(tmp_path: Path) -> None:
    with pytest.raises(ContactFileError, match=r"cannot read .*nope\.csv: No such file"):
        read(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ContactFileError, match=r"cannot read .*dir\.csv: Is a directory"):
        read(tmp_path / "dir.csv")


def test_the_format_comes_from_the_extension_or_is_named(write: WriteFile) -> None:
    csv_text = "phone\n+447700900123\n"
    for name in ("a.csv", "b.CSV"):
        assert contact(read(write(name, csv_text))[0]).phone == "+447700900123"
    path = write("contacts.txt", csv_text)
    with pytest.raises(ContactFileError, match=r"extension '\.txt'"):
        iter_contacts(path)
    assert contact(next(iter_contacts(path, format="csv"))).row == 2
    with pytest.raises(ValueError, match="format must be"):
        iter_contacts(path, format="xml")  # type: ignore[arg-type]


def test_the_reader_is_lazy_and_closes_the_file_when_abandoned(write: WriteFile) -> None:
    path = write("c.csv", "phone\n+447700900123\n+447700900124\n")
    items = iter_contacts(path)
    path.unlink()  # nothing opened it yet
    with pytest.raises(ContactFileError, match="No such file"):
        next(items)
    path = write("c.csv", "phone\n+447700900123\n+447700900124\n")
    items = iter_contacts(path)
    assert contact(next(items)).row == 2
    items.close()
    with pytest.raises(StopIteration):
        next(items)


def test_a_huge_line_inside_an_open_quote_is_its_own_error_too(write: WriteFile) -> None:
    huge = b"x" * (MAX_RECORD_BYTES + 1)
    path = write("c.csv", b'phone,note\n+447700900123,"open\n' + huge + b"\n+447700900124,ok\n")
    items = read(path)
    assert [(item.row, type(item)) for item in items] == [
        (2, RowError),
        (3, RowError),
        (4, Contact),
    ]
    assert error(items[1]).reason == f"is longer than {MAX_RECORD_BYTES} bytes"
