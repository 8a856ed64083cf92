"""The metadata rules (string values, base64 under 26 KB) and hostile input, with Hypothesis."""

from __future__ import annotations

import base64
import json
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyout.sandbox import METADATA_BASE64_LIMIT, metadata_base64_size
from polyout.sandbox._apis import PLATFORM as PLATFORM_DIALECT
from polyout.sandbox._validation import TriggerRequest, validate_trigger

from .harness import PLATFORM, Harness

LIMIT = 26 * 1024  # "The base64 representation must be under 26 KB."


def base64_size(metadata: dict[str, Any]) -> int:
    """The oracle: actually encode, as the documentation describes."""
    compact = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
    return len(base64.b64encode(compact.encode("utf-8")))


def test_limit_is_26_kib() -> None:
    assert METADATA_BASE64_LIMIT == LIMIT


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=10))
def test_size_matches_a_real_base64_encoding(metadata: dict[str, str]) -> None:
    assert metadata_base64_size(metadata) == base64_size(metadata)


# Values whose encoding lands within a few bytes either side of the limit: the
# compact JSON {"k":"…"} takes 8 bytes plus the key, base64 4 per started 3.
near_limit = st.builds(
    lambda key, filler, tail: {key: "a" * filler + tail},
    st.text(alphabet="abcdefgh_-", min_size=1, max_size=5),
    st.integers(min_value=19_930, max_value=19_970),
    st.text(max_size=3),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(metadata=near_limit)
async def test_metadata_size_boundary_over_http(harness: Harness, metadata: dict[str, str]) -> None:
    reply = await harness.trigger(PLATFORM, PLATFORM.body(metadata=metadata))
    if base64_size(metadata) < LIMIT:
        assert reply.status == 200, reply.text
    else:
        assert reply.status == 400
        assert reply.json["error_code"] == "METADATA_TOO_LARGE"


@pytest.mark.parametrize(
    ("raw_bytes", "accepted"), [(19_965, True), (19_966, False), (19_968, False)]
)
async def test_metadata_exact_boundary(harness: Harness, raw_bytes: int, accepted: bool) -> None:
    metadata = {"k": "a" * (raw_bytes - len('{"k":""}'))}
    assert len(json.dumps(metadata, separators=(",", ":"))) == raw_bytes
    reply = await harness.trigger(PLATFORM, PLATFORM.body(metadata=metadata))
    assert (reply.status == 200) is accepted, (base64_size(metadata), reply.text)


async def test_multibyte_metadata_counts_utf8_bytes(harness: Harness) -> None:
    # 7,000 three-byte characters: 21,000 bytes of UTF-8 (over), 7,000 code points (under).
    reply = await harness.trigger(PLATFORM, PLATFORM.body(metadata={"k": "☎" * 7_000}))
    assert reply.status == 400


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
json_values = st.recursive(
    json_scalars | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
non_string_values = json_values.filter(lambda value: not isinstance(value, str))


@given(key=st.text(max_size=10), value=non_string_values)
def test_any_non_string_metadata_value_is_refused(key: str, value: object) -> None:
    body = {"to_number": "+442079460950", "metadata": {"ok": "yes", key: value}}
    result = validate_trigger(body, PLATFORM_DIALECT.schema)
    assert isinstance(result, list)
    assert {error.code for error in result} == {"INVALID_METADATA"}


@pytest.mark.reliability
@given(
    body=st.dictionaries(
        st.sampled_from(["to_number", "country_code", "metadata", "encryption", "x"]), json_values
    )
)
def test_no_body_crashes_validation(body: dict[str, Any]) -> None:
    result = validate_trigger(body, PLATFORM_DIALECT.schema)
    if isinstance(result, TriggerRequest):
        parsed = phonenumbers.parse(result.number)
        assert phonenumbers.is_valid_number(parsed)
        assert result.number.startswith("+")
    else:
        assert result


@pytest.mark.reliability
@given(number=st.text(max_size=40), country=st.none() | st.text(max_size=3))
def test_no_number_crashes_validation(number: str, country: str | None) -> None:
    body = {"to_number": number, "country_code": country}
    result = validate_trigger(body, PLATFORM_DIALECT.schema)
    if isinstance(result, TriggerRequest):
        assert phonenumbers.is_valid_number(phonenumbers.parse(result.number))
