"""Injected faults: rate limits, trigger 500/502, cut connections, latency, status 5xx."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest

from polyout.sandbox import FaultConfig, SandboxConfig

from .conftest import StartSandbox
from .harness import (
    AGENTS,
    CONNECTOR,
    CORRELATION,
    KEY,
    PLATFORM,
    SPEC_IDS,
    SPECS,
    ApiSpec,
    Harness,
)

pytestmark = pytest.mark.reliability

CUT = -1  # stands for "no HTTP response at all" in a list of status codes


async def trigger_code(harness: Harness, spec: ApiSpec = PLATFORM, *, key: str = KEY) -> int:
    """The status code of one trigger, or CUT when the connection was dropped."""
    try:
        return (await harness.trigger(spec, key=key)).status
    except aiohttp.ServerDisconnectedError:
        return CUT


async def with_faults(start: StartSandbox, **faults: object) -> Harness:
    return await start(SandboxConfig(outcomes="last-digit", faults=FaultConfig(**faults)))  # type: ignore[arg-type]


# --- trigger rate limit --------------------------------------------------------------


async def test_rate_limit_counts_a_sliding_second_of_real_time(start: StartSandbox) -> None:
    harness = await with_faults(start, rate_limit=3)
    clock = harness.clock
    for _ in range(3):
        assert await trigger_code(harness) == 200
        clock.advance_real(0.2)  # triggers at 0.0, 0.2, 0.4
    # now 0.6
    reply = await harness.trigger(PLATFORM)
    assert reply.status == 429
    # The trigger at 0.0 leaves the window at 1.0: 400 ms from now.
    assert (reply.headers["Retry-After"], reply.headers["retry-after-ms"]) == ("1", "400")
    clock.advance_real(0.399)
    reply = await harness.trigger(PLATFORM)
    assert (reply.status, reply.headers["retry-after-ms"]) == (429, "1")
    clock.advance_real(0.001)  # now 1.0: the first trigger is a full second old
    assert await trigger_code(harness) == 200
    reply = await harness.trigger(PLATFORM)  # window holds 0.2, 0.4, 1.0
    assert (reply.status, reply.headers["Retry-After"], reply.headers["retry-after-ms"]) == (
        429,
        "1",
        "200",
    )
    assert len(harness.sandbox.ledger.placements) == 4
    assert [r.status for r in harness.sandbox.ledger.rejections] == [429, 429, 429]


async def test_simulated_time_does_not_refill_the_rate_limit(start: StartSandbox) -> None:
    harness = await with_faults(start, rate_limit=1)
    assert await trigger_code(harness) == 200
    harness.sandbox.advance(3600)
    assert await trigger_code(harness) == 429


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_429_carries_both_headers_and_a_body_in_the_api_shape(
    start: StartSandbox, spec: ApiSpec
) -> None:
    harness = await with_faults(start, rate_limit=1)
    assert await trigger_code(harness, spec) == 200
    reply = await harness.trigger(spec)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "1"
    assert reply.headers["retry-after-ms"] == "1000"
    assert CORRELATION in reply.headers
    assert "rate limit" in reply.text
    assert len(harness.sandbox.ledger.placements) == 1


async def test_only_accepted_triggers_count(start: StartSandbox) -> None:
    harness = await with_faults(start, rate_limit=2, trigger_500_on={1, 2, 3})
    for _ in range(3):
        assert await trigger_code(harness) == 500  # refused: no slot used
    for _ in range(3):
        reply = await harness.trigger(PLATFORM, PLATFORM.body("not a number"))
        assert reply.status == 400  # invalid: no slot used
    assert await trigger_code(harness) == 200
    assert await trigger_code(harness) == 200
    assert await trigger_code(harness) == 429


async def test_rate_limit_is_per_credential_and_per_api(start: StartSandbox) -> None:
    harness = await with_faults(start, rate_limit=1)
    assert await trigger_code(harness, PLATFORM, key="a") == 200
    assert await trigger_code(harness, PLATFORM, key="a") == 429
    assert await trigger_code(harness, PLATFORM, key="b") == 200
    assert await trigger_code(harness, CONNECTOR, key="a") == 200


async def test_concurrent_triggers_cannot_share_the_last_slot(start: StartSandbox) -> None:
    # The latency makes all ten requests wait together, then race for 3 slots.
    harness = await with_faults(start, rate_limit=3, trigger_latency=0.02)
    codes = await asyncio.gather(*(trigger_code(harness) for _ in range(10)))
    assert sorted(codes) == [200] * 3 + [429] * 7
    assert len(harness.sandbox.ledger.placements) == 3


async def test_status_is_not_rate_limited_by_default(start: StartSandbox) -> None:
    harness = await with_faults(start, rate_limit=1)
    sid = await harness.place(PLATFORM)
    replies = [await harness.status(PLATFORM, sid) for _ in range(50)]
    assert {reply.status for reply in replies} == {200}


async def test_status_rate_limit_is_separate(start: StartSandbox) -> None:
    harness = await with_faults(start, status_rate_limit=2)
    sid = await harness.place(AGENTS)
    assert (await harness.status(AGENTS, sid)).status == 200
    assert (await harness.status(AGENTS, sid)).status == 200
    reply = await harness.status(AGENTS, sid)
    assert reply.status == 429
    assert reply.headers["retry-after-ms"] == "1000"
    assert await trigger_code(harness, AGENTS) == 200  # triggers have their own window
    harness.clock.advance_real(1)
    assert (await harness.status(AGENTS, sid)).status == 200


# --- trigger 500 / 502 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "status", "message"),
    [
        ({"trigger_500_rate": 1.0}, 500, "failed to place the outbound call"),
        ({"trigger_502_rate": 1.0}, 502, "outbound calling service unavailable"),
    ],
)
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_trigger_5xx_places_nothing(
    start: StartSandbox, spec: ApiSpec, faults: dict[str, float], status: int, message: str
) -> None:
    harness = await with_faults(start, **faults)
    reply = await harness.trigger(spec)
    assert reply.status == status
    assert message in reply.text
    assert CORRELATION in reply.headers
    assert harness.sandbox.ledger.placements == []
    assert len(harness.sandbox.calls) == 0
    assert [(r.status, r.endpoint) for r in harness.sandbox.ledger.rejections] == [
        (status, "trigger")
    ]


async def test_fault_schedules_hit_the_nth_placeable_trigger(start: StartSandbox) -> None:
    harness = await with_faults(start, trigger_502_on={2}, trigger_500_on={4}, cut_on={5})
    codes = []
    for n in range(1, 7):
        codes.append(await trigger_code(harness))
        if n == 1:  # refused requests do not advance the schedule
            assert (await harness.trigger(PLATFORM, key="")).status == 401
            assert (await harness.trigger(PLATFORM, {"to_number": "x"})).status == 400
    assert codes == [200, 502, 200, 500, CUT, 200]
    ledger = harness.sandbox.ledger
    assert [placement.cut for placement in ledger.placements] == [False, False, True, False]


# --- cut connections ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_cut_connection_places_the_call_but_answers_nothing(
    start: StartSandbox, spec: ApiSpec, caplog: pytest.LogCaptureFixture
) -> None:
    harness = await with_faults(start, cut_on={1})
    with caplog.at_level(logging.DEBUG, logger="aiohttp"):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await harness.trigger(spec)
        # The server carries on: the next trigger is answered normally.
        assert await trigger_code(harness, spec) == 200
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    placement = harness.sandbox.ledger.placements[0]
    assert placement.cut is True
    assert harness.sandbox.ledger.placement_count(placement.number) == 2
    # The call is real: its status can be read with the sid the client never got.
    assert (await harness.status(spec, placement.sid)).status == 200


async def test_cut_rate_cuts_about_that_share(start: StartSandbox) -> None:
    harness = await with_faults(start, cut_rate=0.3)
    codes = [await trigger_code(harness) for _ in range(200)]
    cuts = codes.count(CUT)
    assert 35 <= cuts <= 85
    assert codes.count(200) == 200 - cuts
    assert sum(p.cut for p in harness.sandbox.ledger.placements) == cuts


# --- latency ------------------------------------------------------------------------------


async def test_fixed_trigger_latency_delays_triggers_only(start: StartSandbox) -> None:
    harness = await with_faults(start, trigger_latency=0.15)
    started = time.perf_counter()
    sid = await harness.place(PLATFORM)
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    await harness.status(PLATFORM, sid)
    assert time.perf_counter() - started < 0.15


async def test_status_latency_range(start: StartSandbox) -> None:
    harness = await with_faults(start, status_latency=(0.05, 0.1))
    sid = await harness.place(PLATFORM)
    for _ in range(3):
        started = time.perf_counter()
        assert (await harness.status(PLATFORM, sid)).status == 200
        assert 0.05 <= time.perf_counter() - started < 0.5


# --- status 5xx ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_status_errors(start: StartSandbox, spec: ApiSpec) -> None:
    harness = await with_faults(start, status_error_rate=1.0)
    sid = await harness.place(spec)
    codes = {(await harness.status(spec, sid)).status for _ in range(30)}
    assert codes == {500, 502}


async def test_status_error_schedule_and_codes(start: StartSandbox) -> None:
    harness = await with_faults(start, status_error_on={2, 3}, status_error_codes=[503])
    sid = await harness.place(CONNECTOR)
    codes = [(await harness.status(CONNECTOR, sid)).status for _ in range(4)]
    assert codes == [200, 503, 503, 200]
    assert len(harness.sandbox.ledger.placements) == 1


# --- reproducibility ----------------------------------------------------------------------------


async def fault_run(start: StartSandbox, seed: int, **faults: object) -> list[int]:
    config = SandboxConfig(seed=seed, faults=FaultConfig(**faults))  # type: ignore[arg-type]
    harness = await start(config)
    return [await trigger_code(harness) for _ in range(40)]


async def test_faults_reproduce_with_the_seed(start: StartSandbox) -> None:
    first = await fault_run(start, 5, trigger_500_rate=0.3, trigger_502_rate=0.2, cut_rate=0.2)
    again = await fault_run(start, 5, trigger_500_rate=0.3, trigger_502_rate=0.2, cut_rate=0.2)
    other = await fault_run(start, 6, trigger_500_rate=0.3, trigger_502_rate=0.2, cut_rate=0.2)
    assert first == again
    assert first != other
    assert {200, 500, 502, CUT} <= set(first)


async def test_one_fault_does_not_shift_another(start: StartSandbox) -> None:
    alone = await fault_run(start, 9, trigger_500_rate=0.5)
    mixed = await fault_run(start, 9, trigger_500_rate=0.5, cut_rate=0.5)
    assert [code == 500 for code in alone] == [code == 500 for code in mixed]
