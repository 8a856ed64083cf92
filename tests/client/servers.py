"""Servers for the client's tests: real sockets on 127.0.0.1, nothing patched.

``ScriptedAPI`` answers each request with the next scripted reply and records what it
received. ``RawServer`` speaks raw TCP, for what HTTP frameworks won't do on purpose:
cutting a connection after reading a request, or never answering at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
from aiohttp import web


@attrs.frozen
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    arrived: float = 0.0  # the loop's clock when the request's head was read

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.frozen
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = attrs.Factory(dict)
    raw: bytes | None = None  # sent as is instead of JSON
    delay: float = 0.0

    def to_response(self) -> web.Response:
        headers = {"X-PolyAI-Correlation-Id": "corr-123", **self.headers}
        if self.raw is not None:
            return web.Response(status=self.status, body=self.raw, headers=headers)
        return web.json_response(self.body, status=self.status, headers=headers)


class ScriptedAPI:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply(200, {"call_sid": "OUT-default", "status": "queued"})
        self.base_url = ""

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
                arrived,
            )
        )
        reply = self.replies.popleft() if self.replies else self.default
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return reply.to_response()


@asynccontextmanager
async def scripted_api() -> AsyncIterator[ScriptedAPI]:
    api = ScriptedAPI()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api._handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    api.base_url = f"http://127.0.0.1:{port}"
    try:
        yield api
    finally:
        await runner.cleanup()


Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    def __init__(self) -> None:
        self.requests_read = 0
        self.connections = 0
        self.base_url = ""


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 request (headers and a Content-Length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


@asynccontextmanager
async def raw_server(
    behaviour: Callable[[RawServer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[RawServer]:
    state = RawServer()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await behaviour(state, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state.base_url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


async def cut_after_request(
    state: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Read the whole request, then drop the connection without a byte of answer.

    The kernel closes it with FIN (nothing unread is left), so this is a clean close
    as aiohttp sees it; ``reset_after_request`` is the reset.
    """
    await read_request(reader)
    state.requests_read += 1
    writer.transport.abort()


async def reset_after_request(
    state: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Read the whole request, then reset the connection: a real TCP RST.

    Closing with ``SO_LINGER`` set to zero seconds discards the socket at once and sends
    RST, so aiohttp sees "connection reset by peer" (``ClientOSError``), as from a
    crashed proxy. ``cut_after_request`` closes cleanly instead (``ServerDisconnectedError``).
    """
    await read_request(reader)
    state.requests_read += 1
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def never_answer(
    state: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    await read_request(reader)
    state.requests_read += 1
    await asyncio.sleep(3600)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
