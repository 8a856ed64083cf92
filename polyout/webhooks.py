"""Signing and verifying polyout's webhooks: the sender's side and the receiver's.

Every webhook polyout sends (campaign events, the pre-dial hook's request) carries the
header ``Polyout-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, the HMAC keyed with
the shared secret over ``"<t>." + raw body``. A receiver checks it with :func:`verify`
before trusting the body::

    from polyout.webhooks import WebhookSignatureError, verify

    try:
        verify(raw_body, request.headers["Polyout-Signature"], secret)
    except WebhookSignatureError:
        return 400

The timestamp is signed with the body, so an old request replayed later is refused
(``tolerance`` seconds, both ways: a clock running ahead is refused too). Several
``v1=`` values may be given (the sender signing with an old and a new secret while the
secret is rotated); one matching is enough. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "WebhookSignatureError", "sign", "verify"]

#: The HTTP header that carries the signature.
SIGNATURE_HEADER = "Polyout-Signature"
_SCHEME = "v1"


class WebhookSignatureError(ValueError):
    """A webhook's signature header is missing, malformed, too old, or does not match.

    The message says which, and never contains the secret or the body.
    """


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Polyout-Signature`` header value for ``body`` (now, unless ``timestamp``)."""
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    at = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={at},{_SCHEME}={_digest(body, secret, at)}"


def verify(
    body: bytes,
    header: str | None,
    secret: str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> None:
    """Check ``header`` (the ``Polyout-Signature`` value) against the raw ``body``.

    Returns None when the signature is valid; raises :class:`WebhookSignatureError`
    when the header is missing or malformed, its timestamp is more than ``tolerance``
    seconds from ``now`` (the system clock by default) either way, or no ``v1`` value
    matches. Pass the body exactly as received: re-serialised JSON does not match.
    """
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    if not header:
        raise WebhookSignatureError(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError(f"malformed {SIGNATURE_HEADER} header")
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                raise WebhookSignatureError(f"malformed timestamp in {SIGNATURE_HEADER}")
            timestamp = int(value)
        elif key == _SCHEME:
            candidates.append(value)
    if timestamp is None:
        raise WebhookSignatureError(f"no timestamp (t=) in {SIGNATURE_HEADER}")
    if not candidates:
        raise WebhookSignatureError(f"no {_SCHEME} signature in {SIGNATURE_HEADER}")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(
            f"signature timestamp is {abs(current - timestamp):.0f} s from now "
            f"(more than the {tolerance:g} s allowed): a replay, or a clock far off"
        )
    expected = _digest(body, secret, timestamp).encode("ascii")
    # Every candidate is compared (no early exit): the time taken says nothing. As
    # bytes: compare_digest refuses a str that is not ASCII (a mangled header).
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookSignatureError("signature does not match the body and secret")
