"""Clock timers and cheap waits: every clock's ``timer`` ends when its ``sleep`` would.

The engine waits between every status read and every trigger, so ``sleep_or_wake`` on a
``Wakeup`` is one future and one clock timer, no task. These tests hold each clock's
timer to its ``sleep``: wall-clock steps seen (SystemClock, VirtualClock), scaled time
(ScaledClock), and a wait that ends, by a wake-up or a cancellation, leaving no timer,
waiter or task behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

import polyout.campaign
from polyout._campaign._clock import Clock, Timer, Wakeup, sleep_or_wake
from polyout.testing import VirtualClock

START = datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc)


class _SpiedClock:
    """A clock that keeps every timer it hands out, to see that each was cancelled."""

    def __init__(self, inner: polyout.campaign.ScaledClock | VirtualClock) -> None:
        self._inner = inner
        self.timers: list[Timer] = []

    def time(self) -> float:
        return self._inner.time()

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    def timer(self, seconds: float, callback: Callable[[], object]) -> Timer:
        handle = self._inner.timer(seconds, callback)
        self.timers.append(handle)
        return handle


class _TimerlessClock:
    """A clock with only the protocol's two methods (a user's own): the general path."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(seconds)


def _fired_at(clock: Clock, fired: list[float]) -> Callable[[], None]:
    return lambda: fired.append(clock.time())


async def test_the_system_clock_timer_fires_when_its_seconds_have_passed() -> None:
    clock = polyout.campaign.SystemClock()
    fired: list[float] = []
    started = time.time()
    clock.timer(0.05, _fired_at(clock, fired))
    await asyncio.sleep(0.02)
    assert fired == []
    await asyncio.sleep(0.2)
    assert len(fired) == 1
    assert fired[0] - started >= 0.05


class _WallSteps:
    """The real wall clock, plus steps made by the test (as NTP or a suspend would)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + self.offset)


async def test_the_system_clock_timer_ends_early_when_the_wall_clock_steps_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = _WallSteps(monkeypatch)
    clock = polyout.campaign.SystemClock(recheck=0.02)
    fired: list[float] = []
    clock.timer(3600, _fired_at(clock, fired))  # an hour's wait for a window
    await asyncio.sleep(0.05)
    assert fired == []
    wall.offset = 3600.0  # the machine slept through it, or NTP stepped
    await asyncio.sleep(0.2)  # a few rechecks
    assert len(fired) == 1


async def test_the_system_clock_timer_waits_longer_when_the_wall_clock_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = _WallSteps(monkeypatch)
    clock = polyout.campaign.SystemClock(recheck=0.02)
    fired: list[float] = []
    clock.timer(0.1, _fired_at(clock, fired))
    wall.offset = -3600.0  # set back an hour: the wall clock has not reached the end
    await asyncio.sleep(0.3)
    assert fired == []
    wall.offset = 0.0
    await asyncio.sleep(0.2)
    assert len(fired) == 1


async def test_a_cancelled_system_clock_timer_never_fires() -> None:
    clock = polyout.campaign.SystemClock(recheck=0.01)
    fired: list[float] = []
    timer = clock.timer(0.05, _fired_at(clock, fired))
    await asyncio.sleep(0.02)  # past a recheck: the timer is on its second chunk
    timer.cancel()
    await asyncio.sleep(0.1)
    assert fired == []


async def test_the_scaled_clock_timer_runs_on_scaled_time() -> None:
    clock = polyout.campaign.ScaledClock(START, scale=1000.0)
    fired: list[float] = []
    real = time.perf_counter()
    clock.timer(100.0, _fired_at(clock, fired))  # 100 clock seconds: 0.1 s real
    await asyncio.sleep(0.05)
    assert fired == []
    await asyncio.sleep(0.2)
    assert len(fired) == 1
    assert fired[0] >= START.timestamp() + 100.0
    assert time.perf_counter() - real < 5


async def test_the_virtual_clock_timer_fires_exactly_when_a_sleep_would_end() -> None:
    async with VirtualClock(start=START) as clock:
        fired: list[float] = []
        clock.timer(3600.0, _fired_at(clock, fired))
        await clock.sleep(3600.0)
        await asyncio.sleep(0)
        assert fired == [START.timestamp() + 3600.0]


async def test_a_wall_clock_step_forward_brings_a_virtual_timer_on() -> None:
    async with VirtualClock(start=START) as clock:
        fired: list[float] = []
        clock.timer(3600.0, _fired_at(clock, fired))
        await asyncio.sleep(10)
        loop_before = clock.monotonic()
        clock.step(+3600.0)  # the hour's timer is due now
        await asyncio.sleep(0)  # the re-armed timer is due at this turn...
        await asyncio.sleep(0)  # ...and has run by the next
        assert fired == [START.timestamp() + 10 + 3600.0]
        assert clock.monotonic() == loop_before  # the loop's own clock did not move


async def test_a_wall_clock_step_back_puts_a_virtual_timer_off() -> None:
    async with VirtualClock(start=START) as clock:
        fired: list[float] = []
        clock.timer(60.0, _fired_at(clock, fired))
        await asyncio.sleep(10)
        clock.step(-3600.0)  # the minute's timer now has an hour and 50 s left
        await asyncio.sleep(3600.0 + 49)
        assert fired == []
        await asyncio.sleep(2)
        assert fired == [START.timestamp() + 60.0]


@pytest.mark.parametrize("kind", ["virtual", "scaled"])
async def test_a_wait_woken_early_cancels_its_timer_and_leaves_no_waiter(kind: str) -> None:
    async with VirtualClock(start=START) as virtual:
        inner = virtual if kind == "virtual" else polyout.campaign.ScaledClock(START, scale=1e6)
        clock = _SpiedClock(inner)
        wake = Wakeup()
        waiting = asyncio.create_task(sleep_or_wake(clock, 3600.0, wake))
        await asyncio.sleep(0)
        assert wake.waiting == 1
        assert len(asyncio.all_tasks()) == 2  # this test and the wait: no helper tasks
        wake.set()
        await waiting
        assert not wake.is_set()  # cleared for the next wait
        assert wake.waiting == 0
        assert [timer.cancelled() for timer in clock.timers] == [True]


async def test_a_cancelled_wait_leaves_no_timer_waiter_or_task_behind() -> None:
    async with VirtualClock(start=START) as virtual:
        clock = _SpiedClock(virtual)
        wake = Wakeup()
        waiting = asyncio.create_task(sleep_or_wake(clock, 60.0, wake))
        await asyncio.sleep(1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert wake.waiting == 0
        assert [timer.cancelled() for timer in clock.timers] == [True]
        assert asyncio.all_tasks() == {asyncio.current_task()}
        fired_before = virtual.time()
        await asyncio.sleep(120)  # past the wait's end: nothing of it runs
        assert virtual.time() == fired_before + 120


async def test_a_wait_ends_on_its_clock_timer_when_nobody_wakes_it() -> None:
    async with VirtualClock(start=START) as clock:
        wake = Wakeup()
        await sleep_or_wake(clock, 90.0, wake)
        assert clock.time() == START.timestamp() + 90.0
        assert wake.waiting == 0


async def test_a_wait_without_seconds_ends_only_when_woken() -> None:
    async with VirtualClock(start=START) as clock:
        wake = Wakeup()
        waiting = asyncio.create_task(sleep_or_wake(clock, None, wake))
        await asyncio.sleep(86400)
        assert not waiting.done()
        wake.set()
        await waiting
        assert clock.time() == START.timestamp() + 86400


async def test_a_clock_without_a_timer_and_an_asyncio_event_take_the_general_path() -> None:
    clock = _TimerlessClock()
    wake = Wakeup()
    await sleep_or_wake(clock, 0.01, wake)  # ends on the clock's own sleep
    assert clock.slept == [0.01]
    event = asyncio.Event()
    waiting = asyncio.create_task(sleep_or_wake(clock, 3600.0, event))
    await asyncio.sleep(0.01)
    event.set()
    await asyncio.wait_for(waiting, 1)
    assert not event.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_wakeup_set_before_the_wait_returns_at_once_and_is_cleared() -> None:
    async with VirtualClock(start=START) as clock:
        wake = Wakeup()
        wake.set()
        await sleep_or_wake(clock, 3600.0, wake)
        assert clock.time() == START.timestamp()
        assert not wake.is_set()


async def test_a_wakeup_wakes_every_waiter_in_the_order_they_began() -> None:
    wake = Wakeup()
    woken: list[int] = []

    async def waiter(number: int) -> None:
        assert await wake.wait() is True
        woken.append(number)

    tasks = [asyncio.create_task(waiter(number)) for number in range(5)]
    await asyncio.sleep(0)
    assert wake.waiting == 5
    wake.set()
    await asyncio.gather(*tasks)
    assert woken == [0, 1, 2, 3, 4]
    assert wake.waiting == 0
    assert await wake.wait() is True  # still set: returns at once
    wake.clear()
    assert not wake.is_set()
