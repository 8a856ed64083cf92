"""JSON Lines contact files: one object a line, strict about keys and types."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyout._campaign import Contact, ContactFileError, ContactItem, RowError, iter_contacts
from polyout._campaign._records import MAX_RECORD_BYTES
from tests.campaign_input.conftest import WriteFile


def read(path: Path) -> list[ContactItem]:
    return list(iter_contacts(path))


def lines(*values: object) -> str:
    return "".join(
        (value if isinstance(value, str) else json.dumps(value)) + "\n" for value in values
    )


def reasons(items: list[ContactItem]) -> list[tuple[int | None, str]]:
    return [(item.row, item.reason if isinstance(item, RowError) else "ok") for item in items]


@pytest.mark.parametrize("extension", [".jsonl", ".ndjson", ".jsonlines", ".json-lines"])
def test_objects_become_contacts(write: WriteFile, extension: str) -> None:
    path = write(
        "c" + extension,
        lines(
            {
                "id": " A1 ",
                "phone": "07700 900123",
                "country_code": "GB",
                "timezone": "Europe/London",
                "metadata": {"first_name": "Ann"},
            },
            {"phone": "+447700900124", "id": None, "country_code": None, "metadata": None},
        ),
    )
    assert read(path) == [
        Contact(
            id="A1",
            phone="07700 900123",
            country_code="GB",
            timezone="Europe/London",
            metadata={"first_name": "Ann"},
            row=1,
        ),
        Contact(id="row-2", phone="+447700900124", row=2),
    ]


def test_each_bad_line_is_one_row_error_naming_what_is_wrong(write: WriteFile) -> None:
    path = write(
        "c.jsonl",
        lines(
            {"phone": "+447700900123", "name": "Ann"},
            {"phone": "+447700900123", "metadata": {"age": 42}},
            {"phone": "+447700900123", "metadata": {"vip": True}},
            {"phone": "+447700900123", "metadata": ["a"]},
            {"phone": 447700900123},
            {"id": 7, "phone": "+447700900123"},
            {"id": "no-phone"},
            ["+447700900123"],
            "{not json",
            '{"phone": "+447700900123", "phone": "+447700900124"}',
            '{"phone": "+447700900123", "metadata": {"a": "1", "a": "2"}}',
            '{"phone": "+44\\ud800"}',
            "[" * 5000 + "]" * 5000,
            '{"phone": "+447700900123", "metadata": {"n": ' + "9" * 5000 + "}}",
        ),
    )
    found = reasons(read(path))
    assert found[:12] == [
        (
            1,
            "has the unknown key 'name' (a contact has only id, phone, country_code, "
            "timezone, metadata, not_before, not_after, subdivision; put other values in metadata)",
        ),
        (2, "metadata 'age' must be a string, not a JSON number"),
        (3, "metadata 'vip' must be a string, not a JSON boolean"),
        (4, "metadata must be an object, not a JSON array"),
        (5, "phone must be a string, not a JSON number"),
        (6, "id must be a string, not a JSON number"),
        (7, "has no phone"),
        (8, "is a JSON array, not an object"),
        (9, "is not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        (10, "has the key 'phone' twice in one object"),
        (11, "has the key 'a' twice in one object"),
        (12, "contains a lone UTF-16 surrogate (\\ud800 to \\udfff), which is not text"),
    ]
    # Nesting too deep for the parser, and an integer too long to convert.
    assert [(row, reason[:19]) for row, reason in found[12:]] == [
        (13, "is not valid JSON ("),
        (14, "is not valid JSON ("),
    ]


def test_row_errors_keep_the_id_and_phone_they_could_read(write: WriteFile) -> None:
    [item] = read(write("c.jsonl", lines({"id": "A1", "phone": "+447700900123", "x": "1"})))
    assert isinstance(item, RowError)
    assert (item.contact_id, item.phone) == ("A1", "+447700900123")
    assert "+447700900123" not in repr(item)


def test_blank_lines_are_skipped_and_numbering_stays_honest(write: WriteFile) -> None:
    text = "\ufeff" + lines({"phone": "+1"}, "", "   \t", {"phone": "+2"})
    assert [item.row for item in read(write("c.jsonl", text))] == [1, 4]


def test_hostile_bytes_spoil_only_their_line(write: WriteFile) -> None:
    good = b'{"phone": "+447700900123"}\n'
    path = write(
        "c.jsonl",
        good
        + b'{"phone": "+44\x00"}\n'
        + b'{"phone": "+44", "metadata": {"n": "Jos\xe9"}}\n'
        + b'{"phone": "'
        + b"9" * (MAX_RECORD_BYTES + 1)
        + b'"}\n'
        + good,
    )
    assert reasons(read(path)) == [
        (1, "ok"),
        (2, "contains a NUL byte"),
        (3, "is not valid UTF-8 (byte 0xe9 at offset 39): save the file as UTF-8"),
        (4, f"is longer than {MAX_RECORD_BYTES} bytes"),
        (5, "ok"),
    ]


def test_binary_files_are_refused(write: WriteFile) -> None:
    with pytest.raises(ContactFileError, match="looks binary \\(gzip"):
        read(write("c.jsonl", b"\x1f\x8b\x08\x00\x00\x00"))


def test_an_empty_jsonl_file_has_no_contacts(write: WriteFile) -> None:
    assert read(write("c.jsonl", b"")) == []
