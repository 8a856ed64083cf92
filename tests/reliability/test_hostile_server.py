"""A hostile server: bodies that are not JSON, wrong content types, huge bodies, answers that
never come, cut connections and statuses the docs never mention.

Every request is bounded by the client's timeouts; every failure is reported as one
readable line; and a trigger is never sent again once an answer may have meant a call
was placed. Only 429, 500 and 502 (documented: nothing placed) allow another try.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import pytest
from aiohttp import web

from polyout import Client, Timeout
from polyout._campaign._clock import ScaledClock
from polyout._campaign._contacts import Contact
from polyout._campaign._runner import Campaign
from polyout._errors import APIStatusError, PolyOutError, TransportError, TriggerOutcomeUnknown

from .helpers import JournalView, Seeded

pytestmark = pytest.mark.reliability

READ_TIMEOUT = 0.3
TIMEOUT = Timeout(connect=1.0, read=READ_TIMEOUT, total=2.0)
MEGABYTE = 1024 * 1024

Behaviour = Callable[[web.Request, str], Awaitable[web.StreamResponse]]


def _json(status: int, body: object, **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


async def _placed(_: web.Request, sid: str) -> web.StreamResponse:
    return _json(200, {"call_sid": sid})


async def _placed_as_text(_: web.Request, sid: str) -> web.StreamResponse:
    # A JSON body labelled as plain text: read for what it is, not for its label.
    return web.Response(status=200, text=json.dumps({"call_sid": sid}), content_type="text/plain")


async def _html(_: web.Request, __: str) -> web.StreamResponse:
    return web.Response(
        status=200, text="<html><body>Bad gateway</body></html>", content_type="text/html"
    )


async def _empty(_: web.Request, __: str) -> web.StreamResponse:
    return web.Response(status=200)


async def _no_content(_: web.Request, __: str) -> web.StreamResponse:
    return web.Response(status=204)


async def _huge(_: web.Request, __: str) -> web.StreamResponse:
    return web.Response(
        status=200, body=b"[" + b"1," * MEGABYTE + b"1]", content_type="application/json"
    )


async def _huge_chunked(request: web.Request, _: str) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _chunk in range(40):
        await response.write(b" " * 65536)
    await response.write_eof()
    return response


async def _never(_: web.Request, __: str) -> web.StreamResponse:
    await asyncio.sleep(60)
    raise AssertionError("unreachable: the client gave up long before")


async def _cut(request: web.Request, _: str) -> web.StreamResponse:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=200)


def _status(code: int, **headers: str) -> Behaviour:
    async def answer(_: web.Request, __: str) -> web.StreamResponse:
        return web.Response(status=code, text=f"teapot {code}", headers=headers)

    return answer


def _documented(code: int) -> Behaviour:
    async def answer(_: web.Request, __: str) -> web.StreamResponse:
        return _json(code, {"error": "not placed"}, **{"Retry-After": "0.01"})

    return answer


#: Answers that prove no call was placed: another try is allowed.
NOT_PLACED: dict[str, Behaviour] = {
    "429": _documented(429),
    "500": _documented(500),
    "502": _documented(502),
}
#: Answers after which the call may exist: never sent again.
MAY_HAVE_PLACED: dict[str, Behaviour] = {
    "html 200": _html,
    "empty 200": _empty,
    "204": _no_content,
    "huge": _huge,
    "huge chunked": _huge_chunked,
    "never answers": _never,
    "cut": _cut,
    "503": _status(503),
    "504": _status(504),
    "520": _status(520),
    "599": _status(599),
}
#: Answers that refuse the request: no call, and not worth another try.
REFUSED: dict[str, Behaviour] = {
    "418": _status(418),
    "451": _status(451),
    "302": _status(302, Location="http://127.0.0.1:9/elsewhere"),
}
PLACED: dict[str, Behaviour] = {"placed": _placed, "placed, text/plain": _placed_as_text}
TRIGGER_ANSWERS = {**NOT_PLACED, **MAY_HAVE_PLACED, **REFUSED, **PLACED}


@attrs.define
class HostileAPI:
    """The Platform API's two endpoints, answering as ``pick`` decides, request by request."""

    pick_trigger: Callable[[], str]
    pick_status: Callable[[], str]
    posts: dict[str, list[str]] = attrs.field(factory=lambda: defaultdict(list))
    gets: int = 0
    base_url: str = ""

    async def trigger(self, request: web.Request) -> web.StreamResponse:
        number = json.loads(await request.read())["to_number"]
        name = self.pick_trigger()
        self.posts[number].append(name)
        return await TRIGGER_ANSWERS[name](request, f"OUT-{number[1:]}-{len(self.posts[number])}")

    async def status(self, request: web.Request) -> web.StreamResponse:
        self.gets += 1
        name = self.pick_status()
        if name == "ended":
            return _json(200, {"status": "success", "reason": ""})
        if name == "mystery status":
            return _json(200, {"status": "teleporting"})
        return await TRIGGER_ANSWERS[name](request, "")


@asynccontextmanager
async def hostile_api(api: HostileAPI) -> AsyncIterator[HostileAPI]:
    app = web.Application()
    app.router.add_post("/v1/outbound-calling", api.trigger)
    app.router.add_get("/v1/outbound-calling/{sid}/status", api.status)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield api
    finally:
        await runner.cleanup()


def _client(base_url: str) -> Client:
    return Client("platform", api_key="hostile-key-123", base_url=base_url, timeout=TIMEOUT)


@pytest.mark.parametrize("answer", list(TRIGGER_ANSWERS))
async def test_each_hostile_trigger_answer_is_bounded_clear_and_never_resent(answer: str) -> None:
    api = HostileAPI(pick_trigger=lambda: answer, pick_status=lambda: "ended")
    started = time.monotonic()
    async with hostile_api(api), _client(api.base_url) as client:
        try:
            call = await client.trigger_call("+442079460958")
        except PolyOutError as exc:
            failure: PolyOutError | None = exc
        else:
            failure = None
            assert call.call_sid.startswith("OUT-")
    elapsed = time.monotonic() - started
    posts = api.posts["+442079460958"]
    assert elapsed < TIMEOUT.total + 1.0, f"{answer}: took {elapsed:.1f} s"
    if answer in PLACED:
        assert failure is None
        assert posts == [answer]
        return
    assert failure is not None, answer
    message = str(failure)
    assert "\n" not in message, message
    assert len(message) < 400, message
    assert "hostile-key-123" not in message
    if answer in MAY_HAVE_PLACED:
        assert isinstance(failure, TriggerOutcomeUnknown), (answer, failure)
        assert posts == [answer], "sent again after an answer that may mean a call was placed"
    elif answer in REFUSED:
        assert isinstance(failure, APIStatusError), (answer, failure)
        assert not isinstance(failure, TransportError)
        assert posts == [answer]
    else:
        assert len(posts) == client.retry_policy.max_retries + 1, posts


async def test_a_campaign_against_a_hostile_server_never_resends_what_may_have_placed(
    seeded: Seeded, tmp_path: Path
) -> None:
    rng = seeded.random
    trigger_names = list(TRIGGER_ANSWERS)
    # An undocumented status (REFUSED here) stops the whole run: tested on its own in
    # tests/campaign/test_trigger_errors.py, left out of this mix.
    weights = [
        0.0
        if name in REFUSED
        else 0.5
        if name == "never answers"
        else 3.0
        if name in PLACED
        else 1.0
        for name in trigger_names
    ]
    status_names = [
        "ended",
        "ended",
        "ended",
        "mystery status",
        "html 200",
        "huge",
        "503",
        "429",
        "cut",
    ]
    api = HostileAPI(
        pick_trigger=lambda: rng.choices(trigger_names, weights)[0],
        pick_status=lambda: rng.choice(status_names),
    )
    people = [Contact(id=f"c{i}", phone=f"+4474001{i:05d}") for i in range(60)]
    journal = tmp_path / "journal.db"
    async with hostile_api(api), _client(api.base_url) as client:
        campaign = Campaign(
            client,
            people,
            journal=journal,
            rate=100.0,
            concurrency=60,
            max_attempts=1,
            max_not_placed=3,
            outage_limit=1e6,
            poll_interval=(5.0, 10.0),
            poll_rate=200.0,
            poll_deadline=300.0,
            clock=ScaledClock(scale=100.0),
        )
        summary = await asyncio.wait_for(campaign.run(), 60)
    context = f"seed {seeded.seed}: {summary.states}"
    print(context)
    assert summary.complete, context
    view = JournalView.read(journal)
    by_number = {contact.to_number: contact for contact in view.contacts}
    for number, posts in api.posts.items():
        for earlier in posts[:-1]:
            assert earlier in NOT_PLACED, f"{context}: {number} sent again after {posts}"
        contact = by_number[number]
        last = posts[-1]
        expected = (
            {"unknown"}
            if last in MAY_HAVE_PLACED
            else {"failure"}
            if last in NOT_PLACED
            else {"success", "expired"}
        )
        assert contact.state in expected, f"{context}: {number} {posts} ended {contact.state}"
    assert set(by_number) == set(api.posts) | {
        c.to_number for c in view.contacts if c.state == "scheduled"
    }, context
