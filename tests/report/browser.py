"""A real headless browser for the report tests: Debian's ``chromium``, driven over the
Chrome DevTools protocol (a websocket on 127.0.0.1, aiohttp's client).

The browser runs as root (``--no-sandbox``), offline (no background networking, no
component updates, no sync, a throwaway profile), and is killed with the test. When
``chromium`` is missing, ``find_chromium`` installs it under CI as root (``apt-get``),
skips elsewhere with the reason, and fails under CI otherwise: CI never skips it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest

__all__ = ["Browser", "Page", "browser", "find_chromium"]

_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container: the sandbox needs user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str:
    """The chromium executable; installed under CI as root, else a skip (or a failure)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    in_ci = os.environ.get("CI") == "true"
    if in_ci and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "chromium"], check=True, env=env, capture_output=True
        )
        found = shutil.which("chromium")
        assert found, "apt-get installed chromium, yet it is not on PATH"
        return found
    if in_ci:
        pytest.fail("chromium is missing and CI cannot install it (not root): the test never skips")
    pytest.skip("chromium is not installed (apt-get install -y chromium; CI installs it itself)")


class Page:
    """One tab, attached with a flat session: commands, and the events it collected."""

    def __init__(self, browser: Browser, session: str) -> None:
        self._browser = browser
        self.session = session
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        reply: dict[str, Any] = await self._browser.send(method, session=self.session, **params)
        return reply

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} raised: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, method: str, timeout: float = 20.0) -> dict[str, Any]:
        async def first() -> dict[str, Any]:
            while True:
                seen = len(self.events)
                for event in self.events[:seen]:
                    if event["method"] == method:
                        return event
                await self._browser.more_events(self, seen)

        return await asyncio.wait_for(first(), timeout)

    def errors(self) -> list[str]:
        """Script errors: uncaught exceptions, console.error, and error log entries."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif event["method"] == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(json.dumps(params["args"])[:500])
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"].get("text", "")[:500])
        return found

    def requested(self) -> list[str]:
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]


class Browser:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse[bool]) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"])
                if not future.done():
                    future.set_result(data)
            elif data.get("sessionId") in self._pages:
                self._pages[data["sessionId"]].events.append(data)
                self._arrived.set()

    async def more_events(self, page: Page, seen: int) -> None:
        """Until ``page`` has more than ``seen`` events (nothing runs between the checks)."""
        while len(page.events) <= seen:
            self._arrived.clear()
            await self._arrived.wait()

    async def send(self, method: str, *, session: str | None = None, **params: Any) -> Any:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self._waiting[message["id"]] = future
        await self._socket.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply["result"]

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        page = self._pages[attached["sessionId"]] = Page(self, attached["sessionId"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            await page.send(f"{domain}.enable")
        return page

    def close(self) -> None:
        self._reader.cancel()


@contextlib.asynccontextmanager
async def browser(profile: Path) -> AsyncIterator[Browser]:
    """A headless chromium with a fresh profile under ``profile``, killed on exit."""
    process, log = _start(find_chromium(), profile)
    try:
        port, path = await asyncio.wait_for(_listening(profile / "data", process), 30)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as socket,
        ):
            driver = Browser(socket)
            try:
                yield driver
            finally:
                driver.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


async def _listening(data: Path, process: subprocess.Popen[bytes]) -> list[str]:
    """The DevTools port and browser path chromium writes once it listens."""
    port_file = data / "DevToolsActivePort"
    while not (port_file.exists() and len(lines := port_file.read_text().splitlines()) >= 2):
        assert process.poll() is None, f"chromium exited: see {data.parent / 'chromium.log'}"
        await asyncio.sleep(0.05)
    return lines[:2]


def _start(executable: str, profile: Path) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    profile.mkdir(parents=True, exist_ok=True)
    log = (profile / "chromium.log").open("wb")
    command = [executable, *_FLAGS, f"--user-data-dir={profile / 'data'}", "about:blank"]
    return subprocess.Popen(command, stdout=log, stderr=log), log
