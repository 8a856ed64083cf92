"""Validation of everything a trigger sends, done once, before anything leaves the machine."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from polyout._errors import ValidationError
from polyout._models import CallRequest, Encryption
from polyout._phone import to_e164

__all__ = ["METADATA_LIMIT", "build_request", "metadata_size", "parse_encryption"]

#: The documented limit: the base64 of the metadata must be under 26 KB.
METADATA_LIMIT = 26 * 1024

# Each metadata key travels to the agent as a SIP header, so it must be a SIP token
# (RFC 3261). The docs set no rule; refusing here beats a call that loses its context.
_SIP_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# A SIP header value cannot carry line breaks or NUL.
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]")


def build_request(
    to_number: str,
    *,
    country_code: str | None = None,
    metadata: Mapping[str, str] | None = None,
    encryption: Encryption | str | None = None,
    variant_id: str | None = None,
) -> CallRequest:
    """Validate a call's input and return the request polyout will send.

    Raises :class:`polyout.ValidationError` naming the field and the reason.
    """
    e164 = to_e164(to_number, country_code)
    checked = check_metadata(metadata) if metadata is not None else {}
    if variant_id is not None and (not isinstance(variant_id, str) or not variant_id.strip()):
        raise ValidationError("variant_id", "must be a non-empty string")
    return CallRequest(
        to_number=e164,
        metadata=checked,
        encryption=parse_encryption(encryption) if encryption is not None else None,
        variant_id=variant_id,
    )


def check_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata", f"must be a mapping, not {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not _SIP_TOKEN.fullmatch(key):
            raise ValidationError(
                "metadata",
                f"key {key!r} cannot travel as a SIP header: use letters, digits, '-' and '_'",
            )
        if not isinstance(value, str):
            raise ValidationError(
                f"metadata.{key}", f"must be a string, not {type(value).__name__}"
            )
        if _FORBIDDEN_IN_VALUE.search(value):
            raise ValidationError(f"metadata.{key}", "must not contain line breaks or NUL")
    size = metadata_size(metadata)
    if size >= METADATA_LIMIT:
        raise ValidationError(
            "metadata", f"is {size} bytes as base64; the API accepts under {METADATA_LIMIT}"
        )
    return dict(metadata)


def metadata_size(metadata: Mapping[str, str]) -> int:
    """Length of the base64 of the metadata's JSON, measured without building it.

    ASCII-escaped JSON is never shorter than UTF-8 JSON, so measuring it keeps us under
    the limit whichever encoding the server applies.
    """
    encoded = json.dumps(dict(metadata), separators=(",", ":"), ensure_ascii=True)
    return 4 * -(-len(encoded) // 3)


_ENCRYPTION_ALIASES = {item.value: item for item in Encryption}


def parse_encryption(value: Encryption | str) -> Encryption:
    """Accept ``Encryption.TLS_SRTP``, ``"tls_srtp"`` or the Platform spelling ``"TLS/SRTP"``."""
    if isinstance(value, Encryption):
        return value
    if isinstance(value, str):
        key = value.strip().lower().replace("/", "_").replace("-", "_")
        if key in _ENCRYPTION_ALIASES:
            return _ENCRYPTION_ALIASES[key]
    choices = ", ".join(item.value for item in Encryption)
    raise ValidationError("encryption", f"{value!r} is not one of {choices}")
