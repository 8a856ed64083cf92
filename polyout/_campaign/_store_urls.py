"""A store URL's secrets: shown as ``***``, and listed so that nothing prints them.

Cheap to import (the command line scrubs its arguments before it parses them). A
PostgreSQL URL carries its password in the userinfo (``user:secret@``) or as a
``password=`` parameter; the user name is no secret and stays.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["SCHEME", "redact_store_url", "store_url_secrets"]

SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<value>[^&#]*)", re.IGNORECASE)
_MASK = "***"


def redact_store_url(url: str) -> str:
    """``url`` with its password (userinfo or ``password=``) shown as ``***``; a user
    name stays (it is no secret in a database URL). Never raises."""
    scheme = SCHEME.match(url)
    if scheme is not None:
        start = scheme.end()
        end = len(url)
        for stop in "/?#":
            found = url.find(stop, start)
            if found >= 0:
                end = min(end, found)
        at = url.rfind("@", start, end)
        colon = url.find(":", start, at) if at >= 0 else -1
        if colon >= 0:
            url = f"{url[: colon + 1]}{_MASK}{url[at:]}"
    return _QUERY_PASSWORD.sub(lambda match: f"{match['head']}{_MASK}", url)


def store_url_secrets(url: str) -> list[str]:
    """The passwords in a store URL, as typed and decoded: what must never be printed."""
    if redact_store_url(url) == url:
        return []
    found: list[str] = []
    scheme = SCHEME.match(url)
    if scheme is not None:
        try:
            parts = urlsplit(url)
            password = (
                parts.netloc.rpartition("@")[0].partition(":")[2] if "@" in parts.netloc else ""
            )
        except ValueError:
            password = ""
        found.append(password)
    found += [match["value"] for match in _QUERY_PASSWORD.finditer(url)]
    found += [unquote(secret) for secret in found]
    return [secret for secret in dict.fromkeys(found) if secret and secret != _MASK]
