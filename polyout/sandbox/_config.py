"""The sandbox's settings: immutable, validated once at construction.

``SandboxConfig`` says how the emulated service behaves when all is well (who may
call, which environments exist, how long calls take, how they end, how long their
status is kept); ``FaultConfig`` says how it misbehaves. Durations are simulated
seconds, run at ``time_scale`` simulated seconds per real second; rate limits and
latencies are real seconds, because they are about the client's actual pacing.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._checks import non_negative, probability
from ._outcomes import LAST_DIGIT, OutcomeMix, OutcomeRule

__all__ = ["AGENT_ENVIRONMENTS", "FaultConfig", "SandboxConfig"]

AGENT_ENVIRONMENTS: frozenset[str] = frozenset({"sandbox", "pre-release", "live"})


def _positive_or_none(_: object, attribute: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be >= 1 or None (no limit), got {value!r}")


def _schedule(value: Iterable[int]) -> frozenset[int]:
    numbers = frozenset(int(n) for n in value)
    if any(n < 1 for n in numbers):
        raise ValueError(f"schedules count requests from 1, got {sorted(numbers)}")
    return numbers


def _latency(value: float | tuple[float, float]) -> tuple[float, float]:
    low, high = (value, value) if isinstance(value, (int, float)) else value
    if not 0.0 <= float(low) <= float(high):
        raise ValueError(f"latency must be seconds >= 0, or a range MIN <= MAX, got {value!r}")
    return float(low), float(high)


def _status_codes(value: Iterable[int]) -> tuple[int, ...]:
    codes = tuple(int(code) for code in value)
    if not codes or any(not 500 <= code <= 599 for code in codes):
        raise ValueError(f"status_error_codes must be 5xx codes, got {codes!r}")
    return codes


@attrs.frozen(kw_only=True)
class FaultConfig:
    """Misbehaviour to inject. Off by default; every random draw uses the sandbox seed.

    Each fault fires with its probability (``*_rate``) or on a schedule (``*_on``:
    the 1-based numbers of the requests it hits). Trigger schedules count the
    triggers that passed authentication, the rate limit and validation (the ones
    that would otherwise be placed); status schedules count status requests the
    same way. Counters restart at ``reset()``.
    """

    rate_limit: int | None = attrs.field(default=None, validator=_positive_or_none)
    """Accepted triggers allowed per credential in any sliding 1 s of real time."""
    status_rate_limit: int | None = attrs.field(default=None, validator=_positive_or_none)
    """Status requests allowed per credential in any sliding 1 s of real time."""

    trigger_500_rate: float = attrs.field(default=0.0, converter=float, validator=probability)
    trigger_502_rate: float = attrs.field(default=0.0, converter=float, validator=probability)
    cut_rate: float = attrs.field(default=0.0, converter=float, validator=probability)
    status_error_rate: float = attrs.field(default=0.0, converter=float, validator=probability)

    trigger_500_on: frozenset[int] = attrs.field(default=frozenset(), converter=_schedule)
    trigger_502_on: frozenset[int] = attrs.field(default=frozenset(), converter=_schedule)
    cut_on: frozenset[int] = attrs.field(default=frozenset(), converter=_schedule)
    status_error_on: frozenset[int] = attrs.field(default=frozenset(), converter=_schedule)

    status_error_codes: tuple[int, ...] = attrs.field(default=(500, 502), converter=_status_codes)
    """The codes a status fault answers with, drawn uniformly."""

    trigger_latency: tuple[float, float] = attrs.field(default=(0.0, 0.0), converter=_latency)
    """Real seconds added before a trigger is answered: fixed, or a uniform (MIN, MAX)."""
    status_latency: tuple[float, float] = attrs.field(default=(0.0, 0.0), converter=_latency)


def _environments(value: Iterable[str]) -> frozenset[str]:
    names = frozenset(value)
    unknown = names - AGENT_ENVIRONMENTS
    if unknown:
        raise ValueError(
            f"unknown environments {sorted(unknown)}; choose from {sorted(AGENT_ENVIRONMENTS)}"
        )
    return names


def _keys(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _outcome_rule(_: object, attribute: attrs.Attribute[OutcomeRule], value: OutcomeRule) -> None:
    if not isinstance(value, OutcomeMix) and value != LAST_DIGIT:
        raise ValueError(f"{attribute.name} must be an OutcomeMix or {LAST_DIGIT!r}, got {value!r}")


def _port(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 65535:
        raise ValueError(f"{attribute.name} must be in [0, 65535] (0 = any free port), got {value}")


def _api_key(_: object, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not value:
        raise ValueError(f"{attribute.name} must be a non-empty string or None (any key)")


@attrs.frozen(kw_only=True)
class SandboxConfig:
    """How the emulated PolyAI service behaves. Durations are simulated seconds."""

    host: str = "127.0.0.1"
    port: int = attrs.field(default=0, validator=_port)
    """0 binds a free ephemeral port; read the result from ``Sandbox.base_url``."""
    api_key: str | None = attrs.field(default=None, repr=False, validator=_api_key)
    """The only credential accepted by every API; None accepts any non-empty one."""
    forbidden_keys: frozenset[str] = attrs.field(default=frozenset(), converter=_keys, repr=False)
    """Credentials that authenticate but lack permission: every request answers 403."""
    environments: frozenset[str] = attrs.field(default=AGENT_ENVIRONMENTS, converter=_environments)
    """Agents API environments that have a connector; others answer 404."""

    queue_duration: float = attrs.field(default=2.0, converter=float, validator=non_negative)
    ring_duration: float = attrs.field(default=10.0, converter=float, validator=non_negative)
    call_duration: float = attrs.field(default=60.0, converter=float, validator=non_negative)
    """How long an answered call stays connected before it completes."""
    retention: float = attrs.field(default=7200.0, converter=float, validator=non_negative)
    """How long a call's status stays readable after the call ends; then 404."""
    time_scale: float = attrs.field(default=1.0, converter=float)
    """Simulated seconds per real second (e.g. 1000 runs a 2 h retention in 7.2 s)."""

    outcomes: OutcomeRule = attrs.field(factory=OutcomeMix, validator=_outcome_rule)
    """A seeded probability mix, or ``"last-digit"``: 0-6 complete, 7 no answer, 8 busy, 9 fail."""
    seed: int | None = None
    """Seeds every random draw (outcomes and faults); None picks one, shown in /_sandbox/config."""

    faults: FaultConfig = attrs.field(factory=FaultConfig)
    ledger_file: str | None = None
    """Also append every ledger record to this file, one JSON object per line."""

    @time_scale.validator
    def _check_time_scale(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not value > 0.0:
            raise ValueError(f"{attribute.name} must be > 0, got {value!r}")

    @property
    def call_lifetime(self) -> float:
        """The longest a call can live, placement to the end of its retention."""
        return self.queue_duration + self.ring_duration + self.call_duration + self.retention
