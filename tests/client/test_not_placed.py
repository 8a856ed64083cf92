"""``RequestPacer.on_not_placed``: told of every try that provably placed nothing, only those.

A campaign closes a try's intent on it before any retry wait, so it must never hear it
for an answer that may have placed a call (that intent must stay "may have been placed").
"""

from __future__ import annotations

import asyncio

import pytest

import polyout
from tests.client.hostile_servers import RawAnswer, RawRequest, raw_http
from tests.client.servers import Reply, ScriptedAPI, closed_port, cut_after_request, raw_server

NUMBER = "+14155552671"


class CountingPacer:
    """A pacer that lets every request through and records what it is told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def acquire(self) -> None:
        self.events.append("acquire")

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.events.append("rate_limited")

    def on_success(self) -> None:
        self.events.append("success")

    def on_not_placed(self) -> None:
        self.events.append("not_placed")


async def place(base_url: str, pacer: CountingPacer, **settings: int) -> polyout.Call:
    request = polyout.build_request(NUMBER)
    async with polyout.Client("platform", api_key="k", base_url=base_url, **settings) as client:  # type: ignore[arg-type]
        return await client.place(request, pacer=pacer)


@pytest.mark.parametrize(
    ("status", "told"),
    [(502, "not_placed"), (500, "not_placed"), (429, "rate_limited")],
)
async def test_refused_try_is_reported_before_the_retry(
    api: ScriptedAPI, status: int, told: str
) -> None:
    api.script(Reply(status, {"error": "not placed"}), Reply(200, {"call_sid": "OUT-2"}))
    pacer = CountingPacer()
    call = await place(api.base_url, pacer)
    assert call.call_sid == "OUT-2"
    expected = ["acquire", told, "acquire", "success"]
    if told == "rate_limited":
        expected.insert(2, "not_placed")  # a 429 also placed nothing
    assert pacer.events == expected


async def test_refused_connection_is_reported_as_not_placed() -> None:
    pacer = CountingPacer()
    with pytest.raises(polyout.TransportError) as caught:
        await place(f"http://127.0.0.1:{closed_port()}", pacer, max_retries=1)
    assert not isinstance(caught.value, polyout.TriggerOutcomeUnknown)
    assert pacer.events == ["acquire", "not_placed", "acquire", "not_placed"]


@pytest.mark.parametrize("status", [503, 504])
async def test_ambiguous_status_is_never_reported_as_not_placed(
    api: ScriptedAPI, status: int
) -> None:
    api.script(Reply(status, {"error": "gateway"}))
    pacer = CountingPacer()
    with pytest.raises(polyout.TriggerOutcomeUnknown):
        await place(api.base_url, pacer)
    assert "not_placed" not in pacer.events


async def test_lost_answer_is_never_reported_as_not_placed() -> None:
    pacer = CountingPacer()
    async with raw_server(cut_after_request) as server:
        with pytest.raises(polyout.TriggerOutcomeUnknown):
            await place(server.base_url, pacer)
    assert pacer.events == ["acquire"]


async def test_unusable_success_is_never_reported_as_not_placed(api: ScriptedAPI) -> None:
    api.script(Reply(200, {"no": "sid"}))
    pacer = CountingPacer()
    with pytest.raises(polyout.TriggerOutcomeUnknown):
        await place(api.base_url, pacer)
    assert "not_placed" not in pacer.events


def _slow_trigger(request: RawRequest) -> RawAnswer:
    return RawAnswer(200, b'{"call_sid": "OUT-late"}', delay=0.3)


async def _until_posted(server: object, count: int) -> None:
    for _ in range(200):
        if len(server.posts()) >= count:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} triggers never arrived")


async def test_try_cancelled_before_its_request_left_is_reported_as_not_placed() -> None:
    # One pooled connection: the second trigger waits for it, then is cancelled. Its
    # request never left, so a campaign must be able to close its intent as not placed
    # (not leave it "may have been placed"); the first one left, so its pacer never hears it.
    first, second = CountingPacer(), CountingPacer()
    async with (
        raw_http(_slow_trigger) as server,
        polyout.Client(
            "platform", api_key="k", base_url=server.base_url, max_connections=1
        ) as client,
    ):
        sent = asyncio.create_task(client.place(polyout.build_request(NUMBER), pacer=first))
        await _until_posted(server, 1)
        waiting = client.place(polyout.build_request("+14155552672"), pacer=second)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(waiting, 0.05)
        assert second.events == ["acquire", "not_placed"]
        sent.cancel()  # it has left: cancelling it must not say "not placed"
        with pytest.raises(asyncio.CancelledError):
            await sent
    assert first.events == ["acquire"]
    assert len(server.posts()) == 1


def _instant_trigger(request: RawRequest) -> RawAnswer:
    return RawAnswer(200, b'{"call_sid": "OUT-1"}')


async def test_a_try_cancelled_at_any_moment_is_never_not_placed_once_it_reached_the_server() -> (
    None
):
    # Cancelled after 0, 1, 2... loop turns: one of them lands as aiohttp has queued the
    # body's write but not yet run it. "Not placed" must then never be said of a trigger
    # the server received (the campaign would dial that person again).
    told_not_placed = 0
    async with (
        raw_http(_instant_trigger) as server,
        polyout.Client("platform", api_key="k", base_url=server.base_url) as client,
    ):
        for turns in range(40):
            pacer = CountingPacer()
            before = len(server.posts())
            trying = asyncio.create_task(client.place(polyout.build_request(NUMBER), pacer=pacer))
            for _ in range(turns):
                await asyncio.sleep(0)
            trying.cancel()
            await asyncio.gather(trying, return_exceptions=True)
            await asyncio.sleep(0.02)  # the server reads whatever did leave
            if "not_placed" in pacer.events:
                told_not_placed += 1
                assert len(server.posts()) == before, f"cancelled after {turns} turns"
    assert told_not_placed  # some cancellations did come before anything left
