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
