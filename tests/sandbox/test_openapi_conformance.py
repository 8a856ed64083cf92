"""The sandbox against the vendor's own OpenAPI document for the Agents API trigger.

Schemathesis reads ``agents_openapi.yaml`` (a verbatim copy of the vendor's document),
generates schema-valid and schema-invalid requests from it and checks every answer:
status codes the document lists, the 200 body's shape, invalid data refused, valid
data not refused for its shape. The sandbox runs on 127.0.0.1 in a thread of its own,
because schemathesis calls it synchronously.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from polyout.sandbox import Sandbox, SandboxConfig

from .harness import KEY, NUMBER

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "agents_openapi.yaml"
VENDOR_DOCUMENT = (
    HERE.parents[2] / "shared" / "api-docs" / "agents-api-trigger-outbound-call.openapi.md"
)

schema = schemathesis.openapi.from_path(SCHEMA_FILE)


class ThreadedSandbox:
    """A sandbox serving from its own event loop in a daemon thread."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.sandbox: Sandbox | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        async with Sandbox(self._config) as sandbox:
            self.sandbox = sandbox
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Sandbox:
        self._thread.start()
        if not self._ready.wait(10) or self.sandbox is None:
            raise RuntimeError("the sandbox did not start")
        return self.sandbox

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with ThreadedSandbox(SandboxConfig(api_key=KEY, seed=17)) as sandbox:
        yield sandbox.base_url


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_sandbox_conforms_to_the_agents_openapi_document(
    case: schemathesis.Case[Any], base_url: str
) -> None:
    give_valid_values(case)
    case.call_and_validate(base_url=base_url, headers={"X-API-KEY": KEY})


def give_valid_values(case: schemathesis.Case[Any]) -> None:
    """Make a schema-valid body keep the rules the document states only in words.

    Any string fits ``toNumber``, ``countryCode`` and ``encryption`` in the schema, but
    the prose asks for a dialable number, an ISO 3166-1 country code and an encryption
    mode, and lists 400 for a malformed number. Those rules have their own tests
    (``test_validation.py``); here every other schema-valid part of the body (any
    agent id, variant id, metadata of string values, extra fields) must be accepted.
    """
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative or not isinstance(case.body, dict):
        return
    case.body["toNumber"] = NUMBER
    if "countryCode" in case.body:
        case.body["countryCode"] = "GB"
    if "encryption" in case.body:
        case.body["encryption"] = "tls_srtp"


def test_fixture_is_the_vendor_document() -> None:
    """The copy still matches the vendor's page, where a checkout has it beside the repo."""
    if not VENDOR_DOCUMENT.exists():
        pytest.skip(f"{VENDOR_DOCUMENT} is not present")
    page = VENDOR_DOCUMENT.read_text(encoding="utf-8")
    start = page.index("````yaml")
    block = page[page.index("\n", start) + 1 : page.index("````", start + 1)]
    copy = SCHEMA_FILE.read_text(encoding="utf-8")
    assert copy.endswith(block)
