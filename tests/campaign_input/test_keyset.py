"""KeySet: a set of 64-bit keys in 8-byte slots."""

from __future__ import annotations

import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from polyout._campaign._keyset import KeySet

keys = st.integers(1, 2**64 - 1)


@given(added=st.lists(keys, max_size=3000), probes=st.lists(keys, max_size=50))
def test_behaves_like_a_set(added: list[int], probes: list[int]) -> None:
    found = KeySet()
    for key in added:
        found.add(key)
    assert len(found) == len(set(added))
    for key in [*added, *probes]:
        assert (key in found) == (key in set(added))


def test_rejects_keys_it_cannot_hold() -> None:
    found = KeySet()
    for bad in (0, -1, 2**64):
        try:
            found.add(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")
    assert "+447700900123" not in found


def test_a_hundred_thousand_numbers_take_under_24_bytes_each() -> None:
    tracemalloc.start()
    try:
        found = KeySet()
        for number in range(447700000000, 447700100000):
            found.add(number)
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 100_000
    # A set of the same numbers as E.164 strings takes about 95 bytes a number.
    assert current < 100_000 * 24
