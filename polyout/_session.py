"""The client's settings (key, URL, timeouts) and its HTTP session's life: unopened, open, closed.

Closing is where calls get lost. A trigger whose request has left may be placing a call
right now, so ``aclose()`` lets those finish (each bounded by the request timeout) and
reads their answers before the session goes; requests that have not left are stopped,
and their callers get :class:`ClientClosedError`, never a bare ``CancelledError``.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
from typing import Any, Literal

import aiohttp
import attrs
import yarl
from aiohttp.abc import AbstractStreamWriter

from polyout._apis import base_url_for
from polyout._errors import ClientClosedError, ConfigurationError, ValidationError
from polyout._secrets import SecretHeaders
from polyout._version import __version__

__all__ = [
    "DEFAULT_HEADERS",
    "SessionHolder",
    "Timeout",
    "WatchedBody",
    "being_cancelled",
    "check_api_key",
    "check_count",
    "check_seconds",
    "resolve_base_url",
]


#: Sent with every request: on polyout's own session, or per request on a caller's.
DEFAULT_HEADERS = {
    "Accept": "application/json",
    "User-Agent": (
        f"polyout/{__version__} aiohttp/{aiohttp.__version__} "
        f"python/{sys.version_info.major}.{sys.version_info.minor}"
    ),
}


def check_seconds(setting: str, value: object, *, zero_ok: bool = False) -> float:
    """``value`` as seconds, or ConfigurationError: a number, finite, positive (or zero)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(setting, f"must be a number of seconds, not {value!r}")
    if math.isnan(value) or math.isinf(value):
        raise ConfigurationError(setting, f"must be a finite number of seconds, not {value}")
    if value < 0 or (value == 0 and not zero_ok):
        floor = "zero or more" if zero_ok else "more than zero"
        raise ConfigurationError(setting, f"must be {floor} seconds, not {value:g}")
    return float(value)


def check_count(setting: str, value: object, *, minimum: int) -> int:
    """``value`` as a whole number of at least ``minimum``, or ConfigurationError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(setting, f"must be a whole number >= {minimum}, not {value!r}")
    return value


@attrs.frozen
class Timeout:
    """Per-request time limits in seconds (the client's ``timeout=``).

    ``connect`` bounds getting a connection (pool wait included): a request that times
    out there was provably never sent. ``read`` bounds each wait for the server's bytes,
    ``total`` the whole request. Each must be finite and positive.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float = 60.0

    def __attrs_post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            try:
                check_seconds("timeout", getattr(self, name))
            except ConfigurationError as exc:
                raise ConfigurationError("timeout", f"{name} {exc.reason}") from None
        if self.connect > self.total:
            # Otherwise a timeout while connecting would look like one after sending.
            raise ConfigurationError("timeout", "connect timeout must not exceed total")

    @classmethod
    def of(cls, value: float | Timeout) -> Timeout:
        """``timeout=`` as given: a Timeout, or one number bounding the whole request."""
        if isinstance(value, Timeout):
            return value
        total = check_seconds("timeout", value)
        return cls(connect=min(5.0, total), read=total, total=total)


class WatchedBody(aiohttp.BytesPayload):
    """A request body that knows when it starts to leave.

    Until aiohttp writes the body, no server can have the whole request, so no call can
    have been placed: cancelling before that is safe, and after it the answer must be
    read. (aiohttp buffers the headers to send them with the body.)
    """

    started = False

    async def write(self, writer: AbstractStreamWriter) -> None:
        self.started = True
        await super().write(writer)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        self.started = True
        await super().write_with_length(writer, content_length)


_State = Literal["unopened", "open", "closed"]


class SessionHolder:
    """The aiohttp session (made on first use, inside the running loop) and its closing.

    A session passed in stays its owner's: it is used, never closed.
    """

    def __init__(
        self,
        timeout: Timeout,
        max_connections: int,
        session: aiohttp.ClientSession | None,
        credential: SecretHeaders,
    ) -> None:
        self.state: _State = "unopened"
        # Our own session sends the credential's header with every request: passed per
        # request, aiohttp would merge it into the session's headers each time.
        self._credential = credential
        self.timeout = timeout
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self.client_timeout = aiohttp.ClientTimeout(
            total=timeout.total, connect=timeout.connect, sock_read=timeout.read
        )
        # Triggers under way: each one's body (has it started to leave?) and the future
        # resolved when it ends.
        self._triggers: dict[asyncio.Task[Any], tuple[WatchedBody, asyncio.Future[None]]] = {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    def open(self) -> aiohttp.ClientSession:
        if self.state == "closed":
            raise ClientClosedError("this polyout.Client was closed; create a new one")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=self.client_timeout,
                headers={**DEFAULT_HEADERS, **self._credential.reveal()},
            )
        self.state = "open"
        return self._session

    def track_trigger(self, task: asyncio.Task[Any], body: WatchedBody) -> asyncio.Future[None]:
        """Follow ``task`` until it ends; the future returned is resolved then.

        Awaiting that future instead of ``asyncio.shield(task)`` keeps the task safe from
        the caller's cancellation as well, with one callback instead of four per trigger
        (a bound method and a tuple: a closure would make five objects for the GC).
        """
        ended: asyncio.Future[None] = task.get_loop().create_future()
        self._triggers[task] = (body, ended)
        task.add_done_callback(self._forget)
        return ended

    def _forget(self, task: asyncio.Task[Any]) -> None:
        _, ended = self._triggers.pop(task)
        if not ended.done():  # cancelled with its caller, who does not wait any more
            ended.set_result(None)

    async def aclose(self) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        unsent = [task for task, (body, _) in self._triggers.items() if not body.started]
        for task in unsent:
            task.cancel()  # its caller is told ClientClosedError: nothing was placed
        leaving = [task for task, (body, _) in self._triggers.items() if body.started]
        if leaving:
            # Their calls may be being placed: read the answers, or the sids are lost.
            await asyncio.wait(leaving, timeout=self.timeout.total)
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def closed_error(self, what: str) -> ClientClosedError | None:
        """The error for a request that failed because the client was closed, if it was."""
        if self.state != "closed":
            return None
        return ClientClosedError(f"this polyout.Client was closed before {what}")


def being_cancelled() -> bool:
    """Whether the running task itself was asked to stop (not merely hit by a cancelled future).

    Python 3.10 cannot tell the two apart; there, a CancelledError met while the client
    is closed is taken for the closing (the task still ends, with ClientClosedError).
    """
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return cancelling is not None and cancelling() > 0


def check_api_key(key: str | None) -> str:
    if not key:
        raise ValidationError("api_key", "is required: pass api_key= or set POLYAI_API_KEY")
    if not key.isprintable() or any(ch.isspace() for ch in key) or not key.isascii():
        # The key itself is never part of the message.
        raise ValidationError("api_key", "contains whitespace or characters a header cannot carry")
    return key


def resolve_base_url(api: str, base_url: str | None, region: str | None) -> str:
    url = base_url or os.environ.get("POLYAI_BASE_URL")
    if not url:
        if region is None:
            raise ValidationError("base_url", "pass region= or base_url= (or set POLYAI_BASE_URL)")
        return base_url_for(api, region)
    if not url.startswith(("https://", "http://")):
        raise ValidationError("base_url", "must start with https:// or http://")
    try:
        # Refused here, or every request would fail after the fact: a trigger as "unknown".
        parsed = yarl.URL(url)
        if not parsed.host:
            raise ValueError("no host")
    except ValueError as exc:  # yarl's reasons never quote the URL (nor its password)
        raise ValidationError("base_url", f"is not a valid URL ({exc})") from None
    if parsed.query_string or parsed.fragment:
        raise ValidationError("base_url", "must not have a query or a fragment")
    return url.rstrip("/")
