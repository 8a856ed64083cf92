"""A campaign's settings: validated once, stored in the journal, read back to resume.

Only what decides *what* is dialled and *how* is stored (rates, attempts, window,
deadlines, where the contacts came from). Connection settings and credentials never
are: the API's name and environment are kept only to refuse resuming a campaign
through a different API, whose call sids would mean nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from polyout._campaign._errors import JournalError
from polyout._client import DEFAULT_WAIT_DEADLINE

__all__ = ["DEFAULT_POLL_DEADLINE", "CampaignConfig"]

#: Status data disappears about two hours after a call ends: give up well before.
DEFAULT_POLL_DEADLINE = float(DEFAULT_WAIT_DEADLINE)


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be a positive number, got {value!r}")


def _not_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


def _at_least_one(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be an integer >= 1, got {value!r}")


def _interval(value: float | tuple[float, float]) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, (int, float)) else value
    if not (0 < float(low) <= float(high) and math.isfinite(float(high))):
        raise ValueError(f"poll_interval must be seconds > 0 or (MIN, MAX), got {value!r}")
    return float(low), float(high)


@attrs.frozen(kw_only=True)
class CampaignConfig:
    """Everything that shapes a campaign (see :class:`polyout.Campaign` for each field)."""

    rate: float = attrs.field(default=1.0, converter=float, validator=_positive)
    concurrency: int = attrs.field(default=50, validator=_at_least_one)
    max_attempts: int = attrs.field(default=3, validator=_at_least_one)
    retry_delay: float = attrs.field(default=1800.0, converter=float, validator=_not_negative)
    window: str | None = None
    default_timezone: str | None = None
    poll_deadline: float = attrs.field(
        default=DEFAULT_POLL_DEADLINE, converter=float, validator=_positive
    )
    poll_interval: tuple[float, float] = attrs.field(default=(2.0, 5.0), converter=_interval)
    poll_rate: float = attrs.field(default=20.0, converter=float, validator=_positive)
    stop_grace: float = attrs.field(default=60.0, converter=float, validator=_not_negative)
    max_not_placed: int = attrs.field(default=5, validator=_at_least_one)
    outage_limit: float = attrs.field(default=1800.0, converter=float, validator=_positive)
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
