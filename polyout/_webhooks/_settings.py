"""``polyout.Webhook``: where a campaign's events go, signed with which secret, how fast."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from polyout._errors import ConfigurationError

__all__ = ["SECRET_ENV", "Webhook", "check_url", "shown_url"]

#: The environment variable the CLI reads the webhook secret from (never a flag).
SECRET_ENV = "POLYOUT_WEBHOOK_SECRET"


def check_url(url: str, setting: str) -> str:
    """``url`` if it is an http(s) URL with a host, else ConfigurationError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(setting, f"{shown_url(url)!r} is not an http:// or https:// URL")
    return url


def shown_url(url: str) -> str:
    """The URL as logs and messages may show it: without a password in it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _positive(setting: str) -> Callable[[object, Any, float], None]:
    def check(instance: object, attribute: Any, value: float) -> None:
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ConfigurationError(setting, f"must be a positive number, not {value!r}")

    return check


@attrs.frozen(repr=False)
class Webhook:
    """Where a campaign's events are POSTed (``Campaign(webhook=...)``), signed.

    * ``url``: the receiver; stored with the campaign, so a resumed campaign (or a
      worker joining it) delivers there with ``url=None``. Giving one on resume moves
      the endpoint (and enables it again after a ``410 Gone``).
    * ``secret``: the HMAC key of the ``Polyout-Signature`` header. Never stored, logged
      or shown (not even in this object's repr). The CLI reads it from
      ``POLYOUT_WEBHOOK_SECRET``.
    * ``drain``: seconds a finishing run waits for the outbox to empty.
    * ``timeout``: seconds one delivery may take; ``concurrency``: deliveries at once;
      ``rate``: deliveries per second at most; ``retry_base``/``retry_cap``: the
      jittered exponential backoff between retries (a Retry-After is honoured, bounded
      by ``retry_cap``).
    """

    url: str | None = None
    secret: str = attrs.field(default="", kw_only=True)
    drain: float = attrs.field(default=30.0, kw_only=True)
    timeout: float = attrs.field(default=10.0, kw_only=True, validator=_positive("timeout"))
    concurrency: int = attrs.field(default=8, kw_only=True)
    rate: float = attrs.field(default=50.0, kw_only=True, validator=_positive("rate"))
    retry_base: float = attrs.field(default=1.0, kw_only=True, validator=_positive("retry_base"))
    retry_cap: float = attrs.field(default=300.0, kw_only=True, validator=_positive("retry_cap"))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.secret, str) or not self.secret:
            raise ConfigurationError(
                "secret", f"a webhook needs a secret to sign with (the CLI reads {SECRET_ENV})"
            )
        if self.url is not None:
            check_url(self.url, "webhook")
        if not (isinstance(self.drain, (int, float)) and 0 <= self.drain < math.inf):
            raise ConfigurationError("drain", f"must be seconds (0 or more), not {self.drain!r}")
        if not isinstance(self.concurrency, int) or not 1 <= self.concurrency <= 1000:
            raise ConfigurationError("concurrency", "must be a whole number from 1 to 1000")

    @classmethod
    def from_env(cls, url: str | None = None, *, drain: float = 30.0) -> Webhook | None:
        """The webhook with the secret of ``POLYOUT_WEBHOOK_SECRET``; None when it is
        unset and no ``url`` is given (a campaign without webhooks)."""
        secret = os.environ.get(SECRET_ENV, "")
        if not secret and url is None:
            return None
        if not secret:
            raise ConfigurationError(
                "webhook", f"a webhook needs a secret to sign with: set {SECRET_ENV}"
            )
        return cls(url, secret=secret, drain=drain)

    def __repr__(self) -> str:
        where = shown_url(self.url) if self.url is not None else "the stored endpoint"
        return f"<Webhook {where} secret=*** drain={self.drain:g}s>"
