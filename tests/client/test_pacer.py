"""The strict pacer: evenly spaced, never a burst, everyone paused together on 429.

Timing promises run on a virtual clock (see ``virtual_time``): exact, and instant.
"""

from __future__ import annotations

import asyncio
import itertools
import math

import pytest

import polyout
import polyout.campaign
from tests.client.servers import Reply, ScriptedAPI
from tests.client.virtual_time import VirtualTimeLoop, run_virtual

PROBE_WAIT = 0.5  # the longest the release after a quiet spell's first waits for its answer
GUARD = 1.015  # the documented margin: slots 1.5% further apart than the rate
LATE_CREDIT = 0.002  # how late a release may be and keep its slot


class RecordingPacer(polyout.campaign.Pacer):
    """Records the moment each waiter was really let go, not the slot it was given.

    Each release is answered at once, as by a server on a warm connection
    (``on_not_placed``: heard back, with no effect on the rate), unless ``answered``
    is False.
    """

    def __init__(self, rate: float, *, answered: bool = True, **kwargs: float) -> None:
        super().__init__(rate, **kwargs)
        self.releases: list[float] = []
        self._answered_at_once = answered

    async def acquire(self) -> None:
        await super().acquire()
        self.releases.append(asyncio.get_running_loop().time())
        if self._answered_at_once:
            self.on_not_placed()


async def release_times(pacer: RecordingPacer, count: int) -> list[float]:
    pacer.releases.clear()
    await asyncio.gather(*(pacer.acquire() for _ in range(count)))
    return list(pacer.releases)


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def test_no_burst_and_no_more_than_rate_in_any_second() -> None:
    rate = 20

    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await release_times(RecordingPacer(rate), 41)

    times = run_virtual(main)
    # Never two at once, unlike a full token bucket: a release late by up to the credit
    # keeps its slot, so the next may follow a little sooner than the interval.
    assert min(gaps(times)) >= GUARD / rate - LATE_CREDIT
    for i in range(len(times) - rate):
        assert times[i + rate] - times[i] > 1.0  # rate + 1 never fit in one second
    # And no slower than needed: 40 intervals (with the 1.5% guard), each answered at once.
    assert times[-1] - times[0] <= 40 * GUARD / rate + 0.002


def test_callers_are_released_in_the_order_they_came() -> None:
    pacer = polyout.campaign.Pacer(50)

    async def main(loop: VirtualTimeLoop) -> list[int]:
        order: list[int] = []

        async def caller(number: int) -> None:
            await pacer.acquire()
            order.append(number)

        await asyncio.gather(*(caller(number) for number in range(6)))
        return order

    assert run_virtual(main) == list(range(6))


def test_timers_firing_late_do_not_cost_throughput() -> None:
    """Each timer fires up to 1 ms late (epoll's rounding): at 100/s that lateness,
    passed on from release to release, made 100/s come out at 88-94/s."""

    async def main(loop: VirtualTimeLoop) -> list[float]:
        return await release_times(RecordingPacer(100), 201)

    times = run_virtual(main)
    achieved = 200 / (times[-1] - times[0])
    assert 97.5 <= achieved <= 100 / GUARD + 0.01


def test_after_a_quiet_spell_the_second_release_waits_for_the_first_one_s_answer() -> None:
    """The first trigger after a quiet spell opens a connection (and its caller may share
    the loop with hundreds more): it can reach the server tens of ms late. The next
    waits until it is answered, so that it has arrived, and keeps the interval from then."""
    pacer = RecordingPacer(50, answered=False)  # 20.3 ms apart

    async def main(loop: VirtualTimeLoop) -> list[list[float]]:
        async def answer_in(delay: float) -> None:
            await asyncio.sleep(delay)
            pacer.on_success()

        runs = []
        for answer_after in (0.07, 0.005):  # a slow cold trip, then a quick one
            answering = asyncio.create_task(answer_in(answer_after))
            runs.append(await release_times(pacer, 3))
            await answering
            await asyncio.sleep(1.5)  # quiet again
        return runs

    # Spacing restarts from the answer: the probe may have arrived just before it.
    for (first, second), answer_after in zip(
        map(gaps, run_virtual(main)), (0.07, 0.005), strict=True
    ):
        assert first == pytest.approx(answer_after + pacer.interval, abs=0.002)
        assert second == pytest.approx(pacer.interval, abs=0.002)


def test_an_unanswered_probe_holds_the_next_release_for_half_a_second_only() -> None:
    """No answer (a lost one, an unknown outcome): the next goes after ``PROBE_WAIT``,
    is no probe itself, and an answer that comes later moves nothing."""
    pacer = RecordingPacer(50, answered=False)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        first_two = await release_times(pacer, 2)
        waiting = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(0.005)
        pacer.on_success()  # the probe's answer, after its wait
        await waiting
        return [*first_two, pacer.releases[-1]]

    assert gaps(run_virtual(main)) == [
        pytest.approx(PROBE_WAIT, abs=0.002),
        pytest.approx(pacer.interval, abs=0.002),
    ]


@pytest.mark.parametrize("answer", ["on_success", "on_rate_limited", "on_not_placed"])
def test_any_answer_ends_the_probe_s_wait(answer: str) -> None:
    pacer = RecordingPacer(50, answered=False, max_pause=0.0)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def answer_soon() -> None:
            await asyncio.sleep(0.1)
            hear = getattr(pacer, answer)
            hear(0.0) if answer == "on_rate_limited" else hear()

        answering = asyncio.create_task(answer_soon())
        times = await release_times(pacer, 2)
        await answering
        return times

    assert gaps(run_virtual(main))[0] == pytest.approx(0.1 + pacer.interval, abs=0.002)


def test_a_caller_keeping_up_with_the_rate_gets_no_cold_start() -> None:
    """One caller at a time, each back 25 ms after its release: never a quiet pacer."""
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        for _ in range(6):
            await pacer.acquire()
            await asyncio.sleep(0.025)  # past the 20.3 ms slot: no waiting, no queue
        return pacer.releases

    later = gaps(run_virtual(main))[1:]
    assert max(later) < 0.025 + 0.002


def test_an_event_loop_stall_is_not_followed_by_a_burst() -> None:
    rate = 20
    pacer = RecordingPacer(rate)

    async def main(loop: VirtualTimeLoop) -> list[float]:
        async def stall_soon() -> None:
            await asyncio.sleep(0.12)
            loop.stall(0.4)  # e.g. a blocking call in someone's callback

        stalling = asyncio.create_task(stall_soon())
        times = await release_times(pacer, 15)
        await stalling
        return times

    times = run_virtual(main)
    assert max(gaps(times)) >= 0.35  # the stall happened while they waited
    # After it, the schedule restarts: no catching up with the slots the stall missed.
    assert min(gaps(times)) >= pacer.interval - LATE_CREDIT


def test_a_rate_limit_pauses_everyone_and_slows_down() -> None:
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        await pacer.acquire()
        await asyncio.sleep(0.5)
        pacer.on_rate_limited(0.3)
        limited = loop.time()
        return limited, await release_times(pacer, 3)

    limited, times = run_virtual(main)
    assert times[0] >= limited + 0.3  # nobody goes inside the pause
    assert pacer.rate == 25
    assert pacer.rate_limited == 1
    assert min(gaps(times)) >= GUARD / 25 - LATE_CREDIT


def test_a_429_without_retry_after_pauses_everyone_for_a_second() -> None:
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        await pacer.acquire()
        pacer.on_rate_limited(None)
        return loop.time(), await release_times(pacer, 2)

    limited, times = run_virtual(main)
    assert times[0] >= limited + 1.0


def test_a_shorter_later_429_does_not_cut_a_longer_pause() -> None:
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        await pacer.acquire()
        pacer.on_rate_limited(0.5)
        limited = loop.time()
        await asyncio.sleep(0.1)
        pacer.on_rate_limited(0.1)
        return limited, await release_times(pacer, 2)

    limited, times = run_virtual(main)
    assert times[0] >= limited + 0.5


@pytest.mark.parametrize("asked", [math.inf, 1e12])
def test_an_endless_retry_after_pauses_for_max_pause_only(asked: float) -> None:
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        await pacer.acquire()
        pacer.on_rate_limited(asked)
        return loop.time(), await release_times(pacer, 1)

    limited, times = run_virtual(main)
    assert times[0] == pytest.approx(limited + pacer.max_pause, abs=0.002)
    assert pacer.max_pause == 300  # five minutes by default, then the server is asked again


@pytest.mark.parametrize("asked", [math.nan, -5.0])
def test_a_meaningless_retry_after_pauses_as_if_none_or_zero(asked: float) -> None:
    pacer = RecordingPacer(50)

    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float]]:
        await pacer.acquire()
        await asyncio.sleep(1.0)
        pacer.on_rate_limited(asked)
        return loop.time(), await release_times(pacer, 1)

    limited, times = run_virtual(main)
    expected = 1.0 if math.isnan(asked) else 0.0
    assert times[0] == pytest.approx(limited + expected, abs=0.002)


def test_a_burst_of_429s_halves_the_rate_once() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        rates = []
        for pause in (0.05, 0.0):  # Retry-After: 0 is one signal too, not five
            pacer = polyout.campaign.Pacer(40)
            for _ in range(5):
                pacer.on_rate_limited(pause)
            assert pacer.rate_limited == 5
            rates.append(pacer.rate)
        return rates

    assert run_virtual(main) == [20, 20]


def test_a_429_once_the_pause_is_over_halves_the_rate_again() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        pacer = polyout.campaign.Pacer(40)
        pacer.on_rate_limited(0.5)
        await asyncio.sleep(0.25)
        pacer.on_rate_limited(0.5)  # the same episode
        halved = pacer.rate
        await asyncio.sleep(0.25)  # exactly one pause after the first: a new episode
        pacer.on_rate_limited(0.5)
        return [halved, pacer.rate]

    assert run_virtual(main) == [20, 10]


def test_successes_recover_the_rate_gradually() -> None:
    async def main(loop: VirtualTimeLoop) -> None:
        pacer = polyout.campaign.Pacer(40)
        pacer.on_rate_limited(0.01)
        assert pacer.rate == 20
        pacer.on_success()
        assert 20 < pacer.rate < 40
        for _ in range(11):
            pacer.on_success()
        assert pacer.rate < 40  # each success wins back 1/25 of the rate
        pacer.on_success()  # the 13th: back to the full rate, and no further
        pacer.on_success()
        assert pacer.rate == 40

    run_virtual(main)


def test_rate_never_drops_below_the_minimum_and_recovers_from_it() -> None:
    async def main(loop: VirtualTimeLoop) -> list[float]:
        pacer = polyout.campaign.Pacer(10, min_rate=4)
        default = polyout.campaign.Pacer(16)
        for _ in range(8):
            loop.stall(10)  # each 429 its own episode
            pacer.on_rate_limited(0)
            default.on_rate_limited(0)
        floors = [pacer.rate, default.rate]
        for _ in range(25):
            pacer.on_success()
        return [*floors, pacer.rate]

    assert run_virtual(main) == [4, 1, 10]


def test_cancelled_waiters_do_not_take_a_turn() -> None:
    pacer = RecordingPacer(20)

    async def main(loop: VirtualTimeLoop) -> float:
        await pacer.acquire()
        await pacer.acquire()  # past the probe (answered at once): a plain 50.75 ms slot
        waiting = asyncio.create_task(pacer.acquire())
        await asyncio.sleep(0)
        waiting.cancel()
        started = loop.time()
        await pacer.acquire()
        return loop.time() - started

    assert run_virtual(main) == pytest.approx(pacer.interval, abs=0.002)


def test_spacing_restarts_from_the_moment_a_request_really_leaves() -> None:
    pacer = RecordingPacer(50)  # 20.3 ms apart

    async def main(loop: VirtualTimeLoop) -> float:
        await asyncio.sleep(2)
        await pacer.acquire()
        loop.stall(0.05)  # e.g. a slow fsync before the request goes out
        sent = loop.time()
        pacer.sent_now()
        await pacer.acquire()
        return sent

    sent = run_virtual(main)
    # Spaced from the send, less the 2 ms lateness credit, not from the release.
    assert pacer.releases[-1] >= sent + pacer.interval - LATE_CREDIT - 1e-9
    assert pacer.releases[-1] <= sent + pacer.interval + 0.001


def test_sent_now_never_moves_the_schedule_earlier() -> None:
    pacer = RecordingPacer(10)

    async def main(loop: VirtualTimeLoop) -> None:
        await pacer.acquire()
        await pacer.acquire()
        pacer.sent_now()  # right away: nothing to restart
        await pacer.acquire()

    run_virtual(main)
    # Slots follow each other; a timer fires on a whole millisecond (the virtual loop, as
    # epoll), so a release may come up to 1 ms after its slot and the next one on time.
    assert gaps(pacer.releases)[-1] >= pacer.interval - 0.001 - 1e-9


def test_a_floor_at_the_rate_and_no_pause_are_valid_settings() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[float, list[float], float]:
        steady = RecordingPacer(10, min_rate=10, max_pause=0)
        await steady.acquire()
        await asyncio.sleep(1)
        steady.on_rate_limited(5)
        asked = loop.time()
        return steady.rate, await release_times(steady, 1), asked

    rate, [released], asked = run_virtual(main)
    assert rate == 10  # never slowed below its floor
    assert released == asked  # and not paused


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1}, "rate"),
        ({"rate": math.nan}, "rate"),
        ({"rate": math.inf}, "rate"),
        ({"rate": 10, "min_rate": 0}, "min_rate"),
        ({"rate": 10, "min_rate": math.nan}, "min_rate"),
        ({"rate": 10, "min_rate": 20}, "min_rate"),
        ({"rate": 10, "max_pause": -1}, "max_pause"),
        ({"rate": 10, "max_pause": math.inf}, "max_pause"),
    ],
)
def test_settings_that_cannot_work_are_configuration_errors(
    kwargs: dict[str, float], setting: str
) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        polyout.campaign.Pacer(**kwargs)
    assert caught.value.setting == setting


async def test_client_rate_limit_paces_triggers(api: ScriptedAPI) -> None:
    async with polyout.Client(
        "platform", api_key="k", base_url=api.base_url, rate_limit=25
    ) as client:
        await asyncio.gather(*(client.trigger_call("+14155552671") for _ in range(6)))
    arrivals = [seen.arrived for seen in api.seen]
    assert len(arrivals) == 6
    # 40.4 ms apart as sent; a busy machine delays some trips more than others.
    assert min(gaps(arrivals)) >= 0.02
    assert arrivals[-1] - arrivals[0] >= 5 * GUARD / 25 - 0.02


async def test_status_reads_share_a_pacer_and_a_429_pauses_it(api: ScriptedAPI) -> None:
    api.script(
        Reply(429, {"error": "slow down"}, headers={"retry-after-ms": "300"}),
        Reply(200, {"status": "calling"}),
        Reply(200, {"status": "calling"}),
    )
    pacer = polyout.campaign.Pacer(100)
    loop = asyncio.get_running_loop()
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        started = loop.time()
        first = await client.get_status("OUT-1", pacer=pacer)
        second = await client.get_status("OUT-2", pacer=pacer)
        elapsed = loop.time() - started
    assert first.state is second.state is polyout.CallState.CALLING
    assert pacer.rate_limited == 1
    assert 50 < pacer.rate < 100  # halved for everyone sharing it, recovering since
    # Retries wait zero in tests, but the shared pause still held the retry back.
    assert elapsed >= 0.29
    assert len(api.seen) == 3


async def test_a_429_with_an_endless_retry_after_does_not_freeze_the_pacer(
    api: ScriptedAPI,
) -> None:
    api.script(Reply(429, {"error": "go away"}, headers={"Retry-After": "inf"}))
    pacer = polyout.campaign.Pacer(100, max_pause=0.2)
    loop = asyncio.get_running_loop()
    async with polyout.Client("platform", api_key="k", base_url=api.base_url) as client:
        with pytest.raises(polyout.RateLimitError) as caught:
            await client.get_status("OUT-1", pacer=pacer)
        started = loop.time()
        status = await asyncio.wait_for(client.get_status("OUT-1", pacer=pacer), 2)
    assert caught.value.retry_after == 300  # bounded, beyond the 30 s retry cap: not retried
    assert status.state is polyout.CallState.QUEUED
    assert 0.15 <= loop.time() - started < 1.0
    assert len(api.seen) == 2
