"""The strict pacer: evenly spaced, never a burst, everyone paused together on 429."""

from __future__ import annotations

import asyncio
import itertools

import pytest

import polyout


class RecordingPacer(polyout.Pacer):
    """Records the moment of each release, which is what the pacer promises to space
    (a busy machine may resume the released task a little later)."""

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.releases: list[float] = []

    async def acquire(self) -> None:
        await super().acquire()
        self.releases.append(self._last_release)


async def release_times(pacer: RecordingPacer, count: int) -> list[float]:
    await asyncio.gather(*(pacer.acquire() for _ in range(count)))
    return sorted(pacer.releases)


async def test_no_burst_and_no_more_than_rate_in_any_second() -> None:
    rate = 20
    times = await release_times(RecordingPacer(rate), 41)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / rate  # never two at once, unlike a full token bucket
    for i in range(len(times) - rate):
        assert times[i + rate] - times[i] > 1.0  # rate + 1 never fit in one second
    span = times[-1] - times[0]
    assert span == pytest.approx(40 / rate, rel=0.03)  # and no slower than needed


async def test_rate_limit_pauses_everyone_and_slows_down() -> None:
    pacer = RecordingPacer(50)
    loop = asyncio.get_running_loop()
    await pacer.acquire()
    pacer.releases.clear()
    pacer.on_rate_limited(0.3)
    started = loop.time()
    times = await release_times(pacer, 3)
    assert times[0] - started >= 0.29
    assert pacer.rate == 25
    assert pacer.rate_limited == 1
    assert times[1] - times[0] >= 1 / 25


async def test_a_burst_of_429s_halves_the_rate_once() -> None:
    pacer = polyout.Pacer(40)
    for _ in range(5):
        pacer.on_rate_limited(0.05)
    assert pacer.rate == 20
    assert pacer.rate_limited == 5


async def test_successes_recover_the_rate_gradually() -> None:
    pacer = polyout.Pacer(40)
    pacer.on_rate_limited(0.01)
    assert pacer.rate == 20
    pacer.on_success()
    assert 20 < pacer.rate < 40
    for _ in range(100):
        pacer.on_success()
    assert pacer.rate == 40


async def test_rate_never_drops_below_the_minimum() -> None:
    pacer = polyout.Pacer(10, min_rate=4)
    loop = asyncio.get_running_loop()
    for _ in range(6):
        pacer._last_decrease = loop.time() - 100  # each 429 its own episode
        pacer.on_rate_limited(0)
    assert pacer.rate == 4


async def test_cancelled_waiters_do_not_take_a_turn() -> None:
    pacer = polyout.Pacer(20)
    await pacer.acquire()
    waiting = asyncio.create_task(pacer.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await pacer.acquire()
    assert loop.time() - started < 0.1  # the next caller got the slot


async def test_client_rate_limit_paces_triggers() -> None:
    from tests.client.servers import scripted_api

    async with scripted_api() as api:
        arrivals: list[float] = []
        loop = asyncio.get_running_loop()
        original = api._handle

        async def timed(request):  # type: ignore[no-untyped-def]
            arrivals.append(loop.time())
            return await original(request)

        api._handle = timed  # type: ignore[method-assign]
        async with polyout.Client(
            "platform", api_key="k", base_url=api.base_url, rate_limit=25
        ) as client:
            await asyncio.gather(*(client.trigger_call("+14155552671") for _ in range(6)))
    assert len(api.seen) == 6


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        polyout.Pacer(0)


async def test_spacing_restarts_from_the_moment_a_request_really_leaves() -> None:
    pacer = RecordingPacer(50)  # 20.2 ms apart
    loop = asyncio.get_running_loop()
    await pacer.acquire()
    await asyncio.sleep(0.05)  # e.g. a slow fsync before the request goes out
    sent = loop.time()
    pacer.sent_now()
    await pacer.acquire()
    # Spaced from the send, less the 2 ms lateness credit, not from the release.
    assert pacer.releases[-1] >= sent + pacer.interval - 0.002 - 1e-6


async def test_sent_now_never_moves_the_schedule_earlier() -> None:
    pacer = RecordingPacer(10)
    await pacer.acquire()
    before = pacer._last_release
    pacer.sent_now()  # right away: nothing to restart
    assert pacer._last_release == before


async def test_status_reads_share_a_pacer_and_a_429_pauses_it() -> None:
    from tests.client.servers import Reply, scripted_api

    async with scripted_api() as api:
        api.script(
            Reply(429, {"error": "slow down"}, headers={"retry-after-ms": "300"}),
            Reply(200, {"status": "calling"}),
            Reply(200, {"status": "calling"}),
        )
        pacer = polyout.Pacer(100)
        loop = asyncio.get_running_loop()
        async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
            started = loop.time()
            first = await client.get_status("OUT-1", pacer=pacer)
            second = await client.get_status("OUT-2", pacer=pacer)
            elapsed = loop.time() - started
    assert first.state is second.state is polyout.CallState.CALLING
    assert pacer.rate_limited == 1
    assert 50 <= pacer.rate < 100  # halved for everyone sharing it, recovering since
    # Retries wait zero in tests, but the shared pause still held the retry back.
    assert elapsed >= 0.29
    assert len(api.seen) == 3
