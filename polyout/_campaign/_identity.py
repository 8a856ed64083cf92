"""Which server, and which agent or project there, a campaign runs through.

Stored with the campaign when it is created and compared on resume: call sids mean
something only to the server and the agent or project that gave them. Resuming through
another agent would dial the rest of the list from the wrong one, and its polls of the
first run's calls would find nothing. Never the key: only what names the place.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from polyout._campaign._placer import Placer

__all__ = ["connection_identity", "identity_mismatch"]

_FIELDS = ("api", "base_url", "agent_id", "environment", "account_id", "project_id")


def connection_identity(client: Placer) -> dict[str, str]:
    """The placer's API, base URL (without credentials) and the ids it calls under (a
    ``polyout.Client`` names its agent or account; another placer, its URL only)."""
    dialect = getattr(client, "_dialect", None)
    identity = {"api": str(client.api), "base_url": _plain_url(str(client.base_url))}
    for name in ("agent_id", "environment", "account_id", "project_id"):
        value = getattr(dialect, name, None)
        if value:
            identity[name] = str(value)
    return identity


def identity_mismatch(stored: Mapping[str, object], current: Mapping[str, str]) -> str | None:
    """How ``current`` differs from the ``stored`` identity, naming both; None if it does not.

    A field the journal does not hold (a journal from before it was stored) is not compared.
    """
    differences = [
        (name, str(stored[name]), current.get(name, "none"))
        for name in _FIELDS
        if name in stored and str(stored[name]) != current.get(name, "none")
    ]
    if not differences:
        return None
    return "; ".join(
        f"{name} {was!r} in the journal, {now!r} for this client" for name, was, now in differences
    )


def _plain_url(url: str) -> str:
    """``url`` without user name or password, scheme and host in lower case, no final /."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        if ":" in host:  # an IPv6 address goes back in brackets
            host = f"[{host}]"
        netloc = host if parts.port is None else f"{host}:{parts.port}"
    except ValueError:
        return "(unreadable URL)"
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))
