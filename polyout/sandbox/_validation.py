"""Checking a trigger body the way the real service does, and normalising its number.

One ``TriggerSchema`` per API names its body fields; ``validate_trigger`` returns the
normalised request or every problem found, so the Agents API can list them all and
the others can report the first.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import phonenumbers

from ._config import AGENT_ENVIRONMENTS

__all__ = [
    "METADATA_BASE64_LIMIT",
    "FieldError",
    "TriggerRequest",
    "TriggerSchema",
    "check_environment",
    "metadata_base64_size",
    "validate_trigger",
]

# phonenumbers compiles patterns through the re module's 512-entry cache, which a
# load spread over many countries keeps evicting (about 20x slower). Its own cache
# holds every metadata pattern, a bounded set. Older releases lack the switch.
_enable_pattern_cache = getattr(phonenumbers.re_util, "enable_pattern_cache", None)
if _enable_pattern_cache is not None:
    _enable_pattern_cache()

# "The base64 representation of the metadata must be under 26 KB."
METADATA_BASE64_LIMIT = 26 * 1024

# An optional field left out, as distinct from one sent as null (see TriggerSchema.typed).
_ABSENT: Any = object()


@attrs.frozen
class FieldError:
    field: str
    message: str
    code: str


@attrs.frozen
class TriggerSchema:
    """The body fields of one API's trigger request."""

    number: str
    country_code: str
    encryptions: tuple[str, ...]
    """Accepted values; the first is the default."""
    environment: str | None = None
    """The required environment field (Agents API only)."""
    variant: str | None = None
    metadata: str = "metadata"
    typed: bool = False
    """True where the vendor publishes a JSON schema of the body (the Agents API's
    OpenAPI document), which then decides: an optional field sent as null breaks its
    type (a string, or an object of strings) and is refused, and a field the schema does
    not name is allowed (there is no ``additionalProperties: false``) and ignored.
    Otherwise null means absent, and a field the docs do not list is refused, so that a
    misspelt one shows up in tests rather than vanishing."""

    @property
    def fields(self) -> frozenset[str]:
        names = {self.number, self.country_code, "encryption", self.metadata}
        names.update(name for name in (self.environment, self.variant) if name)
        return frozenset(names)


@attrs.frozen
class TriggerRequest:
    """A valid trigger body, normalised."""

    number: str
    """E.164."""
    metadata: dict[str, str]
    encryption: str
    environment: str | None
    variant_id: str | None


def metadata_base64_size(metadata: dict[str, str]) -> int:
    """Bytes in the base64 of the metadata's compact JSON encoding (UTF-8)."""
    encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    # base64 turns every started group of 3 bytes into 4 characters.
    return 4 * ((len(encoded) + 2) // 3)


def validate_trigger(body: Any, schema: TriggerSchema) -> TriggerRequest | list[FieldError]:
    """The normalised request, or every problem with ``body`` (a parsed JSON value)."""
    if not isinstance(body, dict):
        return [FieldError("body", "request body must be a JSON object", "INVALID_BODY")]
    known = schema.fields
    errors = [
        FieldError(name, f"unknown field {name!r}", "UNKNOWN_FIELD")
        for name in body
        if not schema.typed and name not in known
    ]
    if not schema.typed:
        body = {name: value for name, value in body.items() if value is not None}
    number = _number(body, schema, errors)
    metadata = _metadata(body.get(schema.metadata, _ABSENT), schema.metadata, errors)
    encryption = _choice(body.get("encryption", _ABSENT), "encryption", schema.encryptions, errors)
    environment = None
    if schema.environment is not None:
        environment = check_environment(body.get(schema.environment), schema.environment, errors)
    variant_id = None
    if schema.variant is not None:
        variant_id = _optional_string(body.get(schema.variant, _ABSENT), schema.variant, errors)
    if errors or number is None:
        return errors
    return TriggerRequest(
        number=number,
        metadata=metadata,
        encryption=encryption,
        environment=environment,
        variant_id=variant_id,
    )


def _number(body: dict[str, Any], schema: TriggerSchema, errors: list[FieldError]) -> str | None:
    region = _country_code(body.get(schema.country_code, _ABSENT), schema.country_code, errors)
    raw = body.get(schema.number)
    field = schema.number
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors.append(FieldError(field, f"{field} is required", "MISSING_PHONE_NUMBER"))
        return None
    if not isinstance(raw, str):
        errors.append(FieldError(field, f"{field} must be a string", "INVALID_PHONE_NUMBER"))
        return None
    if region is None and not raw.lstrip().startswith("+"):
        message = (
            f"{field} is not in E.164 format (e.g. +442012345678); "
            f"supply {schema.country_code} to dial a national-format number"
        )
        errors.append(FieldError(field, message, "INVALID_PHONE_NUMBER"))
        return None
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        errors.append(
            FieldError(
                field, f"{field} could not be parsed as a phone number", "INVALID_PHONE_NUMBER"
            )
        )
        return None
    if not phonenumbers.is_valid_number(parsed):
        errors.append(
            FieldError(field, f"{field} is not a valid phone number", "INVALID_PHONE_NUMBER")
        )
        return None
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164


def _country_code(value: Any, field: str, errors: list[FieldError]) -> str | None:
    if value is _ABSENT:
        return None
    region = value.upper() if isinstance(value, str) else None
    if region is None or region not in phonenumbers.SUPPORTED_REGIONS:
        message = (
            f"{field} must be an ISO 3166-1 alpha-2 country code (e.g. GB), got {_json(value)}"
        )
        errors.append(FieldError(field, message, "INVALID_COUNTRY_CODE"))
        # Marks "a country code was given" so the number is not also blamed
        # for lacking one; parsing it then fails on its own merits.
        return "ZZ"
    return region


def _metadata(value: Any, field: str, errors: list[FieldError]) -> dict[str, str]:
    if value is _ABSENT:
        return {}
    if not isinstance(value, dict):
        errors.append(
            FieldError(field, f"{field} must be an object of string values", "INVALID_METADATA")
        )
        return {}
    for key, item in value.items():
        if not isinstance(item, str):
            kind = "null" if item is None else type(item).__name__
            message = f"{field} value for {key!r} must be a string, got {kind}"
            errors.append(FieldError(f"{field}.{key}", message, "INVALID_METADATA"))
    size = metadata_base64_size(value)
    if size >= METADATA_BASE64_LIMIT:
        limit = METADATA_BASE64_LIMIT
        message = f"{field} is too large: its base64 is {size} bytes, it must be under {limit}"
        errors.append(FieldError(field, message, "METADATA_TOO_LARGE"))
    return value


def _choice(value: Any, field: str, allowed: tuple[str, ...], errors: list[FieldError]) -> str:
    if value is _ABSENT:
        return allowed[0]
    if not isinstance(value, str) or value not in allowed:
        message = f"{field} must be one of {', '.join(allowed)}, got {_json(value)}"
        errors.append(FieldError(field, message, "INVALID_ENCRYPTION"))
    return str(value)


def check_environment(value: Any, field: str, errors: list[FieldError]) -> str | None:
    """An Agents API environment (body field or query parameter), or None and an error."""
    if value is None:
        errors.append(FieldError(field, f"{field} is required", "MISSING_ENVIRONMENT"))
        return None
    if not isinstance(value, str) or value not in AGENT_ENVIRONMENTS:
        message = f"{field} must be one of {', '.join(sorted(AGENT_ENVIRONMENTS))}, got {value!r}"
        errors.append(FieldError(field, message, "INVALID_ENVIRONMENT"))
        return None
    return str(value)


def _optional_string(value: Any, field: str, errors: list[FieldError]) -> str | None:
    if value is _ABSENT:
        return None
    if isinstance(value, str):
        return value
    errors.append(FieldError(field, f"{field} must be a string", "INVALID_FIELD"))
    return None


def _json(value: Any) -> str:
    """A value as the client wrote it, for a message (JSON's null, not Python's None)."""
    return "null" if value is None else repr(value)
