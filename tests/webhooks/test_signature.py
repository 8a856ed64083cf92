"""``polyout.webhooks``: the signature a receiver checks (tampering, replay, rotation)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from polyout.webhooks import WebhookSignatureError, sign, verify

BODY = b'{"id":"evt_1","type":"contact.finished","data":{"state":"success"}}'
SECRET = "whsec-test-0123456789"
NOW = 1_800_000_000


def test_the_header_is_the_documented_hmac_of_timestamp_dot_body() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    verify(BODY, header, SECRET, now=NOW)


def test_a_fresh_signature_verifies_on_the_system_clock() -> None:
    verify(BODY, sign(BODY, SECRET), SECRET)


def test_a_tampered_body_is_refused() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY.replace(b"success", b"failure"), header, SECRET, now=NOW)


def test_a_wrong_secret_is_refused_and_never_named() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    with pytest.raises(WebhookSignatureError) as refused:
        verify(BODY, header, "another-secret", now=NOW)
    assert "another-secret" not in str(refused.value)
    assert SECRET not in str(refused.value)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_an_old_or_future_timestamp_is_a_replay(skew: int) -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    with pytest.raises(WebhookSignatureError, match="from now"):
        verify(BODY, header, SECRET, now=NOW + skew)


def test_within_the_tolerance_both_ways_it_verifies() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    verify(BODY, header, SECRET, now=NOW + 300)
    verify(BODY, header, SECRET, now=NOW - 300)
    with pytest.raises(WebhookSignatureError):
        verify(BODY, header, SECRET, tolerance=10, now=NOW + 11)


def test_a_timestamp_changed_after_signing_is_refused() -> None:
    header = sign(BODY, SECRET, timestamp=NOW).replace(f"t={NOW}", f"t={NOW + 1}")
    with pytest.raises(WebhookSignatureError, match="does not match"):
        verify(BODY, header, SECRET, now=NOW)


def test_rotation_one_of_several_v1_values_matching_is_enough() -> None:
    old = sign(BODY, "old-secret", timestamp=NOW)
    new = sign(BODY, SECRET, timestamp=NOW)
    both = f"{old},v1={new.split('v1=')[1]}"
    verify(BODY, both, SECRET, now=NOW)
    verify(BODY, both, "old-secret", now=NOW)
    with pytest.raises(WebhookSignatureError):
        verify(BODY, both, "third-secret", now=NOW)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "no Polyout-Signature"),
        ("", "no Polyout-Signature"),
        ("v1=abc", "no timestamp"),
        (f"t={NOW}", "no v1"),
        ("t=soon,v1=abc", "malformed timestamp"),
        (f"t={NOW},t={NOW},v1=abc", "malformed timestamp"),
        ("garbage", "malformed"),
        (f"t={NOW},v1=ünïcode", "does not match"),
    ],
)
def test_a_malformed_header_is_one_clear_error(header: str | None, why: str) -> None:
    with pytest.raises(WebhookSignatureError, match=why):
        verify(BODY, header, SECRET, now=NOW)


def test_an_empty_secret_is_a_mistake_not_a_signature() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign(BODY, "")
    with pytest.raises(ValueError, match="empty"):
        verify(BODY, sign(BODY, SECRET), "")
