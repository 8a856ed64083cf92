"""Phone numbers: parse once at input into E.164, mask for logs, find a number's time zones.

Only phonenumbers' core metadata and its small time zone table are imported: the
geocoder and carrier data are large and never needed here.
"""

from __future__ import annotations

import re

import phonenumbers
import phonenumbers.re_util
from phonenumbers import timezone as _timezone

from polyout._errors import ValidationError

# phonenumbers compiles each region's patterns through the re module's cache, which
# holds 512 entries: a list cycling through many countries evicts them all the time and
# validates ~20x slower (measured: 2.7k vs 53k numbers/s over 200 regions). Its own
# cache keeps every metadata pattern (about 1,100, bounded by the metadata).
_enable_pattern_cache = getattr(phonenumbers.re_util, "enable_pattern_cache", None)
if _enable_pattern_cache is not None:
    _enable_pattern_cache()

__all__ = ["mask_number", "normalize_country_code", "time_zones_for", "to_e164"]

# phonenumbers refuses longer input itself, but only after work proportional to its size.
_MAX_INPUT = 64
# Any letter: phonenumbers reads letters as keypad digits ("O" as 6), so a typo would ring
# someone else. Vanity numbers and extensions are refused rather than guessed.
_LETTER = re.compile(r"[^\W\d_]")
_UNKNOWN_ZONE = "Etc/Unknown"


def normalize_country_code(country_code: str) -> str:
    """An upper-case ISO 3166-1 alpha-2 region that phonenumbers knows, or ValidationError."""
    region = country_code.strip().upper() if isinstance(country_code, str) else ""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            "country_code", f"{country_code!r} is not an ISO 3166-1 alpha-2 country code"
        )
    return region


def to_e164(number: str, country_code: str | None = None) -> str:
    """Parse ``number`` (E.164, or national format with ``country_code``) into E.164.

    Error messages never repeat the number: they end up in logs.
    """
    if not isinstance(number, str):
        raise ValidationError("to_number", f"must be a string, not {type(number).__name__}")
    text = number.strip()
    if not text:
        raise ValidationError("to_number", "is empty")
    if len(text) > _MAX_INPUT:
        raise ValidationError("to_number", f"is longer than {_MAX_INPUT} characters")
    region = normalize_country_code(country_code) if country_code is not None else None
    if _LETTER.search(text):
        raise ValidationError(
            "to_number", "contains letters: write it in digits (letters are never guessed)"
        )
    if region is None and not text.startswith("+"):
        raise ValidationError(
            "to_number",
            "is not in E.164 format (+ then country code and number); "
            "pass country_code to parse a national number",
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("to_number", f"cannot be parsed ({_parse_failure(exc)})") from None
    if parsed.extension:
        raise ValidationError("to_number", "has an extension, which an outbound call cannot dial")
    if not phonenumbers.is_valid_number(parsed):
        where = f" for {region}" if region else ""
        raise ValidationError("to_number", f"is not a valid phone number{where}")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _parse_failure(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "not a phone number")


def time_zones_for(e164: str) -> tuple[str, ...]:
    """The IANA time zones a number may ring in; empty when phonenumbers cannot tell."""
    zones = _timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


def mask_number(number: str) -> str:
    """``+447700900750`` -> ``+44*******750``: enough to recognise, not enough to dial."""
    if not number.startswith("+"):
        return "*" * max(len(number) - 2, 0) + number[-2:] if len(number) > 4 else "****"
    digits = number[1:]
    code = _country_prefix(digits)
    rest = digits[len(code) :]
    if len(rest) <= 3:
        return "+" + code + "*" * len(rest)
    return "+" + code + "*" * (len(rest) - 3) + rest[-3:]


# What servers put between the digits of a number they format: spaces (a no-break space
# too), dots, dashes, slashes and brackets, as in "+1 (415) 555-2671" or "415.555.2671".
_SEPARATORS = rb"(?:[ \t.\-/()]|\xc2\xa0)*"
# Any number written internationally: "+" (or JSON's "\u002B") then 7 to 15 digits with
# at most two separators between digits. The "+" keeps dates and ids out of it.
_INTERNATIONAL = re.compile(rb"(?:\+|\\u002[bB])\d(?:(?:[ .\-()]|\xc2\xa0){0,2}\d){6,14}")


def scrub_numbers(data: bytes, number: str | None = None) -> bytes:
    """``data`` with every written phone number masked, however it was formatted.

    ``number`` (E.164, the one we sent) is found by its national digits, which every
    spelling shares (``+1 415 555-2671``, ``(415) 555-2671``, ``07700 900750``), with any
    separators between them. Any other number written with a leading ``+`` is masked too.
    """
    data = _INTERNATIONAL.sub(_mask_international, data)
    if number is None or not number.startswith("+"):
        return data
    digits = number[1:]
    national = digits[len(_country_prefix(digits)) :]
    if len(national) < 6:  # too short to find safely in ordinary text
        return data
    pattern = _SEPARATORS.join(re.escape(digit.encode()) for digit in national)
    masked = ("*" * (len(national) - 3) + national[-3:]).encode()
    return re.sub(pattern, masked, data)


def _mask_international(match: re.Match[bytes]) -> bytes:
    digits = bytes(ch for ch in match.group() if 0x30 <= ch <= 0x39).decode()
    if match.group().startswith(b"\\"):
        digits = digits[3:]  # the "002" of the escaped "+"
    return mask_number("+" + digits).encode()


def _country_prefix(digits: str) -> str:
    for size in (1, 2, 3):
        prefix = digits[:size]
        if prefix.isdigit() and int(prefix) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return prefix
    return ""
