"""Every exception polyout raises.

    PolyOutError
    ├── ValidationError            bad input, caught before anything is sent
    ├── ConfigurationError         a setting that cannot work (rate=0, max_retries=-1, ...),
    │                              refused when the client or campaign is built
    ├── ClientClosedError          the client was used after aclose()
    ├── TransportError             no usable HTTP answer (connection refused, reset, timeout)
    │   └── TriggerOutcomeUnknown  a trigger was sent but no answer came back: a call MAY
    │                              have been placed, so it is never re-sent automatically
    └── APIStatusError             the server answered with an error status
        ├── BadRequestError        400
        ├── AuthenticationError    401
        ├── PermissionDeniedError  403
        ├── NotFoundError          404 (unknown sid, or status retention has passed)
        ├── RateLimitError         429 (carries retry_after)
        └── ServerError            5xx

Messages never contain credentials, and phone numbers in them are masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "NotFoundError",
    "PermissionDeniedError",
    "PolyOutError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "TriggerOutcomeUnknown",
    "ValidationError",
]


class PolyOutError(Exception):
    """Base class of every polyout exception."""


class ValidationError(PolyOutError, ValueError):
    """Input that would be rejected by the API, refused before any request is sent."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ConfigurationError(PolyOutError, ValueError):
    """A setting that cannot work, refused when the object that takes it is built.

    ``setting`` names the parameter (as the Python keyword, e.g. ``max_retries``) and
    ``reason`` says what is wrong with the value. It is a :class:`ValueError` too, so code
    written against 0.1's plain ``ValueError`` keeps working.
    """

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting
        self.reason = reason


class ClientClosedError(PolyOutError, RuntimeError):
    """The client was closed and cannot send requests any more."""


class TransportError(PolyOutError):
    """No usable HTTP answer was received (connection failed, was cut, or timed out)."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class TriggerOutcomeUnknown(TransportError):
    """A trigger request was sent but no answer came back.

    The call may or may not have been placed. Re-sending could ring the person twice,
    so polyout never retries this by itself; decide with your own records.
    """

    def __init__(
        self,
        message: str,
        *,
        masked_number: str,
        method: str = "",
        path: str = "",
        status_code: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.masked_number = masked_number
        self.status_code = status_code
        self.correlation_id = correlation_id


class APIStatusError(PolyOutError):
    """The API answered with an error status.

    ``message`` and ``code`` are parsed from whichever of the documented error body
    shapes the server used; ``body`` keeps the raw text (its first 2,000 characters, with
    credentials and phone numbers masked). ``correlation_id`` is the
    ``X-PolyAI-Correlation-Id`` header: quote it to PolyAI support.
    """

    def __init__(
        self,
        status_code: int,
        *,
        message: str,
        code: str | None = None,
        correlation_id: str | None = None,
        body: str = "",
        parsed: Mapping[str, Any] | None = None,
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.code = code
        self.correlation_id = correlation_id
        self.body = body
        self.parsed = parsed
        self.method = method
        self.path = path
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" from {self.method} {self.path}" if self.path else ""
        text = f"HTTP {self.status_code}{where}: {self.message}"
        if self.code:
            text += f" [{self.code}]"
        if self.correlation_id:
            text += f" (correlation id {self.correlation_id})"
        return text


class BadRequestError(APIStatusError):
    """400: the server refused the request's content."""


class AuthenticationError(APIStatusError):
    """401: the credential is missing or wrong, or the connector is not set up for outbound."""


class PermissionDeniedError(APIStatusError):
    """403: the credential may not do this."""


class NotFoundError(APIStatusError):
    """404: unknown call, no connector for the environment, or status retention has passed."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""


class ServerError(APIStatusError):
    """5xx: the server failed. For a trigger, the documented 500/502 mean no call was placed."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def error_class_for(status_code: int) -> type[APIStatusError]:
    """The most specific exception class for an HTTP error status."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, APIStatusError)
