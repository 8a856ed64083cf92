"""A campaign's settings: validated once, stored in the journal, read back to resume.

Only what decides *what* is dialled and *how* is stored (rates, attempts, window,
deadlines, where the contacts came from). Connection settings and credentials never
are: the API's name and environment are kept only to refuse resuming a campaign
through a different API, whose call sids would mean nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from polyout._apis import DEFAULT_WAIT_DEADLINE
from polyout._campaign._clock import MAX_DELAY
from polyout._campaign._errors import JournalError
from polyout._campaign._retry_timing import RETRY_TIMINGS
from polyout._errors import ConfigurationError

__all__ = ["DEFAULT_POLL_DEADLINE", "DEFAULT_POLL_RATE", "MAX_DURATION", "CampaignConfig"]

#: Status data disappears about two hours after a call ends: give up well before.
DEFAULT_POLL_DEADLINE = float(DEFAULT_WAIT_DEADLINE)


#: No fixed poll budget: enough polls for every call in flight at its interval, up to
#: ``polyout._campaign._poll_budget.POLL_RATE_CEILING``. A number is the account's known
#: status limit, and overrides it.
DEFAULT_POLL_RATE: float | None = None
#: The longest duration a setting may ask for: the longest delay the engine computes.
MAX_DURATION = MAX_DELAY
#: Triggers or status requests per second: at least one an hour (a slower pace is a
#: typo), at most what no account is allowed.
MIN_RATE = 1 / 3600
MAX_RATE = 10_000.0
_MAX_COUNT = 1_000_000


def _number(name: str, value: object) -> float:
    """``value`` as a finite float, or ConfigurationError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(name, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigurationError(name, f"must be a finite number, got {value!r}")
    return number


def _duration(name: str, value: object, *, zero: bool) -> float:
    seconds = _number(name, value)
    if seconds < 0 or (seconds == 0 and not zero):
        wanted = "seconds >= 0" if zero else "seconds > 0"
        raise ConfigurationError(name, f"must be {wanted}, got {value!r}")
    if seconds > MAX_DURATION:
        raise ConfigurationError(
            name, f"must be at most {MAX_DURATION:.0f} seconds (a year), got {value!r}"
        )
    return seconds


def _positive_duration(value: object, attribute: attrs.Attribute[float]) -> float:
    return _duration(attribute.name, value, zero=False)


def _duration_or_zero(value: object, attribute: attrs.Attribute[float]) -> float:
    return _duration(attribute.name, value, zero=True)


def _rate(value: object, attribute: attrs.Attribute[Any]) -> float:
    rate = _number(attribute.name, value)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ConfigurationError(
            attribute.name,
            f"must be between {MIN_RATE:.6f} (one an hour) and {MAX_RATE:g} per second, "
            f"got {value!r}",
        )
    return rate


def _rate_or_automatic(value: object, attribute: attrs.Attribute[float | None]) -> float | None:
    return None if value is None else _rate(value, attribute)


def _count(value: object, attribute: attrs.Attribute[int]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_COUNT:
        raise ConfigurationError(
            attribute.name, f"must be a whole number from 1 to {_MAX_COUNT}, got {value!r}"
        )
    return value


def _poll_interval(value: float | tuple[float, float]) -> tuple[float, float]:
    name = "poll_interval"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = (_duration(name, part, zero=False) for part in value)
    elif isinstance(value, (tuple, list)):
        raise ConfigurationError(name, f"must be seconds > 0 or (MIN, MAX), got {value!r}")
    else:
        low = high = _duration(name, value, zero=False)
    if low > high:
        raise ConfigurationError(name, f"(MIN, MAX) must have MIN <= MAX, got {value!r}")
    return low, high


def _retry_timing(value: object, attribute: attrs.Attribute[str]) -> str:
    if value not in RETRY_TIMINGS:
        raise ConfigurationError(attribute.name, f"must be 'fixed' or 'learned', got {value!r}")
    return str(value)


def _checked(check: Callable[[Any, attrs.Attribute[Any]], Any], default: Any) -> Any:
    """A field converted by ``check(value, attribute)``, which refuses it by name."""
    return attrs.field(default=default, converter=attrs.Converter(check, takes_field=True))


@attrs.frozen(kw_only=True)
class CampaignConfig:
    """Everything that shapes a campaign (see :class:`polyout.Campaign` for each field)."""

    rate: float = _checked(_rate, 1.0)
    concurrency: int = _checked(_count, 50)
    max_attempts: int = _checked(_count, 3)
    retry_delay: float = _checked(_duration_or_zero, 1800.0)
    window: str | None = None
    default_timezone: str | None = None
    default_country: str | None = None
    """The region of national numbers in rows without a country code (None in 0.1 journals)."""
    poll_deadline: float = _checked(_positive_duration, DEFAULT_POLL_DEADLINE)
    poll_interval: tuple[float, float] = attrs.field(default=(2.0, 5.0), converter=_poll_interval)
    poll_rate: float | None = _checked(_rate_or_automatic, DEFAULT_POLL_RATE)
    """None: no fixed budget (see ``DEFAULT_POLL_RATE``)."""
    stop_grace: float = _checked(_duration_or_zero, 60.0)
    max_not_placed: int = _checked(_count, 5)
    outage_limit: float = _checked(_positive_duration, 1800.0)
    retry_timing: str = _checked(_retry_timing, "fixed")
    """``learned``: no answer and busy retried at the best-answering hour (_retry_timing)."""
    policy: Mapping[str, Any] | None = attrs.field(default=None, hash=False)
    """The contact policy as stored (``ContactPolicy.stored``); None without one."""
    source: str | None = None
    """The contact file's absolute path, when the contacts came from a file."""
    api: str | None = None
    environment: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["poll_interval"] = list(self.poll_interval)
        return data

    @classmethod
    def stored(cls, data: Mapping[str, Any], journal: str | os.PathLike[str]) -> CampaignConfig:
        """The settings a journal holds, or JournalError: they are never guessed or repaired."""
        try:
            return cls.from_json(data)
        except (TypeError, ValueError) as exc:
            raise JournalError(
                f"{os.fspath(journal)}: the campaign settings it holds are unusable ({exc})"
            ) from None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CampaignConfig:
        known = {field.name for field in attrs.fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "poll_interval" in values:
            values["poll_interval"] = tuple(values["poll_interval"])
        return cls(**values)


def source_path(contacts: object) -> str | None:
    """The absolute path of a contact file, or None for any other source."""
    if isinstance(contacts, (str, os.PathLike)):
        return str(Path(os.fspath(contacts)).resolve())
    return None
