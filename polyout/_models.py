"""Value objects shared by the client, the campaign runner and the CLI."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["Call", "CallRequest", "CallState", "CallStatus", "Encryption"]


class CallState(str, enum.Enum):
    """A call's state, the same whichever API reported it.

    ``expired`` and ``unknown`` are polyout's own: ``expired`` means the status could not
    be followed to its end (retention passed, or a deadline); ``unknown`` means the
    server said something polyout does not know, kept raw in ``CallStatus.raw_status``.
    """

    QUEUED = "queued"
    CALLING = "calling"
    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAILURE = "failure"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """Whether the call has ended (an ``unknown`` status may still change, so it has not)."""
        return self in _FINAL

    def __str__(self) -> str:
        return self.value


_FINAL = frozenset(
    {
        CallState.SUCCESS,
        CallState.FAILURE,
        CallState.NO_ANSWER,
        CallState.BUSY,
        CallState.CANCELLED,
        CallState.EXPIRED,
    }
)


class Encryption(str, enum.Enum):
    """Telephony encryption of the outbound leg. Each API spells these its own way."""

    TLS_SRTP = "tls_srtp"
    TLS_RTP = "tls_rtp"
    UDP_SRTP = "udp_srtp"
    UDP_RTP = "udp_rtp"

    def __str__(self) -> str:
        return self.value


def _frozen_mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value) if value else {}


@attrs.frozen
class CallRequest:
    """A validated request to place one call. Build it with :func:`polyout.build_request`.

    ``to_number`` is always E.164: the country code given at input was used to parse it
    and is not needed any more.
    """

    to_number: str
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    encryption: Encryption | None = None
    variant_id: str | None = None


@attrs.frozen
class Call:
    """A call the API accepted. Follow it with ``Client.get_status`` or ``wait_for_call``."""

    call_sid: str
    to_number: str = attrs.field(repr=False)
    state: CallState = CallState.QUEUED
    correlation_id: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class CallStatus:
    """One reading of a call's status.

    ``raw_status`` is the server's own word (``"no-answer"``, ``"CALLING"``, …) and ``raw``
    the whole decoded body, for anything polyout does not model. An ``expired`` status
    keeps the last status actually read in ``last_seen``.
    """

    call_sid: str
    state: CallState
    raw_status: str | None = None
    reason: str | None = None
    correlation_id: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    last_seen: CallStatus | None = attrs.field(default=None, repr=False)

    @property
    def is_final(self) -> bool:
        return self.state.is_final
