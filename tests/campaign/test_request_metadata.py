"""Contacts carry their metadata as a read-only mapping; requests must accept it."""

from __future__ import annotations

from types import MappingProxyType

import polyout


def test_build_request_accepts_any_mapping_as_metadata() -> None:
    request = polyout.build_request("+12125551000", metadata=MappingProxyType({"booking": "B-1"}))
    assert dict(request.metadata) == {"booking": "B-1"}
