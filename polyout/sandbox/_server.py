"""``Sandbox``: the emulator as an async context manager, serving on a real socket."""

from __future__ import annotations

import enum
import socket
from types import TracebackType

from aiohttp import web

from ._app import create_app
from ._calls import CallStore
from ._clock import Clock, ScaledClock
from ._config import SandboxConfig
from ._ledger import Ledger
from ._state import SandboxState

__all__ = ["Sandbox"]


class _Lifecycle(enum.Enum):
    UNOPENED = "unopened"
    RUNNING = "running"
    CLOSED = "closed"


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, bound before serving so that port 0 yields a known port."""
    family, *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    # A deep backlog: load tests open hundreds of connections at once.
    return socket.create_server((host, port), family=family, backlog=1024)


class Sandbox:
    """A local PolyAI outbound calling service, all three APIs on one port.

    ::

        async with Sandbox(SandboxConfig(outcomes="last-digit"), clock=ManualClock()) as sandbox:
            ...  # point a client at sandbox.base_url
            sandbox.advance(3600)  # an hour of simulated time passes
            assert not sandbox.ledger.dialled_more_than_once()

    Without ``clock`` a ``ScaledClock(config.time_scale)`` is used; a given clock
    replaces it (and ``config.time_scale`` is then not used).
    """

    def __init__(self, config: SandboxConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.clock: Clock = clock if clock is not None else ScaledClock(self.config.time_scale)
        self._state = SandboxState(self.config, self.clock)
        self.app = create_app(self._state)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._lifecycle = _Lifecycle.UNOPENED

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` once started: the base URL for every API."""
        if self._base_url is None:
            raise RuntimeError(f"the sandbox is {self._lifecycle.value}: no base URL")
        return self._base_url

    @property
    def ledger(self) -> Ledger:
        return self._state.ledger

    @property
    def calls(self) -> CallStore:
        return self._state.calls

    @property
    def seed(self) -> int:
        """The seed in use (the configured one, or one picked at construction)."""
        return self._state.seed

    def advance(self, seconds: float) -> None:
        """Move simulated time forward: calls progress and statuses expire accordingly."""
        self.clock.advance(seconds)

    def reset(self) -> None:
        """Forget calls, ledger and rate windows; replay outcomes and faults from the seed."""
        self._state.reset()

    async def start(self) -> None:
        if self._lifecycle is not _Lifecycle.UNOPENED:
            raise RuntimeError(f"a sandbox starts once; this one is {self._lifecycle.value}")
        sock = _listen(self.config.host, self.config.port)
        # Access logs off: at thousands of requests per second they would cost more
        # than the requests. A short shutdown timeout: tests must close quickly even
        # with a latency fault holding a request.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        try:
            await runner.setup()
            await web.SockSite(runner, sock, backlog=1024).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = sock.getsockname()[:2]
        self._base_url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self._lifecycle = _Lifecycle.RUNNING

    async def close(self) -> None:
        """Stop serving and close the ledger file. Idempotent."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._state.close()
        self._base_url = None
        self._lifecycle = _Lifecycle.CLOSED

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        where = self._base_url or self._lifecycle.value
        return f"<Sandbox {where} calls={len(self.calls)} {self.ledger!r}>"
