"""polyout: an asyncio SDK and campaign runner for PolyAI's outbound calling APIs.

Everything public is importable from here; modules with a leading underscore are private.
"""

from polyout._apis import state_from_raw
from polyout._client import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, Client, Timeout
from polyout._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    NotFoundError,
    PermissionDeniedError,
    PolyOutError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
    ValidationError,
)
from polyout._models import Call, CallRequest, CallState, CallStatus, Encryption
from polyout._pacing import Pacer
from polyout._phone import mask_number
from polyout._request import build_request
from polyout._retry import set_testing
from polyout._version import __version__

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "CallRequest",
    "CallState",
    "CallStatus",
    "Client",
    "ClientClosedError",
    "Encryption",
    "NotFoundError",
    "Pacer",
    "PermissionDeniedError",
    "PolyOutError",
    "RateLimitError",
    "ServerError",
    "Timeout",
    "TransportError",
    "TriggerOutcomeUnknown",
    "ValidationError",
    "__version__",
    "build_request",
    "mask_number",
    "set_testing",
    "state_from_raw",
]
