"""Input is validated before anything leaves the machine."""

from __future__ import annotations

import json
import string

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import polyout
from polyout._request import METADATA_LIMIT, metadata_size
from tests.client.servers import ScriptedAPI

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def example_numbers() -> list[tuple[str, str]]:
    found = []
    for region in REGIONS:
        example = phonenumbers.example_number(region)
        if example is not None:
            found.append((region, phonenumbers.format_number(example, 0)))
    return found


EXAMPLES = example_numbers()


@given(st.sampled_from(EXAMPLES))
def test_e164_numbers_of_every_region_round_trip(example: tuple[str, str]) -> None:
    _region, e164 = example
    assert polyout.build_request(e164).to_number == e164


@given(st.sampled_from(EXAMPLES))
def test_national_format_with_country_code(example: tuple[str, str]) -> None:
    region, e164 = example
    national = phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    assert polyout.build_request(national, country_code=region.lower()).to_number == e164


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_arbitrary_text_is_either_a_valid_number_or_a_validation_error(text: str) -> None:
    try:
        request = polyout.build_request(text)
    except polyout.ValidationError as exc:
        failure: polyout.ValidationError | None = exc
    else:
        failure = None
    if failure is not None:
        assert failure.field == "to_number"
        if sum(ch.isdigit() for ch in text) >= 6:
            assert text.strip() not in str(failure)  # a number is never echoed
    else:
        assert phonenumbers.is_valid_number(phonenumbers.parse(request.to_number))
        assert request.to_number.startswith("+")
        assert request.to_number[1:].isdigit()


def test_unicode_digits_are_normalised() -> None:
    # Arabic-Indic digits for +44 20 7183 8750
    arabic = "+٤٤٢٠٧١٨٣٨٧٥٠"
    assert polyout.build_request(arabic).to_number == "+442071838750"


@pytest.mark.parametrize(
    ("number", "country_code", "field", "reason"),
    [
        ("", None, "to_number", "is empty"),
        ("   ", None, "to_number", "is empty"),
        ("2071838750", None, "to_number", "E.164"),
        ("+44 20 7183", None, "to_number", "not a valid phone number"),
        ("+999123456789", None, "to_number", "cannot be parsed"),
        ("hello", "GB", "to_number", "contains letters"),
        ("+-- ()", None, "to_number", "cannot be parsed"),
        ("2071838750", "XX", "country_code", "ISO 3166-1"),
        ("2071838750", "", "country_code", "ISO 3166-1"),
        ("+1" + "5" * 80, None, "to_number", "longer than"),
    ],
)
def test_bad_numbers_name_field_and_reason(
    number: str, country_code: str | None, field: str, reason: str
) -> None:
    with pytest.raises(polyout.ValidationError) as caught:
        polyout.build_request(number, country_code=country_code)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_non_string_number_is_refused() -> None:
    with pytest.raises(polyout.ValidationError, match="must be a string"):
        polyout.build_request(14155552671)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metadata", "field", "reason"),
    [
        ({"n": 1}, "metadata.n", "must be a string, not int"),
        ({"b": True}, "metadata.b", "not bool"),
        ({"x": None}, "metadata.x", "not NoneType"),
        ({"d": {"nested": "v"}}, "metadata.d", "not dict"),
        ({"first name": "Ann"}, "metadata", "SIP header"),
        ({"": "v"}, "metadata", "SIP header"),
        ({"k": "a\r\nInjected: yes"}, "metadata.k", "line breaks"),
        ({1: "v"}, "metadata", "SIP header"),
    ],
)
def test_bad_metadata_names_field_and_reason(metadata: object, field: str, reason: str) -> None:
    with pytest.raises(polyout.ValidationError) as caught:
        polyout.build_request("+14155552671", metadata=metadata)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_metadata_must_be_a_mapping() -> None:
    with pytest.raises(polyout.ValidationError, match="must be a mapping"):
        polyout.build_request("+14155552671", metadata=[("k", "v")])  # type: ignore[arg-type]


@given(
    st.dictionaries(
        st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=20),
        st.text(alphabet=st.characters(blacklist_characters="\r\n\x00"), max_size=3000),
        max_size=12,
    )
)
@settings(max_examples=200)
def test_metadata_size_limit_is_exact(metadata: dict[str, str]) -> None:
    encoded = json.dumps(metadata, separators=(",", ":"), ensure_ascii=True).encode()
    import base64

    size = len(base64.b64encode(encoded))
    assert metadata_size(metadata) == size
    if size < METADATA_LIMIT:
        assert polyout.build_request("+14155552671", metadata=metadata).metadata == metadata
    else:
        with pytest.raises(polyout.ValidationError, match="base64"):
            polyout.build_request("+14155552671", metadata=metadata)


def test_metadata_size_boundary() -> None:
    def with_value_of(length: int) -> dict[str, str]:
        return {"k": "v" * length}

    # The first value length whose metadata reaches the limit is refused; one less is not.
    first_too_big = min(
        n for n in range(19000, 20000) if metadata_size(with_value_of(n)) >= METADATA_LIMIT
    )
    polyout.build_request("+14155552671", metadata=with_value_of(first_too_big - 1))
    with pytest.raises(polyout.ValidationError):
        polyout.build_request("+14155552671", metadata=with_value_of(first_too_big))


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("tls_srtp", polyout.Encryption.TLS_SRTP),
        ("TLS/SRTP", polyout.Encryption.TLS_SRTP),
        ("udp-rtp", polyout.Encryption.UDP_RTP),
        (" TLS/RTP ", polyout.Encryption.TLS_RTP),
        (polyout.Encryption.UDP_SRTP, polyout.Encryption.UDP_SRTP),
    ],
)
def test_encryption_spellings(given_value: str, expected: polyout.Encryption) -> None:
    assert polyout.build_request("+14155552671", encryption=given_value).encryption is expected


def test_unknown_encryption_is_refused() -> None:
    with pytest.raises(polyout.ValidationError, match="not one of tls_srtp"):
        polyout.build_request("+14155552671", encryption="aes-256")


async def test_invalid_input_sends_nothing(api: ScriptedAPI) -> None:
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.ValidationError):
            await client.trigger_call("+14155552671", metadata={"n": 1})  # type: ignore[dict-item]
        with pytest.raises(polyout.ValidationError, match="only supported by the Agents API"):
            await client.trigger_call("+14155552671", variant_id="v1")
        with pytest.raises(polyout.ValidationError, match="call_sid"):
            await client.get_status("not/a sid")
    assert api.seen == []


def test_many_countries_validate_as_fast_as_one() -> None:
    """phonenumbers' pattern cache is on: cycling through regions must not recompile."""
    import itertools
    import time

    def rate(numbers: list[str]) -> float:
        started = time.perf_counter()
        for number in numbers:
            polyout.build_request(number)
        return len(numbers) / (time.perf_counter() - started)

    one = [EXAMPLES[0][1]] * 3000
    many = [e164 for _, e164 in itertools.islice(itertools.cycle(EXAMPLES), 3000)]
    rate(many)  # warm up: first compiles
    # Without the cache this ratio is ~17x; allow generous noise on a busy machine.
    assert rate(one) / rate(many) < 4


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+1212555O1OO", "contains letters"),  # an O for a 0 would ring someone else
        ("+1-800-FLOWERS", "contains letters"),
        ("+1 212 555 0100 ext 12", "contains letters"),
        ("+1 212 555 0100 #12", "has an extension"),
    ],
)
def test_letters_and_extensions_are_refused_not_guessed(number: str, reason: str) -> None:
    with pytest.raises(polyout.ValidationError, match=reason):
        polyout.build_request(number)
