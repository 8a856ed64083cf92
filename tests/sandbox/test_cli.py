"""``python -m polyout.sandbox`` and the reusable argparse pieces behind it."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import socket
import sys

import aiohttp
import pytest

from polyout.sandbox import (
    LAST_DIGIT,
    FaultConfig,
    OutcomeMix,
    SandboxConfig,
    add_arguments,
    config_from_args,
    main,
)

URL = re.compile(rb"http://127\.0\.0\.1:\d+")


async def run_until_signal(signum: signal.Signals, *args: str) -> tuple[int, bytes]:
    """Start the command, use it once, send ``signum``; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polyout.sandbox",
        "--port",
        "0",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first_line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        found = URL.search(first_line)
        assert found, first_line
        base_url = found.group().decode()
        async with aiohttp.ClientSession(base_url) as session:
            body = {"to_number": "+442079460958"}
            headers = {"X-PolyAi-Auth-Token": "k"}
            async with session.post("/v1/outbound-calling", json=body, headers=headers) as reply:
                assert reply.status == 200
            async with session.get("/_sandbox/ledger") as reply:
                ledger = await reply.json()
            assert ledger["placements"][0]["outcome"] == "busy"  # last digit 8
        process.send_signal(signum)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, first_line + rest


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_command_serves_until_signalled_then_exits_0(signum: signal.Signals) -> None:
    code, output = await run_until_signal(signum, "--outcome-rule", "last-digit", "--seed", "1")
    assert code == 0
    assert b"/_sandbox/ledger" in output  # the hint line


def test_main_reports_usage_errors_without_exiting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fail-rate-500", "1.5"]) == 2
    assert main(["--outcomes", "success=0.5"]) == 2
    assert main(["--outcomes", "success=1", "--outcome-rule", "last-digit"]) == 2
    assert main(["--latency", "0.3-0.1"]) == 2
    assert main(["--cut-on", "0"]) == 2
    assert main(["--environments", "prod"]) == 2  # refused by SandboxConfig
    assert "prod" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "--rate-limit" in capsys.readouterr().out
    assert main(["--help"], prog="polyout sandbox") == 0
    assert capsys.readouterr().out.startswith("usage: polyout sandbox")


def test_main_returns_1_when_the_port_is_taken(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    assert "error" in capsys.readouterr().err


def parse(*argv: str) -> SandboxConfig:
    parser = argparse.ArgumentParser(prog="polyout sandbox")
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_defaults_from_flags() -> None:
    config = parse()
    assert config == SandboxConfig(port=8000, seed=None)


def test_every_flag_reaches_the_config() -> None:
    config = parse(
        *("--host", "127.0.0.2", "--port", "9001", "--api-key", "K"),
        *("--forbidden-key", "F1", "--forbidden-key", "F2"),
        *("--environments", "live,sandbox", "--ledger-file", "/tmp/l.jsonl"),
        *("--queue-duration", "1", "--ring-duration", "2", "--call-duration", "3"),
        *("--retention", "4", "--time-scale", "1000", "--seed", "42"),
        *("--outcomes", "success=0.7,no_answer=0.15,busy=0.05,failure=0.1"),
        *("--rate-limit", "5", "--status-rate-limit", "50"),
        *("--fail-rate-500", "0.1", "--fail-rate-502", "0.2", "--cut-rate", "0.3"),
        *("--status-error-rate", "0.4", "--fail-on-500", "1,2", "--fail-on-502", "3"),
        *("--cut-on", "4", "--status-error-on", "5,6"),
        *("--latency", "0.01-0.02", "--status-latency", "0.5"),
    )
    assert config == SandboxConfig(
        host="127.0.0.2",
        port=9001,
        api_key="K",
        forbidden_keys={"F1", "F2"},
        environments={"live", "sandbox"},
        ledger_file="/tmp/l.jsonl",
        queue_duration=1,
        ring_duration=2,
        call_duration=3,
        retention=4,
        time_scale=1000,
        seed=42,
        outcomes=OutcomeMix(completed=0.7, no_answer=0.15, busy=0.05, failed=0.1),
        faults=FaultConfig(
            rate_limit=5,
            status_rate_limit=50,
            trigger_500_rate=0.1,
            trigger_502_rate=0.2,
            cut_rate=0.3,
            status_error_rate=0.4,
            trigger_500_on={1, 2},
            trigger_502_on={3},
            cut_on={4},
            status_error_on={5, 6},
            trigger_latency=(0.01, 0.02),
            status_latency=0.5,
        ),
    )
    assert config.api_key == "K"


def test_outcome_rule_flag() -> None:
    assert parse("--outcome-rule", "last-digit").outcomes == LAST_DIGIT


async def test_the_served_sandbox_freezes_what_it_loaded_before_serving() -> None:
    # A full collection walked everything loaded at startup (15-21 ms), and a trigger
    # arriving meanwhile was stamped that late: an evenly paced client met a 429.
    script = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), flush=True))\n"
        "from polyout.sandbox import main\n"
        "sys.argv = ['polyout-sandbox', '--port', '0']\n"
        "sys.exit(main())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        first_line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
        assert URL.search(first_line), first_line
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    frozen = re.search(rb"frozen (\d+)", rest)
    assert frozen, rest
    assert int(frozen.group(1)) > 10_000  # aiohttp, the API's handlers, the loop
