"""Credentials that never show themselves, and scrubbing of what a server echoes back.

A server that repeats the key in an error body must not get it into our exceptions, logs,
journal or results. It may repeat it JSON-escaped: ``/`` as ``\\/`` and any character as
``\\uXXXX`` (``System.Text.Json`` escapes ``+``, some encoders every non-letter), so a
plain ``bytes.replace`` misses it. Each secret is therefore searched as a pattern that
accepts every JSON spelling of each of its characters, in the raw body: the decoded
body, the error's text and everything parsed from it are then clean too.

The same goes for a password in ``base_url`` (``http://user:password@host``): the client
still sends it, as aiohttp does, but only :func:`redact_url` forms are ever shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["Scrubber", "Secret", "SecretHeaders", "redact_url"]

#: Shorter "secrets" (tests use one letter) would mangle ordinary text if scrubbed.
_MIN_SCRUBBED = 8
_MASK = "***"
_MASK_BYTES = _MASK.encode()
_USERINFO_IN_TEXT = re.compile(r"(?<=://)([^/?#@\s:]*)(:[^/?#@\s]*)?@")


class Secret:
    """A credential that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def header(self, name: str) -> dict[str, str]:
        return {name: self._value}

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class SecretHeaders:
    """Request headers holding a credential, made once and never shown."""

    __slots__ = ("_value",)

    def __init__(self, value: Mapping[str, str]) -> None:
        self._value = dict(value)

    def reveal(self) -> dict[str, str]:
        """The headers to send; aiohttp copies them, and nothing may change them."""
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


def _json_spellings(char: str) -> str:
    """A regex alternation of every way JSON may write ``char`` inside a string."""
    code = ord(char)
    ways = [re.escape(char), rf"\\u{code:04x}"]  # IGNORECASE covers \u002B and \u002b
    if char == "/":
        ways.append(r"\\/")
    if code > 0xFFFF:  # a surrogate pair; keys are ASCII, but a password need not be
        high, low = divmod(code - 0x10000, 0x400)
        ways.append(rf"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
    return "(?:" + "|".join(ways) + ")"


class Scrubber:
    """Replaces every known secret, however a server spelled it, with ``***``."""

    __slots__ = ("_bytes_pattern", "_plain", "_text_pattern")

    def __init__(self, *secrets: str | None) -> None:
        kept = sorted({s for s in secrets if s and len(s) >= _MIN_SCRUBBED}, key=len, reverse=True)
        self._plain = [secret.encode() for secret in kept]
        source = "|".join("".join(_json_spellings(ch) for ch in secret) for secret in kept)
        self._text_pattern = re.compile(source, re.IGNORECASE) if kept else None
        self._bytes_pattern = re.compile(source.encode(), re.IGNORECASE) if kept else None

    def scrub(self, data: bytes) -> bytes:
        if self._bytes_pattern is None:
            return data
        if b"\\" not in data:
            # Without a backslash nothing is escaped: plain replaces are ~20x cheaper
            # than the pattern, and nearly every answer takes this path.
            for secret in self._plain:
                if secret in data:
                    data = data.replace(secret, _MASK_BYTES)
            return data
        return self._bytes_pattern.sub(_MASK_BYTES, data)

    def scrub_text(self, text: str) -> str:
        """``text`` (a library's message, say) without secrets or any URL's userinfo."""
        # A URL quoted in the text shows its userinfo masked, however short the password.
        text = _USERINFO_IN_TEXT.sub(_masked_userinfo, text)
        if self._text_pattern is None:
            return text
        return self._text_pattern.sub(_MASK, text)


def _masked_userinfo(match: re.Match[str]) -> str:
    # As redact_url does: keep a user name before a password, mask a lone user (a token).
    return f"{match.group(1)}:{_MASK}@" if match.group(2) else f"{_MASK}@"


def url_password(url: str) -> str | None:
    """The secret part of ``url``'s userinfo: the password, or a lone user (often a token)."""
    userinfo = _userinfo(url)[1]
    if userinfo is None:
        return None
    user, colon, password = userinfo.partition(":")
    return password if colon else user


def redact_url(url: str) -> str:
    """``url`` safe to show: ``http://u:secret@host`` -> ``http://u:***@host``.

    A userinfo with no password is masked whole (``https://TOKEN@host`` -> ``https://***@host``):
    a lone user name in a URL is usually a token. Never raises, whatever ``url`` holds,
    so it can redact a malformed ``--base-url`` in an error message too.
    """
    start, userinfo, end = _userinfo(url)
    if userinfo is None:
        return url
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:{_MASK}" if colon else _MASK
    return url[:start] + shown + url[end:]


def _userinfo(url: str) -> tuple[int, str | None, int]:
    """Where the userinfo of ``url`` starts and ends (end = its ``@``), and its text."""
    scheme_end = url.find("://")
    start = scheme_end + 3 if scheme_end >= 0 else 0
    authority_end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if found >= 0:
            authority_end = min(authority_end, found)
    at = url.rfind("@", start, authority_end)  # a password may itself hold "@"
    if at < 0:
        return start, None, start
    return start, url[start:at], at
