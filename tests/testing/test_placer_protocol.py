"""``FakePlacer`` keeps the pacer protocol exactly as ``polyout.Client`` does.

Each case scripts the same answers twice: from a real server on 127.0.0.1 to a real
``Client``, and as faults to a ``FakePlacer``. The pacer must hear the same thing in
the same order, and the caller get the same kind of error: a campaign's exactly-once
bookkeeping (an intent closed on ``on_not_placed``, kept open on an unknown) rests on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

import polyout
from polyout._campaign._placer import Placer
from polyout.testing import (
    AnswerLost,
    FakePlacer,
    Fault,
    NoConnection,
    RateLimited,
    Refused,
    ServerFailure,
    scripted,
)
from tests.client.servers import Reply, closed_port, cut_after_request, raw_server, scripted_api

NUMBER = "+14155552671"
PLACED = Reply(200, {"call_sid": "OUT-1", "status": "queued"})
STATUS = Reply(200, {"status": "calling", "reason": ""})


def _typed(client: polyout.Client, fake: FakePlacer) -> tuple[Placer, Placer]:
    # mypy --strict (CI) checks that both satisfy the engine's protocol structurally.
    return client, fake


class RecordingPacer:
    """Lets every request through and records what it is told, in order."""

    def __init__(self) -> None:
        self.told: list[str] = []

    async def acquire(self) -> None:
        self.told.append("acquire")

    def on_rate_limited(self, retry_after: float | None) -> None:
        self.told.append(f"rate_limited({retry_after})")

    def on_success(self) -> None:
        self.told.append("success")

    def on_not_placed(self) -> None:
        self.told.append("not_placed")


Outcome = tuple[list[str], type[BaseException] | None]


async def _outcome(act: Callable[[RecordingPacer], Awaitable[object]]) -> Outcome:
    pacer = RecordingPacer()
    try:
        await act(pacer)
    except polyout.PolyOutError as exc:
        return pacer.told, type(exc)
    return pacer.told, None


def _client(base_url: str) -> polyout.Client:
    return polyout.Client("platform", api_key="k", base_url=base_url)


TRIGGER_CASES: dict[str, tuple[list[Reply], list[Fault | None]]] = {
    "placed": ([PLACED], [None]),
    "429 then placed": ([Reply(429, {}, {"Retry-After": "0"}), PLACED], [RateLimited(0), None]),
    "429 without Retry-After": ([Reply(429, {}), PLACED], [RateLimited(None), None]),
    "500 then placed": ([Reply(500, {}), PLACED], [ServerFailure(500), None]),
    "502 then placed": ([Reply(502, {}), PLACED], [ServerFailure(502), None]),
    "400": ([Reply(400, {"message": "no"})], [Refused("no")]),
    "403": ([Reply(403, {"message": "no"})], [Refused("no", status=403)]),
    "503": ([Reply(503, {})], [ServerFailure(503)]),
    "504 placed": ([Reply(504, {})], [ServerFailure(504, placed=True)]),
    "429 until the retries are spent": (
        [Reply(429, {}, {"Retry-After": "0"})] * 4,
        [RateLimited(0)] * 4,
    ),
}


@pytest.mark.parametrize("case", list(TRIGGER_CASES))
async def test_a_trigger_tells_the_pacer_what_the_client_tells_it(case: str) -> None:
    replies, faults = TRIGGER_CASES[case]
    request = polyout.build_request(NUMBER)
    async with scripted_api() as api, _client(api.base_url) as client:
        api.script(*replies)
        real = await _outcome(lambda pacer: client.place(request, pacer=pacer))
    fake = FakePlacer(trigger_faults=scripted(dict(enumerate(faults, start=1))))
    assert await _outcome(lambda pacer: fake.place(request, pacer=pacer)) == real


async def test_a_lost_answer_tells_the_pacer_nothing_more_as_with_the_client() -> None:
    request = polyout.build_request(NUMBER)
    async with raw_server(cut_after_request) as server, _client(server.base_url) as client:
        real = await _outcome(lambda pacer: client.place(request, pacer=pacer))
    fake = FakePlacer(trigger_faults=scripted({1: AnswerLost()}))
    assert await _outcome(lambda pacer: fake.place(request, pacer=pacer)) == real
    assert real == (["acquire"], polyout.TriggerOutcomeUnknown)


async def test_no_connection_is_retried_and_reported_as_with_the_client() -> None:
    request = polyout.build_request(NUMBER)
    async with _client(f"http://127.0.0.1:{closed_port()}") as client:
        real = await _outcome(lambda pacer: client.place(request, pacer=pacer))
    fake = FakePlacer(trigger_faults=lambda send: NoConnection())
    assert await _outcome(lambda pacer: fake.place(request, pacer=pacer)) == real
    assert real == (["acquire", "not_placed"] * 4, polyout.TransportError)


STATUS_CASES: dict[str, tuple[list[Reply], list[Fault | None]]] = {
    "read": ([STATUS], [None]),
    "429 then read": ([Reply(429, {}, {"Retry-After": "0"}), STATUS], [RateLimited(0), None]),
    "500 then read": ([Reply(500, {}), STATUS], [ServerFailure(500), None]),
    "503 then read": ([Reply(503, {}), STATUS], [ServerFailure(503), None]),
}


@pytest.mark.parametrize("case", list(STATUS_CASES))
async def test_a_status_read_tells_the_pacer_what_the_client_tells_it(case: str) -> None:
    replies, faults = STATUS_CASES[case]
    async with scripted_api() as api, _client(api.base_url) as client:
        api.script(*replies)
        real = await _outcome(lambda pacer: client.get_status("OUT-1", pacer=pacer))
    fake = FakePlacer(status_faults=scripted(dict(enumerate(faults, start=1))))
    call = await fake.place(polyout.build_request(NUMBER))
    assert await _outcome(lambda pacer: fake.get_status(call.call_sid, pacer=pacer)) == real


async def test_the_fake_names_its_place_as_a_client_does() -> None:
    fake = FakePlacer(api="connector", environment=None, base_url="fake://account-1")
    placer: Placer = fake
    assert (placer.api, placer.environment, placer.base_url) == (
        "connector",
        None,
        "fake://account-1",
    )
