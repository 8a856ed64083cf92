"""What a contact source yields: a :class:`Contact`, or a :class:`RowError` for a row that
could not even become one. A whole file that cannot be read is a :class:`ContactFileError`.

Row numbers are the 1-based line number in the file where the contact's record starts
(a CSV header is line 1), so an operator can open the file at the line a report names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeAlias

import attrs

from polyout._errors import PolyOutError

__all__ = ["Contact", "ContactFileError", "ContactItem", "RowError", "fallback_id"]


class ContactFileError(PolyOutError):
    """The whole contact (or suppression) file is refused; the message says why in one line."""


def fallback_id(row: int) -> str:
    """The id of a contact whose source gave none: where it came from, stable across re-reads."""
    return f"row-{row}"


def _frozen_copy(value: Mapping[str, str] | None) -> Mapping[str, str]:
    # A read-only view of a private copy: the caller's dict can change, the contact cannot.
    return MappingProxyType(dict(value) if value else {})


@attrs.frozen
class Contact:
    """One person to call, as the source gave it: nothing here is validated yet.

    ``phone`` is personal data and never appears in the repr.
    """

    id: str
    phone: str = attrs.field(repr=False)
    country_code: str | None = None
    timezone: str | None = None
    metadata: Mapping[str, str] = attrs.field(
        factory=dict, converter=_frozen_copy, repr=False, hash=False
    )
    row: int | None = None
    not_before: str | None = None
    """ISO 8601 with an offset: the contact is not rung before then."""
    not_after: str | None = None
    """ISO 8601 with an offset: nor at or after then."""
    subdivision: str | None = None
    """``US-FL`` (or ``FL``, with the number's country): for holidays and regional rules."""


@attrs.frozen
class RowError:
    """A row that could not become a :class:`Contact`, with the reason (never the number)."""

    row: int
    reason: str
    contact_id: str | None = None
    phone: str | None = attrs.field(default=None, repr=False)


#: What a contact source yields for each data row.
ContactItem: TypeAlias = Contact | RowError
