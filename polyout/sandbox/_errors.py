"""Errors the emulated APIs answer with, and the four body shapes the vendor uses.

The vendor's docs show four different error bodies across its APIs; the sandbox uses
every one of them (see ``_apis`` for which API answers with which) so that clients'
tolerant error parsers meet each shape in tests:

- flat:      ``{"error": "…", "code": "…"}``
- envelope:  ``{"success": false, "error": "…", "error_id": "…", "error_code": "UPPER_SNAKE",
               "error_message": "…", "data": null}``
- nested:    ``{"error": {"code": "…", "id": "…", "message": "…", "correlation_id": "…"}}``
- fields:    ``{"message": "…", "errors": [{"field": "…", "message": "…"}]}``
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from ._validation import FieldError

__all__ = ["ApiError", "envelope_body", "fields_body", "flat_body", "nested_body"]


class ApiError(Exception):
    """An error response: status, machine code, human message, and maybe field errors."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: tuple[FieldError, ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = dict(headers or {})

    @classmethod
    def invalid(cls, errors: list[FieldError]) -> ApiError:
        """A 400 for failed validation; the first problem names the error."""
        first = errors[0]
        return cls(400, first.code, first.message, fields=tuple(errors))

    @property
    def detail(self) -> str:
        """The message, followed by every field problem when there are several."""
        if len(self.fields) <= 1:
            return self.message
        return "; ".join(error.message for error in self.fields)

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def flat_body(error: ApiError) -> dict[str, Any]:
    return {"error": error.detail, "code": error.code}


def envelope_body(error: ApiError) -> dict[str, Any]:
    return {
        "success": False,
        "error": HTTPStatus(error.status).phrase,
        "error_id": uuid.uuid4().hex,
        "error_code": error.code,
        "error_message": error.detail,
        "data": None,
    }


def nested_body(error: ApiError, correlation_id: str) -> dict[str, Any]:
    return {
        "error": {
            "code": error.code,
            "id": uuid.uuid4().hex,
            "message": error.detail,
            "correlation_id": correlation_id,
        }
    }


def fields_body(error: ApiError) -> dict[str, Any]:
    return {
        "message": "Validation failed",
        "errors": [{"field": item.field, "message": item.message} for item in error.fields],
    }
