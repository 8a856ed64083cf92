"""Secrets: a whole debug-logged campaign, with errors, scanned for the key and the numbers.

The API key must appear nowhere: not in output, logs, the journal, the results, the
runs file or any exception's text, even when the server echoes it back. Full phone
numbers may appear only where the operator needs them (the journal and the results
file, besides the input files themselves); everywhere else they are masked.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from polyout import Client, mask_number
from polyout._campaign._clock import ScaledClock
from polyout._campaign._contacts import Contact
from polyout._campaign._errors import CampaignError
from polyout._campaign._results import export_results
from polyout._campaign._runner import Campaign
from polyout.sandbox import FaultConfig
from tests.cli.conftest import (
    API_KEY,
    SandboxThread,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
)

from .helpers import Seeded

pytestmark = pytest.mark.reliability


def _numbers(count: int) -> list[str]:
    return [f"+4474001{n:05d}" for n in range(count)]


def _forms(number: str) -> list[str]:
    """Ways a full number could leak: as E.164, as bare digits, as its national digits."""
    return [number, number[1:], "0" + number[3:]]


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _leaks(text: str, secrets: Iterable[str]) -> list[str]:
    return [secret for secret in secrets if secret in text]


@pytest.fixture
def leaky_sandbox(seeded: Seeded) -> Iterator[SandboxThread]:
    """Faults of every kind, so the run logs errors, retries and unknowns."""
    running = start_sandbox(
        time_scale=2000.0,
        seed=seeded.child("sandbox").seed,
        faults=FaultConfig(
            cut_rate=0.1, trigger_500_rate=0.15, trigger_502_rate=0.1, status_error_rate=0.2
        ),
    )
    yield running
    running.stop()


def test_a_debug_logged_campaign_with_errors_leaks_neither_key_nor_numbers(
    leaky_sandbox: SandboxThread, tmp_path: Path
) -> None:
    numbers = _numbers(40)
    contacts = tmp_path / "contacts.csv"
    with contacts.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "phone", "first_name"])
        writer.writerows([f"c{i}", number, f"Ann{i}"] for i, number in enumerate(numbers))
        writer.writerow(["bad", "+44 7400 1OO 999", "typo"])  # an invalid row
    journal = tmp_path / "contacts.polyout.db"
    results = tmp_path / "results.jsonl"
    env = {**subprocess_env(leaky_sandbox.base_url), "POLYOUT_LOG": "debug"}
    wrong = {**env, "POLYAI_API_KEY": "wrong-key-0123456789"}
    outputs: list[str] = []

    def polyout(*argv: str, environment: dict[str, str] = env) -> int:
        process = spawn_polyout("-v", *argv, env=environment, cwd=tmp_path)
        try:
            out, err = process.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        outputs.extend([out, err])
        return process.returncode

    flags = ["--rate", "50", "--poll-interval", "0.05s", "--retry-delay", "0.2s"]
    assert polyout("campaign", "run", str(contacts), *flags, environment=wrong) == 3
    assert "wrong-key-0123456789" not in "".join(outputs)
    assert polyout("campaign", "run", str(contacts), *flags, "-o", str(results)) in (0, 1)
    assert polyout("campaign", "report", str(journal), "--json") in (0, 1)
    assert polyout("call", numbers[0], "--wait", "--poll-interval", "0.05s") in (0, 1, 3)
    logged = "\n".join(outputs)
    assert "DEBUG" in logged  # the logs really were on
    assert "retrying" in logged or "may or may not" in logged  # and errors happened

    secrets = [API_KEY, "wrong-key-0123456789"]
    full_numbers = [form for number in numbers for form in _forms(number)]
    assert _leaks(logged, secrets) == []
    assert _leaks(logged, full_numbers) == [], "a full number in the output or the logs"
    assert mask_number(numbers[0]) in logged  # masked, but there
    allowed_numbers = {contacts.name, journal.name, journal.name + "-wal", results.name}
    for path in tmp_path.iterdir():
        data = path.read_bytes().decode("utf-8", errors="replace")
        assert _leaks(data, secrets) == [], f"the key is in {path.name}"
        if path.name not in allowed_numbers:
            assert _leaks(data, full_numbers) == [], f"a full number is in {path.name}"
    assert _leaks(results.read_text(), numbers[:1]) == numbers[:1]  # the operator's copy


async def _echo_everything(request: web.Request) -> web.StreamResponse:
    """A server that repeats every header it got, key included, in every answer."""
    headers = dict(request.headers)
    body = await request.text()
    if request.method == "POST" and "7" in body[-4:]:
        return web.json_response({"call_sid": "OUT-1", "echo": headers}, status=200)
    status = 401 if "00010" in body else 500
    return web.json_response({"error": f"refused {headers} {body}", "echo": headers}, status=status)


async def test_a_server_echoing_the_key_never_gets_it_into_logs_errors_or_the_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = "echoed-secret-key-42"
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo_everything)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    people = [Contact(id=f"c{i}", phone=number) for i, number in enumerate(_numbers(12))]
    errors: list[str] = []
    caplog.set_level(logging.DEBUG)  # every logger, polyout's and aiohttp's
    try:
        async with Client("platform", api_key=key, base_url=base_url) as client:
            campaign = Campaign(
                client,
                people,
                journal=tmp_path / "journal.db",
                rate=100.0,
                max_not_placed=1,
                poll_interval=(5.0, 10.0),
                poll_deadline=50.0,
                clock=ScaledClock(scale=100.0),
            )
            try:
                await asyncio.wait_for(campaign.run(), 30)
            except CampaignError as exc:  # the 401 stops the run
                errors += [str(exc), repr(exc), str(exc.__cause__), repr(exc.__cause__)]
    finally:
        await runner.cleanup()
    export_results(tmp_path / "journal.db", tmp_path / "results.csv")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += json.dumps([record.__dict__ for record in caplog.records], default=str)
    assert errors, "the 401 should have stopped the campaign"
    assert key not in "\n".join(errors)
    assert key not in logged
    for name, data in _files(tmp_path).items():
        assert key.encode() not in data, f"the key is in {name}"
    full_numbers = [form for number in _numbers(12) for form in _forms(number)]
    assert _leaks(logged, full_numbers) == []
    assert _leaks("\n".join(errors), full_numbers) == []
