"""``polyout.testing.VirtualClock``: loop time and wall time jump together, real I/O still works."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from datetime import datetime, timezone

import pytest

import polyout
import polyout.campaign
from polyout.sandbox import Sandbox, SandboxConfig
from polyout.testing import VirtualClock

START = datetime(2026, 3, 28, 23, 0, tzinfo=timezone.utc)


async def test_an_hour_of_sleep_passes_at_once_on_both_clocks() -> None:
    loop = asyncio.get_running_loop()
    real = time.perf_counter()
    async with VirtualClock(start=START) as clock:
        assert clock.time() == START.timestamp()
        before = loop.time()
        await asyncio.sleep(3600)
        assert loop.time() - before == 3600.0
        assert clock.time() == START.timestamp() + 3600.0
        assert clock.now() == datetime(2026, 3, 29, 0, 0, tzinfo=timezone.utc)
        assert clock.jumps == 1
    assert time.perf_counter() - real < 0.5


async def test_a_pacer_at_100_per_second_releases_1000_callers_exactly_10_15_ms_apart() -> None:
    loop = asyncio.get_running_loop()
    real = time.perf_counter()
    async with VirtualClock():
        pacer = polyout.campaign.Pacer(100)
        released: list[float] = []

        async def caller() -> None:
            await pacer.acquire()
            released.append(loop.time())
            pacer.on_success()  # answered at once

        await asyncio.gather(*(caller() for _ in range(1000)))
    gaps = [later - earlier for earlier, later in itertools.pairwise(released)]
    assert gaps == pytest.approx([0.01015] * 999, abs=1e-9)
    assert time.perf_counter() - real < 2.0


async def test_loopback_sockets_work_while_time_jumps() -> None:
    async def answer_a_minute_later(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        line = await reader.readline()
        await asyncio.sleep(60)
        writer.write(line.upper())
        await writer.drain()
        writer.close()

    loop = asyncio.get_running_loop()
    async with VirtualClock():
        server = await asyncio.start_server(answer_a_minute_later, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        before = loop.time()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello\n")
        assert await reader.readline() == b"HELLO\n"
        assert loop.time() - before == 60.0
        writer.close()
        server.close()
        await server.wait_closed()


async def test_a_client_and_the_sandbox_on_loopback_under_virtual_time() -> None:
    async with (
        VirtualClock(),
        Sandbox(SandboxConfig(outcomes="last-digit")) as sandbox,
        polyout.Client("platform", api_key="sandbox-key", base_url=sandbox.base_url) as client,
    ):
        call = await client.trigger_call("+14155552671")
        status = await client.get_status(call.call_sid)
    assert status.call_sid == call.call_sid
    assert sandbox.ledger.placement_count("+14155552671") == 1


async def test_a_wall_clock_step_moves_clock_sleeps_and_not_the_loop() -> None:
    loop = asyncio.get_running_loop()
    async with VirtualClock(start=START) as clock:
        before = loop.time()
        sleeper = asyncio.create_task(clock.sleep(3600))
        await asyncio.sleep(10)
        clock.step(3600)  # NTP moves the wall clock an hour on: the sleep is over
        await asyncio.wait_for(sleeper, timeout=1)
        assert loop.time() - before == 10.0
        assert clock.time() == START.timestamp() + 3610.0

        clock.step(-600)  # and back: a sleep until a wall-clock time lasts longer
        started = loop.time()
        await clock.sleep(60)
        assert loop.time() - started == 60.0
        assert clock.time() == START.timestamp() + 3610.0 - 600 + 60


async def test_advance_moves_both_clocks_and_runs_what_fell_due() -> None:
    loop = asyncio.get_running_loop()
    async with VirtualClock(start=START) as clock:
        fired: list[float] = []
        loop.call_later(120, lambda: fired.append(loop.time()))
        before = loop.time()
        clock.advance(300)
        assert clock.time() == START.timestamp() + 300
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert fired == [before + 300]
        with pytest.raises(polyout.ConfigurationError):
            clock.advance(-1)


async def test_time_stands_still_while_executor_work_runs() -> None:
    loop = asyncio.get_running_loop()
    release = threading.Event()
    async with VirtualClock():
        before = loop.time()
        slept = asyncio.create_task(asyncio.sleep(3600))
        job = asyncio.create_task(asyncio.to_thread(release.wait, 5))
        await asyncio.sleep(0)
        # The loop has nothing to do but wait: it must not leap over the job.
        loop.call_soon_threadsafe(lambda: None)
        threading.Timer(0.05, release.set).start()
        assert await job is True
        assert loop.time() - before < 1.0
        assert not slept.done()
        await slept
        assert loop.time() - before == 3600.0


async def test_an_autojump_threshold_waits_for_threads_that_report_back_on_their_own() -> None:
    loop = asyncio.get_running_loop()
    async with VirtualClock(autojump_threshold=0.5):
        before = loop.time()
        slept = asyncio.create_task(asyncio.sleep(3600))
        answer: asyncio.Future[str] = loop.create_future()

        def work() -> None:
            time.sleep(0.05)
            loop.call_soon_threadsafe(answer.set_result, "done")

        threading.Thread(target=work).start()
        assert await answer == "done"
        assert loop.time() - before < 1.0
        await slept
        assert loop.time() - before == 3600.0


async def test_leaving_restores_the_real_clock_and_pending_timers_keep_their_delay() -> None:
    loop = asyncio.get_running_loop()
    fired = asyncio.Event()
    async with VirtualClock() as clock:
        clock.advance(86400)  # a day ahead of the real clock
        loop.call_later(0.05, fired.set)
    assert "time" not in vars(loop)
    started = time.monotonic()
    await asyncio.wait_for(fired.wait(), timeout=2)
    assert 0.03 <= time.monotonic() - started < 1.5


async def test_one_loop_one_virtual_clock() -> None:
    async with VirtualClock():
        with pytest.raises(RuntimeError, match="already runs on a VirtualClock"):
            async with VirtualClock():
                pass


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(polyout.ConfigurationError, match="start"):
        VirtualClock(start=datetime(2026, 1, 1))
