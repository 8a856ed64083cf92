"""Raw HTTP servers on 127.0.0.1 that answer what no framework would send on purpose.

``raw_http`` speaks HTTP/1.1 by hand: each request's line and body are recorded, and a
handler chooses the status, headers and exact body bytes of the answer (invalid UTF-8,
JSON nested a hundred thousand deep, a sid that is not ``OUT-…``) and when to send it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs

from tests.client.servers import read_request


@attrs.frozen
class RawRequest:
    method: str
    target: str  # the request target exactly as sent: path, percent-escapes and query
    headers: dict[str, str]
    body: bytes


@attrs.frozen
class RawAnswer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = attrs.Factory(dict)
    delay: float = 0.0


Handler = Callable[[RawRequest], RawAnswer | Awaitable[RawAnswer]]


@attrs.define
class RawHTTP:
    base_url: str = ""
    requests: list[RawRequest] = attrs.Factory(list)
    answered: int = 0

    def posts(self) -> list[RawRequest]:
        return [request for request in self.requests if request.method == "POST"]


def _parse(raw: bytes) -> RawRequest:
    head, _, body = raw.partition(b"\r\n\r\n")
    line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _version = line.split(" ", 2)
    headers = {}
    for header in header_lines:
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawRequest(method, target, headers, body)


def encode_answer(answer: RawAnswer) -> bytes:
    head = [f"HTTP/1.1 {answer.status} X", f"Content-Length: {len(answer.body)}"]
    head += ["Content-Type: application/json", "X-PolyAI-Correlation-Id: corr-raw"]
    head += [f"{name}: {value}" for name, value in answer.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + answer.body


@asynccontextmanager
async def raw_http(handler: Handler) -> AsyncIterator[RawHTTP]:
    """Serve ``handler``'s answers, keeping connections alive like a real API would."""
    state = RawHTTP()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = _parse(await read_request(reader))
                state.requests.append(request)
                answer = handler(request)
                if not isinstance(answer, RawAnswer):
                    answer = await answer
                if answer.delay:
                    await asyncio.sleep(answer.delay)
                writer.write(encode_answer(answer))
                await writer.drain()
                state.answered += 1
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    state.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def nested_json(depth: int) -> bytes:
    """A valid JSON object whose ``call_sid`` is fine but whose ``extra`` is ``depth`` deep."""
    return b'{"call_sid": "OUT-deep", "status": "queued", "extra": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )
