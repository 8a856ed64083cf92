"""Contacts of a JSON Lines file: one object a line, strict about keys and types.

An object has the keys ``id``, ``phone``, ``country_code``, ``timezone``, ``metadata``
(an object of strings), and the policy's ``not_before``, ``not_after`` and ``subdivision``
(strings); ``phone`` is required, ``null`` means absent. Anything else makes
that line a row error naming the problem: nothing is coerced, 42 is not "42".
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Generator
from typing import Any

from polyout._campaign._contacts import Contact, ContactItem, RowError, fallback_id
from polyout._campaign._records import (
    MAX_RECORD_BYTES,
    Line,
    check_looks_like_text,
    decode,
    open_binary,
    read_lines,
)

__all__ = ["JSONL_KEYS", "read_jsonl"]

JSONL_KEYS = (
    "id",
    "phone",
    "country_code",
    "timezone",
    "metadata",
    "not_before",
    "not_after",
    "subdivision",
)


def read_jsonl(path: str | os.PathLike[str]) -> Generator[ContactItem, None, None]:
    """Contacts of a JSON Lines file: one object a line with the keys of :data:`JSONL_KEYS`."""
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
        not_before=_optional_text(value.get("not_before")),
        not_after=_optional_text(value.get("not_after")),
        subdivision=_optional_text(value.get("subdivision")),
    )


def _jsonl_problem(value: dict[str, Any]) -> str | None:
    """Why an object is not a contact, or None. Nothing is coerced: 42 is not "42"."""
    for key in value:
        if key not in JSONL_KEYS:
            return (
                f"has the unknown key {_shown(key)} "
                f"(a contact has only {', '.join(JSONL_KEYS)}; put other values in metadata)"
            )
    if value.get("phone") is None:
        return "has no phone"
    texts = []
    for key in ("id", "phone", "country_code", "timezone", *JSONL_KEYS[5:]):
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
