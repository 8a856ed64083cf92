"""A fingerprint of the contact items a campaign has read, so a changed source is refused.

A resumed feed skips the items the journal already holds, by position. If the file
changed in between (rows deleted from its head, say), skipping by position would drop
contacts in silence. So the journal keeps a hash chain over the items it journaled,
committed with their rows, and a resumed feed recomputes it over the items it skips:
any difference refuses the source before a single new item is journaled.

The chain covers what the source *said* (id, number, metadata, row), not polyout's
reading of it (a row error's wording), so an upgrade does not refuse an unchanged file.
"""

from __future__ import annotations

import hashlib
import json
import os

from polyout._campaign._contacts import Contact, ContactItem
from polyout._campaign._errors import JournalError
from polyout._campaign._readers import iter_contacts

__all__ = ["EMPTY_DIGEST", "chain", "check_same_source", "check_source_opens"]

#: The fingerprint of no items at all.
EMPTY_DIGEST = hashlib.sha256(b"polyout contact source, v1").hexdigest()


def chain(previous: str, item: ContactItem) -> str:
    """The fingerprint of the items so far, ``item`` added."""
    if isinstance(item, Contact):
        fields: list[object] = [
            "contact",
            item.id,
            item.phone,
            item.country_code,
            item.timezone,
            sorted(item.metadata.items()),
            item.row,
        ]
    else:
        fields = ["row error", item.row, item.contact_id, item.phone]
    data = json.dumps(fields, ensure_ascii=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{previous}\n{data}".encode()).hexdigest()


def check_same_source(journal: str, stored: str | None, digest: str | None, count: int) -> None:
    """Refuse a source whose first ``count`` items are not the ones journaled.

    ``digest`` is None when the source ended before ``count`` items; ``stored`` is None
    for a journal from before fingerprints, which cannot be checked.
    """
    if stored is None or digest == stored:
        return
    what = "has fewer items than" if digest is None else "does not start with the items in"
    raise JournalError(
        f"the contact source {what} {journal} (the first {count} were journaled by the "
        "earlier run): it changed since, and resuming by position would skip or dial "
        "the wrong contacts; resume with the source as it was"
    )


def check_source_opens(contacts: object) -> None:
    """Read a contact file's first item, so an unreadable file is refused now
    (``ContactFileError``), before a journal exists. Other sources are read as they come."""
    if not isinstance(contacts, (str, os.PathLike)):
        return
    items = iter_contacts(contacts)
    try:
        next(items, None)
    finally:
        items.close()
