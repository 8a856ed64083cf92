"""Which CSV column is which: the phone, id, country code and time zone, and the metadata.

Header names match case-insensitively, with spaces and ``-`` read as ``_`` (so ``Phone
Number`` is ``phone_number``). Each role has one main name and a few aliases; an alias
is used only when the main name is absent and no other alias is present, otherwise the
file is ambiguous and refused. Every other column becomes a metadata key, spelled exactly
as in the header, so it must be usable as a SIP header name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

import attrs

from polyout._campaign._contacts import ContactFileError
from polyout._errors import ValidationError
from polyout._request import check_metadata

__all__ = [
    "ROLES",
    "Columns",
    "delimiter_of",
    "find_role",
    "parse_header",
    "repeated_ignoring_case",
    "role_key",
    "split_header",
    "twice",
]

#: Each role's main column name, then its aliases.
ROLES: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "phone_number", "to_number", "number"),
    "id": ("id", "contact_id"),
    "country_code": ("country_code",),
    "timezone": ("timezone", "time_zone", "tz"),
    "not_before": ("not_before",),
    "not_after": ("not_after",),
    "subdivision": ("subdivision",),
}
#: The columns of the contact policy (issue 12): times and the callee's region.
_POLICY_ROLES = ("not_before", "not_after", "subdivision")


@attrs.frozen
class Columns:
    """Positions of the known columns in a header, and the metadata columns with their keys."""

    width: int
    phone: int
    id: int | None
    country_code: int | None
    timezone: int | None
    metadata: tuple[tuple[int, str], ...]
    not_before: int | None = None
    not_after: int | None = None
    subdivision: int | None = None


def role_key(name: str) -> str:
    return name.strip().casefold().replace(" ", "_").replace("-", "_")


def delimiter_of(header: str) -> str:
    """``,`` unless the header has none and uses ``;`` (a European Excel export) or a tab."""
    for delimiter in (",", ";", "\t"):
        if delimiter in header:
            return delimiter
    return ","


def split_header(text: str, delimiter: str, name: str) -> list[str]:
    try:
        cells = next(csv.reader([text], delimiter=delimiter), [])
    except csv.Error as exc:
        raise ContactFileError(f"{name}: the header row cannot be read as CSV ({exc})") from None
    return [cell.strip() for cell in cells]


def find_role(names: Sequence[str], role: str, file_name: str) -> int | None:
    """The index of the column playing ``role``: its main name, else its only alias."""
    main, *aliases = ROLES[role]
    keys = [role_key(header) for header in names]
    if main in keys:
        return keys.index(main)
    found = [index for index, key in enumerate(keys) if key in aliases]
    if len(found) > 1:
        listed = " and ".join(repr(names[index]) for index in found)
        raise ContactFileError(
            f"{file_name}: the columns {listed} could each be the {role}: "
            f"name the one to use {main!r}"
        )
    return found[0] if found else None


def parse_header(names: Sequence[str], file_name: str) -> Columns:
    """Check a contact file's header and say which column is which, or refuse the file."""
    _check_names(names, file_name)
    phone = find_role(names, "phone", file_name)
    if phone is None:
        raise ContactFileError(
            f"{file_name}: no phone column in the header (expected one named 'phone')"
        )
    known = {
        "phone": phone,
        "id": find_role(names, "id", file_name),
        "country_code": find_role(names, "country_code", file_name),
        "timezone": find_role(names, "timezone", file_name),
        **{role: find_role(names, role, file_name) for role in _POLICY_ROLES},
    }
    used = {index for index in known.values() if index is not None}
    metadata = tuple((index, name) for index, name in enumerate(names) if index not in used)
    for _, key in metadata:
        _check_metadata_key(key, file_name)
    return Columns(
        width=len(names),
        phone=phone,
        id=known["id"],
        country_code=known["country_code"],
        timezone=known["timezone"],
        metadata=metadata,
        **{role: known[role] for role in _POLICY_ROLES},
    )


def repeated_ignoring_case(names: Iterable[str]) -> tuple[str, str] | None:
    """The first name equal to an earlier one but for case, and that earlier one; or None.

    Names are compared without case because metadata keys become SIP headers, whose
    names ignore case: ``Name`` and ``name`` would reach the agent as one header.
    """
    seen: dict[str, str] = {}
    for name in names:
        earlier = seen.setdefault(name.casefold(), name)
        if earlier is not name:
            return name, earlier
    return None


def twice(name: str, earlier: str) -> str:
    """How every source words a repeated name: ``'Name' twice (as 'name' too)``."""
    also = f" (as {earlier!r} too)" if earlier != name else ""
    return f"{name!r} twice{also}"


def _check_names(names: Sequence[str], file_name: str) -> None:
    for number, name in enumerate(names, start=1):
        if not name:
            raise ContactFileError(f"{file_name}: column {number} has no name in the header")
    repeated = repeated_ignoring_case(names)
    if repeated is not None:
        raise ContactFileError(f"{file_name}: the header names the column {twice(*repeated)}")


def _check_metadata_key(key: str, file_name: str) -> None:
    # Refusing the file once, naming the column, beats making every one of its rows invalid.
    try:
        check_metadata({key: ""})
    except ValidationError as exc:
        raise ContactFileError(
            f"{file_name}: the column {key!r} cannot become a metadata key: {exc.reason}"
        ) from None
