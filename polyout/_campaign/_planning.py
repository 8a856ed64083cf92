"""Planning: each contact becomes a call to place (:class:`Planned`) or an exclusion.

The checks run in a fixed order, and the first that fails decides the (final) state of
the :class:`Excluded` contact:

1. ``invalid``: the row could not be read, the number, country code, metadata, id or time
   zone is unusable, or a calling window is configured and the number has no known zone
   (or zones that are never inside the window together);
2. ``duplicate``: the same E.164 number, or the same contact id, as an earlier contact that
   got past these checks (the first one wins), or a number already in the campaign;
3. ``suppressed``: the number is on the suppression list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import attrs

from polyout._campaign._columns import repeated_ignoring_case, twice
from polyout._campaign._contacts import Contact, ContactItem, RowError, fallback_id
from polyout._campaign._keyset import KeySet
from polyout._campaign._policy_planning import PlanPolicy, contact_policy
from polyout._campaign._schedule import CallingWindow, check_zone, zones_for
from polyout._campaign._states import ContactState
from polyout._campaign._suppression import load_suppression_list, normalized_suppression
from polyout._errors import ConfigurationError, ValidationError
from polyout._models import CallRequest
from polyout._phone import normalize_country_code
from polyout._request import build_request

# load_suppression_list lives in _suppression; it is importable here too, beside the Planner
# that takes its result.
__all__ = [
    "Excluded",
    "MemoryRecord",
    "PlanRecord",
    "Planned",
    "Planner",
    "load_suppression_list",
]

MAX_ID_LENGTH = 256
# Whether zones can ever share the window is judged on a year this far ahead, where
# zoneinfo applies each zone's current rules (tz database files list transitions up to
# 2037, then give the rule in force today for every later year).
_RULES_PROBE = dt.datetime(2101, 1, 1, tzinfo=dt.timezone.utc)


@attrs.frozen
class Planned:
    """A contact ready to dial: a validated request, and the zones its window must fit."""

    contact: Contact
    request: CallRequest
    zones: tuple[str, ...] = ()
    policy: Mapping[str, Any] = attrs.field(factory=dict)
    """What the contact policy keeps (``_policy_planning``); empty without one."""


@attrs.frozen
class Excluded:
    """A contact planning excluded: never dialled, with its final state and the reason."""

    contact: Contact | None
    row: int | None
    contact_id: str
    state: ContactState
    """One of the exclusions: ``invalid``, ``duplicate`` or ``suppressed``."""
    reason: str
    to_number: str | None = attrs.field(repr=False)


class PlanRecord(Protocol):
    """What a campaign already holds: the numbers and ids its contacts took.

    A contact takes its number and id when it is planned or suppressed; the Planner asks
    before planning one and calls ``take`` after.
    """

    def has_number(self, e164: str) -> bool: ...

    def has_id(self, contact_id: str) -> bool: ...

    def take(self, e164: str, contact_id: str) -> None: ...


class MemoryRecord:
    """A PlanRecord in memory, about 32 bytes a contact whatever the ids look like.

    Numbers are exact keys (E.164 digits fit in 64 bits). Ids are 64-bit hashes: a
    collision (odds ~1e-8 in a million ids) could only refuse a contact, never ring one.
    """

    def __init__(self, numbers: Iterable[str] = ()) -> None:
        self._numbers = KeySet()
        self._ids = KeySet()
        for e164 in numbers:
            self._numbers.add(int(e164[1:]))

    def __len__(self) -> int:
        return len(self._numbers)

    def has_number(self, e164: str) -> bool:
        return int(e164[1:]) in self._numbers

    def has_id(self, contact_id: str) -> bool:
        return _id_key(contact_id) in self._ids

    def take(self, e164: str, contact_id: str) -> None:
        self._numbers.add(int(e164[1:]))
        self._ids.add(_id_key(contact_id))


class Planner:
    """Plans the contacts of one campaign in order, remembering the numbers and ids taken.

    ``suppress`` holds numbers with their ``+`` and country code, spaced in any way (an
    entry that is not one raises ValueError). ``default_country`` (ISO 3166-1 alpha-2,
    e.g. ``"US"``) reads the national numbers of contacts that have no country code of
    their own (``4155551000`` as ``+14155551000``); a number starting with ``+`` is
    always read as written. ``record`` keeps what was taken: by default a
    :class:`MemoryRecord`; a campaign passes its journal, so memory stays flat however
    long the list.
    """

    def __init__(
        self,
        *,
        suppress: Iterable[str] = (),
        window: CallingWindow | None = None,
        default_timezone: str | None = None,
        default_country: str | None = None,
        record: PlanRecord | None = None,
        policy: PlanPolicy | None = None,
    ) -> None:
        self.window = window
        self._policy = policy
        self.default_timezone = check_zone(default_timezone) if default_timezone else None
        self.default_country = checked_country(default_country)
        self._suppressed = normalized_suppression(suppress)
        self._record: PlanRecord = record if record is not None else MemoryRecord()
        self._zone_problems: dict[tuple[str, ...], str | None] = {}

    def __repr__(self) -> str:
        return (
            f"<Planner window={self.window} default_timezone={self.default_timezone} "
            f"default_country={self.default_country} suppressed={len(self._suppressed)}>"
        )

    def plan(self, item: ContactItem) -> Planned | Excluded:
        if isinstance(item, RowError):
            contact_id = item.contact_id or fallback_id(item.row)
            return Excluded(
                None, item.row, contact_id, ContactState.INVALID, item.reason, item.phone
            )
        try:
            request = _request_for(item, self.default_country)
        except ValidationError as exc:
            return _exclude(item, ContactState.INVALID, str(exc), item.phone)
        e164 = request.to_number
        try:
            zones = self._zones_for(item, e164)
            policy = contact_policy(item, e164, self._policy, self.default_timezone)
        except ValueError as exc:
            return _exclude(item, ContactState.INVALID, str(exc), e164)
        repeated = self._repeated(item, e164)
        if repeated is not None:
            return _exclude(item, ContactState.DUPLICATE, repeated, e164)
        if e164 in self._suppressed:
            return _exclude(
                item, ContactState.SUPPRESSED, "the number is on the suppression list", e164
            )
        return Planned(item, request, zones, policy)

    def _zones_for(self, contact: Contact, e164: str) -> tuple[str, ...]:
        """The zones the window must fit (none without a window), or ValueError."""
        try:
            own = check_zone(contact.timezone) if contact.timezone is not None else None
        except ValueError as exc:
            raise ValueError(f"timezone: {exc}") from None
        if self.window is None and (self._policy is None or not self._policy.needs_zones):
            return ()
        zones = zones_for(e164, own, self.default_timezone)
        if not zones:
            raise ValueError(
                "no time zone is known for this number: give the contact a timezone, "
                "or set a default time zone"
            )
        if self.window is None:
            return zones
        if zones not in self._zone_problems:
            self._zone_problems[zones] = _overlap_problem(self.window, zones)
        problem = self._zone_problems[zones]
        if problem is not None:
            raise ValueError(problem)
        return zones

    def _repeated(self, contact: Contact, e164: str) -> str | None:
        """Why the contact repeats an earlier one, or None after remembering it."""
        if self._record.has_number(e164):
            return "the same number as an earlier contact"
        if self._record.has_id(contact.id):
            return f"the same id as an earlier contact ({_shown_id(contact.id)})"
        self._record.take(e164, contact.id)
        return None


def checked_country(default_country: str | None) -> str | None:
    """A default country in upper case, or None; a code that is not one is a ConfigurationError."""
    if default_country is None:
        return None
    try:
        return normalize_country_code(default_country)
    except ValidationError as exc:
        raise ConfigurationError("default_country", exc.reason) from None


def _request_for(contact: Contact, default_country: str | None) -> CallRequest:
    if not isinstance(contact.id, str) or not contact.id.strip():
        raise ValidationError("id", "is empty")
    if len(contact.id) > MAX_ID_LENGTH:
        raise ValidationError("id", f"is longer than {MAX_ID_LENGTH} characters")
    repeated = repeated_ignoring_case(contact.metadata)
    if repeated is not None:
        # A CSV header with such columns is refused whole (see _columns), in the same words.
        raise ValidationError("metadata", f"names the key {twice(*repeated)}")
    country = contact.country_code
    if country is None and isinstance(contact.phone, str) and not _international(contact.phone):
        country = default_country
    return build_request(contact.phone, country_code=country, metadata=contact.metadata)


def _international(phone: str) -> bool:
    # A leading "+" says the country code is written: the default must not reinterpret it.
    return phone.lstrip().startswith("+")


def _overlap_problem(window: CallingWindow, zones: tuple[str, ...]) -> str | None:
    try:
        window.next_opening(zones, _RULES_PROBE)
    except ValueError as exc:
        return str(exc)
    return None


def _exclude(contact: Contact, state: ContactState, reason: str, number: str | None) -> Excluded:
    return Excluded(contact, contact.row, contact.id, state, reason, number)


def _id_key(contact_id: str) -> int:
    # A stable 64-bit digest (Python's own str hash is 32 bits on 32-bit builds).
    digest = hashlib.blake2b(contact_id.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little") or 1


def _shown_id(contact_id: str) -> str:
    return repr(contact_id if len(contact_id) <= 40 else contact_id[:40] + "…")
