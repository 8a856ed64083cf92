"""A local emulator of PolyAI's three outbound calling APIs, for tests, demos and benchmarks.

One aiohttp server answers the Agents, Platform and Connector APIs at once, as the
vendor documents them (paths, credentials, bodies, statuses, errors), simulates each
call's lifecycle on a clock that tests can drive, injects faults on demand, and keeps
a ledger of every call placed and every request refused::

    from polyout.sandbox import ManualClock, Sandbox, SandboxConfig

    async with Sandbox(SandboxConfig(outcomes="last-digit"), clock=ManualClock()) as sandbox:
        ...  # point a client at sandbox.base_url
        sandbox.advance(120)
        assert not sandbox.ledger.dialled_more_than_once()

Or from a shell: ``python -m polyout.sandbox --port 8000 --time-scale 100``.

It imports nothing from the rest of polyout: it stands for the vendor's server.
"""

import importlib
import typing

if typing.TYPE_CHECKING:
    from ._calls import Api, CallRecord, CallStore
    from ._cli import add_arguments, config_from_args, main
    from ._clock import Clock, ManualClock, ScaledClock
    from ._config import AGENT_ENVIRONMENTS, FaultConfig, SandboxConfig
    from ._handlers import CORRELATION_HEADER
    from ._ledger import Ledger, Placement, Rejection
    from ._lifecycle import Timeline
    from ._outcomes import LAST_DIGIT, Outcome, OutcomeMix
    from ._server import Sandbox
    from ._validation import METADATA_BASE64_LIMIT, metadata_base64_size

#: Where each name lives, loaded on first use: ``polyout --help`` builds the sandbox
#: command's flags without loading the server. (Written out here rather than shared with
#: polyout's own: the sandbox imports nothing from the rest of polyout.)
_HOMES = {
    name: module
    for module, names in (
        ("._calls", "Api CallRecord CallStore"),
        ("._cli", "add_arguments config_from_args main"),
        ("._clock", "Clock ManualClock ScaledClock"),
        ("._config", "AGENT_ENVIRONMENTS FaultConfig SandboxConfig"),
        ("._handlers", "CORRELATION_HEADER"),
        ("._ledger", "Ledger Placement Rejection"),
        ("._lifecycle", "Timeline"),
        ("._outcomes", "LAST_DIGIT Outcome OutcomeMix"),
        ("._server", "Sandbox"),
        ("._validation", "METADATA_BASE64_LIMIT metadata_base64_size"),
    )
    for name in names.split()
}

if not typing.TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays an error there

    def __getattr__(name: str) -> object:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_HOMES})


__all__ = [
    "AGENT_ENVIRONMENTS",
    "CORRELATION_HEADER",
    "LAST_DIGIT",
    "METADATA_BASE64_LIMIT",
    "Api",
    "CallRecord",
    "CallStore",
    "Clock",
    "FaultConfig",
    "Ledger",
    "ManualClock",
    "Outcome",
    "OutcomeMix",
    "Placement",
    "Rejection",
    "Sandbox",
    "SandboxConfig",
    "ScaledClock",
    "Timeline",
    "add_arguments",
    "config_from_args",
    "main",
    "metadata_base64_size",
]
