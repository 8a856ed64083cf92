"""The ledger from Python and over HTTP, and the other admin routes."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from polyout.sandbox import FaultConfig, Ledger, SandboxConfig

from .conftest import StartSandbox
from .harness import AGENT_ID, AGENTS, CONNECTOR, CORRELATION, PLATFORM, Harness

ANN = "+442079460951"
BOB = "+442079460952"


async def test_python_ledger_counts_placements_per_number(harness: Harness) -> None:
    await harness.place(AGENTS, ANN)
    await harness.place(PLATFORM, BOB)
    ledger = harness.sandbox.ledger
    assert ledger.dialled_more_than_once() == {}
    await harness.place(CONNECTOR, "020 7946 0951", country_code="GB")  # Ann again
    assert ledger.placements_per_number() == {ANN: 2, BOB: 1}
    assert ledger.dialled_more_than_once() == {ANN: 2}
    assert ledger.placement_count(ANN) == 2
    assert ledger.placement_count("+15550000000") == 0
    assert [p.api for p in ledger.placements_to(ANN)] == ["agents", "connector"]


async def test_placement_records_everything_about_the_call(harness: Harness) -> None:
    reply = await harness.trigger(
        AGENTS,
        AGENTS.body(ANN, metadata={"name": "Ann"}, encryption="udp_rtp", variantId="V1"),
    )
    placement = harness.sandbox.ledger.placements[0]
    assert placement.sid == reply.json["callSid"]
    assert placement.correlation_id == reply.headers[CORRELATION]
    assert (placement.api, placement.number, placement.metadata) == ("agents", ANN, {"name": "Ann"})
    assert (placement.encryption, placement.environment, placement.variant_id) == (
        "udp_rtp",
        "live",
        "V1",
    )
    assert placement.agent_id == AGENT_ID
    assert placement.outcome == "completed"
    assert placement.simulated_time == harness.clock.now()
    assert placement.wall_time > 1.7e9
    assert placement.cut is False


async def test_ledger_over_http(harness: Harness) -> None:
    sid = await harness.place(PLATFORM, ANN)
    await harness.place(PLATFORM, ANN)
    await harness.trigger(PLATFORM, PLATFORM.body("+4420"))
    reply = await harness.request("GET", "/_sandbox/ledger")
    assert reply.status == 200
    assert CORRELATION in reply.headers
    body = reply.json
    assert [p["sid"] for p in body["placements"]][:1] == [sid]
    assert body["placements"][0]["number"] == ANN
    assert body["placements_per_number"] == {ANN: 2}
    assert body["dialled_more_than_once"] == {ANN: 2}
    assert [(r["status"], r["number"], r["api"]) for r in body["rejections"]] == [
        (400, "+4420", "platform")
    ]
    assert body == json.loads(json.dumps(harness.sandbox.ledger.to_json()))


async def test_reset_forgets_calls_ledger_and_rate_windows(start: StartSandbox) -> None:
    harness = await start(SandboxConfig(faults=FaultConfig(rate_limit=1)))
    sid = await harness.place(PLATFORM)
    assert (await harness.trigger(PLATFORM)).status == 429
    reply = await harness.request("POST", "/_sandbox/reset")
    assert (reply.status, reply.json) == (200, {"reset": True})
    assert harness.sandbox.ledger.placements == []
    assert harness.sandbox.ledger.rejections == []
    assert (await harness.status(PLATFORM, sid)).status == 404
    assert (await harness.trigger(PLATFORM)).status == 200  # the window was emptied
    harness.sandbox.reset()
    assert len(harness.sandbox.calls) == 0


async def test_config_route_shows_the_effective_settings(start: StartSandbox) -> None:
    config = SandboxConfig(
        outcomes="last-digit",
        seed=4,
        retention=60,
        environments={"live"},
        faults=FaultConfig(rate_limit=5, cut_on={3, 2}, trigger_latency=0.5),
    )
    harness = await start(config)
    await harness.place(PLATFORM)
    body = (await harness.request("GET", "/_sandbox/config")).json
    assert body["outcomes"] == "last-digit"
    assert (body["seed"], body["retention"], body["environments"]) == (4, 60, ["live"])
    assert body["faults"]["rate_limit"] == 5
    assert body["faults"]["cut_on"] == [2, 3]
    assert body["faults"]["trigger_latency"] == [0.5, 0.5]
    assert body["calls_remembered"] == 1
    assert body["now"].startswith("2027-01-15T")


async def test_call_route_explains_one_call(harness: Harness) -> None:
    sid = await harness.place(CONNECTOR, "+442079460958")
    harness.sandbox.advance(5)
    body = (await harness.request("GET", f"/_sandbox/calls/{sid}")).json
    assert (body["sid"], body["api"], body["number"]) == (sid, "connector", "+442079460958")
    assert (body["outcome"], body["phase"], body["expired"]) == ("busy", "ringing", False)
    harness.sandbox.advance(7300)
    assert (await harness.request("GET", f"/_sandbox/calls/{sid}")).json["expired"] is True
    assert (await harness.request("GET", "/_sandbox/calls/OUT-nope")).status == 404


async def test_ledger_file_gets_one_json_line_per_record(
    start: StartSandbox, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    harness = await start(SandboxConfig(ledger_file=str(path)))
    sid = await harness.place(PLATFORM, ANN)
    await harness.trigger(PLATFORM, key="")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["type"], line.get("sid")) for line in lines] == [
        ("placement", sid),
        ("rejection", None),
    ]
    assert lines[0]["number"] == ANN
    assert lines[1]["status"] == 401


def test_ledger_file_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"type": "earlier"}\n')
    ledger = Ledger(str(path))
    ledger.close()  # closing an unopened ledger is fine
    assert path.read_text() == '{"type": "earlier"}\n'


async def test_admin_routes_cannot_collide_with_the_apis(harness: Harness) -> None:
    # Every API path starts with /v1/ or /api/; the admin prefix is neither.
    for route in harness.sandbox.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        assert path.startswith(("/v1/", "/api/v1/", "/_sandbox/")), path


async def test_sandbox_refuses_reuse_and_reports_its_state() -> None:
    from polyout.sandbox import Sandbox

    sandbox = Sandbox()
    with pytest.raises(RuntimeError, match="unopened"):
        _ = sandbox.base_url
    async with sandbox:
        assert sandbox.base_url.startswith("http://127.0.0.1:")
        assert sandbox.base_url in repr(sandbox)
        async with (
            aiohttp.ClientSession() as session,
            session.get(sandbox.base_url + "/_sandbox/config") as reply,
        ):
            assert reply.status == 200
    with pytest.raises(RuntimeError, match="closed"):
        _ = sandbox.base_url
    with pytest.raises(RuntimeError, match="once"):
        await sandbox.start()
    await sandbox.close()  # idempotent
