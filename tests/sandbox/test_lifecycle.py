"""Each API's call lifecycle on a driven clock, retention expiry, and the time scale.

Default timings (simulated seconds): queued 2 (the Connector's first half of it is
CREATED), ringing 10, connected 60, then the status is kept 7200 more.
"""

from __future__ import annotations

import asyncio
import datetime

import aiohttp
import pytest

from polyout.sandbox import (
    Api,
    CallRecord,
    CallStore,
    Outcome,
    OutcomeMix,
    Sandbox,
    SandboxConfig,
    Timeline,
)

from .conftest import StartSandbox
from .harness import AGENTS, CONNECTOR, PLATFORM, SPEC_IDS, SPECS, ApiSpec, Harness

START = 1_800_000_000.0  # ManualClock's default start


def iso(offset: float) -> str:
    moment = datetime.datetime.fromtimestamp(START + offset, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


async def statuses_at(harness: Harness, spec: ApiSpec, sid: str, times: list[float]) -> list[str]:
    """The status at each simulated offset from the placement (offsets ascending)."""
    seen = []
    elapsed = 0.0
    for at in times:
        harness.sandbox.advance(at - elapsed)
        elapsed = at
        seen.append(await harness.status_name(spec, sid))
    return seen


TIMES = [0, 0.99, 1, 1.99, 2, 11.99, 12, 71.99, 72, 7271.99]


async def test_agents_completed_call(harness: Harness) -> None:
    sid = await harness.place(AGENTS, "+442079460950")
    assert await statuses_at(harness, AGENTS, sid, TIMES) == [
        *["QUEUED"] * 4,
        *["CALLING"] * 4,
        *["SUCCESS"] * 2,
    ]
    assert (await harness.status(AGENTS, sid)).json["reason"] == ""


async def test_platform_completed_call(harness: Harness) -> None:
    sid = await harness.place(PLATFORM, "+442079460956")
    assert await statuses_at(harness, PLATFORM, sid, TIMES) == [
        *["queued"] * 4,
        *["calling"] * 4,
        *["success"] * 2,
    ]
    assert (await harness.status(PLATFORM, sid)).json == {"status": "success", "reason": ""}


async def test_connector_completed_call(harness: Harness) -> None:
    sid = await harness.place(CONNECTOR, "+442079460953")
    assert await statuses_at(harness, CONNECTOR, sid, TIMES) == [
        "CREATED",
        "CREATED",
        "queued",
        "queued",
        "ringing",
        "ringing",
        "in-progress",
        "in-progress",
        "completed",
        "completed",
    ]
    body = (await harness.status(CONNECTOR, sid)).json
    assert body["event_history"] == [
        {"CREATED": iso(0)},
        {"queued": iso(1)},
        {"ringing": iso(2)},
        {"in-progress": iso(12)},
        {"completed": iso(72)},
    ]
    assert body["created_at"] == iso(0)
    assert body["last_updated"] == iso(72)


async def test_connector_history_grows_as_the_call_progresses(harness: Harness) -> None:
    sid = await harness.place(CONNECTOR)
    harness.sandbox.advance(5)
    body = (await harness.status(CONNECTOR, sid)).json
    assert body["status"] == "ringing"
    assert [next(iter(event)) for event in body["event_history"]] == [
        "CREATED",
        "queued",
        "ringing",
    ]
    assert body["last_updated"] == iso(2)


@pytest.mark.parametrize(
    ("digit", "connector_status", "reason"),
    [("7", "no-answer", "no answer"), ("8", "busy", "busy"), ("9", "failed", "call failed")],
)
async def test_unanswered_calls_end_after_ringing_without_in_progress(
    harness: Harness, digit: str, connector_status: str, reason: str
) -> None:
    number = "+44207946095" + digit
    sids = {spec.api: await harness.place(spec, number) for spec in SPECS}
    harness.sandbox.advance(11.99)
    assert await harness.status_name(AGENTS, sids[Api.AGENTS]) == "CALLING"
    harness.sandbox.advance(0.01)
    assert (await harness.status(AGENTS, sids[Api.AGENTS])).json["reason"] == reason
    assert (await harness.status(AGENTS, sids[Api.AGENTS])).json["status"] == "FAILURE"
    assert (await harness.status(PLATFORM, sids[Api.PLATFORM])).json == {
        "status": "failure",
        "reason": reason,
    }
    body = (await harness.status(CONNECTOR, sids[Api.CONNECTOR])).json
    assert body["status"] == connector_status
    assert body["event_history"] == [
        {"CREATED": iso(0)},
        {"queued": iso(1)},
        {"ringing": iso(2)},
        {connector_status: iso(12)},
    ]


async def test_cancelled_calls_never_ring(start: StartSandbox) -> None:
    mix = OutcomeMix(completed=0, no_answer=0, busy=0, failed=0, cancelled=1)
    harness = await start(SandboxConfig(outcomes=mix))
    sids = {spec.api: await harness.place(spec) for spec in SPECS}
    harness.sandbox.advance(2)
    assert (await harness.status(AGENTS, sids[Api.AGENTS])).json["reason"] == (
        "call queueing: max timeout limit exceeded"
    )
    assert (await harness.status(PLATFORM, sids[Api.PLATFORM])).json == {
        "status": "failure",
        "reason": "cancelled",
    }
    body = (await harness.status(CONNECTOR, sids[Api.CONNECTOR])).json
    assert body["event_history"] == [{"CREATED": iso(0)}, {"queued": iso(1)}, {"cancelled": iso(2)}]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
async def test_status_expires_after_retention(start: StartSandbox, spec: ApiSpec) -> None:
    harness = await start(SandboxConfig(outcomes="last-digit", retention=600))
    completed = await harness.place(spec, "+442079460950")  # ends at 72
    unanswered = await harness.place(spec, "+442079460957")  # ends at 12
    harness.sandbox.advance(611.99)
    assert (await harness.status(spec, unanswered)).status == 200
    harness.sandbox.advance(0.01)
    assert (await harness.status(spec, unanswered)).status == 404
    assert (await harness.status(spec, completed)).status == 200
    harness.sandbox.advance(60)
    reply = await harness.status(spec, completed)
    assert reply.status == 404
    # The ledger remembers what the status endpoint has forgotten.
    assert len(harness.sandbox.ledger.placements) == 2


async def test_default_retention_is_two_hours_after_the_end(harness: Harness) -> None:
    sid = await harness.place(PLATFORM, "+442079460957")  # ends at 12
    harness.sandbox.advance(12 + 7200 - 0.01)
    assert (await harness.status(PLATFORM, sid)).status == 200
    harness.sandbox.advance(0.01)
    assert (await harness.status(PLATFORM, sid)).status == 404


async def test_configured_durations_shape_the_timeline(start: StartSandbox) -> None:
    config = SandboxConfig(
        outcomes="last-digit", queue_duration=0, ring_duration=5, call_duration=30
    )
    harness = await start(config)
    sid = await harness.place(CONNECTOR)
    assert await statuses_at(harness, CONNECTOR, sid, [0, 4.99, 5, 34.99, 35]) == [
        "ringing",
        "ringing",
        "in-progress",
        "in-progress",
        "completed",
    ]


async def test_advance_over_http_moves_the_clock(harness: Harness) -> None:
    sid = await harness.place(PLATFORM)
    reply = await harness.request("POST", "/_sandbox/advance", json_body={"seconds": 72})
    assert reply.status == 200
    assert reply.json["now"] == iso(72)
    assert await harness.status_name(PLATFORM, sid) == "success"
    bad_bodies: list[object] = [
        {"seconds": -1},
        {"seconds": "10"},
        {"secs": 1},
        [],
        {"seconds": True},
    ]
    for bad in bad_bodies:
        assert (await harness.request("POST", "/_sandbox/advance", json_body=bad)).status == 400


def test_clocks_refuse_to_go_backwards() -> None:
    from polyout.sandbox import ManualClock, ScaledClock

    for clock in (ManualClock(), ScaledClock(10)):
        with pytest.raises(ValueError, match="forward"):
            clock.advance(-1)
    with pytest.raises(ValueError, match="time_scale"):
        ScaledClock(0)


async def test_time_scale_runs_lifecycle_and_retention_faster() -> None:
    # 100,000 simulated seconds per real second: a 72 s call ends in 0.7 ms and
    # its two-hour retention runs out in 72 ms.
    config = SandboxConfig(outcomes="last-digit", time_scale=100_000)
    async with Sandbox(config) as sandbox, aiohttp.ClientSession(sandbox.base_url) as session:
        headers = {PLATFORM.key_header: "k"}
        async with session.post(PLATFORM.trigger_path, json=PLATFORM.body(), headers=headers) as r:
            sid = (await r.json())["call_sid"]
        await asyncio.sleep(0.01)
        async with session.get(PLATFORM.status_path(sid), headers=headers) as r:
            assert (await r.json())["status"] == "success"
        await asyncio.sleep(0.1)
        async with session.get(PLATFORM.status_path(sid), headers=headers) as r:
            assert r.status == 404


async def test_no_task_runs_per_call(harness: Harness) -> None:
    for _ in range(10):
        await harness.place(PLATFORM)
    tasks_after_ten = len(asyncio.all_tasks())
    for _ in range(200):
        await harness.place(PLATFORM)
    assert len(asyncio.all_tasks()) == tasks_after_ten
    assert len(harness.sandbox.calls) == 210


def _record(sid: str, placed_at: float, outcome: Outcome) -> CallRecord:
    timeline = Timeline.plan(outcome, placed_at, queue=2, ring=10, talk=60, retention=100)
    return CallRecord(sid, Api.PLATFORM, (), "+442079460950", timeline)


def test_call_store_prunes_expired_calls_as_it_goes() -> None:
    store = CallStore()
    for n in range(10_000):
        outcome = Outcome.COMPLETED if n % 2 else Outcome.BUSY
        store.add(_record(f"OUT-{n}", START + n * 0.001, outcome))
    assert len(store) == 10_000
    # A call that expired but was not yet pruned is already invisible.
    assert store.find("OUT-0", Api.PLATFORM, (), START + 112) is None
    assert store.find("OUT-1", Api.PLATFORM, (), START + 112) is not None
    store.add(_record("OUT-late", START + 1_000, Outcome.COMPLETED))
    assert len(store) == 1
    assert store.find("OUT-late", Api.PLATFORM, (), START + 1_000) is not None
