"""A webhook receiver on 127.0.0.1, raw asyncio: it answers, fails, hangs, answers slowly
and drops connections, as a test scripts it, and keeps every request it read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs

from polyout.webhooks import verify


@attrs.frozen
class Answer:
    """What the receiver does with one request."""

    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    """Seconds before answering (longer than the sender's timeout: a hang)."""
    drop: bool = False
    """Close the connection without any answer."""
    headers: tuple[tuple[str, str], ...] = ()


OK = Answer()


@attrs.frozen
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def verified(self, secret: str) -> bool:
        try:
            verify(self.body, self.headers.get("polyout-signature"), secret)
        except ValueError:
            return False
        return True


#: Decides each answer from the request and how many came before it.
Script = Callable[[Request, int], Answer]


class Receiver:
    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda request, n: OK)
        self.requests: list[Request] = []
        self.answered: list[tuple[Request, Answer]] = []
        self._server: asyncio.Server | None = None
        self.port = 0
        self.busy = 0
        self.most_busy = 0
        """The most requests it was answering at once."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        key, _, value = line.partition(":")
                        headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(path, headers, body)
                answer = self.script(request, len(self.requests))
                self.requests.append(request)
                self.busy += 1
                self.most_busy = max(self.most_busy, self.busy)
                try:
                    if answer.delay:
                        await asyncio.sleep(answer.delay)
                finally:
                    self.busy -= 1
                if answer.drop:
                    writer.transport.abort()
                    return
                extra = "".join(f"{key}: {value}\r\n" for key, value in answer.headers)
                writer.write(
                    f"HTTP/1.1 {answer.status} X\r\nContent-Length: {len(answer.body)}\r\n"
                    f"Content-Type: text/plain\r\n{extra}\r\n".encode()
                    + answer.body
                )
                await writer.drain()
                self.answered.append((request, answer))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def delivered(self) -> list[Request]:
        """The requests answered 2xx (each one a delivery the sender saw succeed)."""
        return [request for request, answer in self.answered if 200 <= answer.status < 300]


@contextlib.asynccontextmanager
async def receiving(script: Script | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver(script)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()
