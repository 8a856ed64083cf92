"""The README's Python examples run as written, against the sandbox."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import polyout
from polyout.sandbox import Sandbox, SandboxConfig, ScaledClock

README = Path(__file__).parent.parent / "README.md"
EXAMPLE = re.compile(r"<!-- readme-example -->\s*```python\n(.*?)```", re.DOTALL)
CAMPAIGN = re.compile(r"<!-- readme-example: campaign -->\s*```python\n(.*?)```", re.DOTALL)
TESTING = re.compile(r"<!-- readme-example: testing -->\s*```python\n(.*?)```", re.DOTALL)
COMPILED = re.compile(r"<!-- readme-compile -->\s*```python\n(.*?)```", re.DOTALL)


def examples(pattern: re.Pattern[str] = EXAMPLE) -> list[str]:
    found = pattern.findall(README.read_text())
    assert found, f"the README lost its examples ({pattern.pattern[:30]}…)"
    return found


async def run_example(code: str, base_url: str, cwd: Path | None = None) -> tuple[int, str]:
    env = {**os.environ, "POLYAI_BASE_URL": base_url, "POLYAI_API_KEY": "readme-key"}
    env.pop("POLYOUT_LOG", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, output.decode()


async def test_readme_examples_run() -> None:
    # 1000 simulated seconds per real second: each example's call ends well within a poll.
    async with Sandbox(SandboxConfig(outcomes="last-digit"), clock=ScaledClock(1000)) as sandbox:
        results = await asyncio.gather(
            *(run_example(code, sandbox.base_url) for code in examples())
        )
    for code, (returncode, output) in zip(examples(), results, strict=True):
        assert returncode == 0, f"{output}\n--- in ---\n{code}"
        assert "Traceback" not in output
    agents, platform, connector = (output for _, output in results)
    assert "placed OUT-" in agents
    assert "success" in agents
    assert "OUT-" in platform
    assert "success" in connector
    assert len(sandbox.ledger.placements) == len(results)


async def test_readme_campaign_example_runs(tmp_path: Path) -> None:
    (code,) = examples(CAMPAIGN)
    (tmp_path / "contacts.csv").write_text(
        "id,phone,first_name\n"
        "a,+14155552670,Ann\n"
        "b,+14155552671,Bo\n"
        "c,not a number,Cy\n"
        "d,+14155552670,Di\n"
        "e,+14155552672,Ed\n"
    )
    (tmp_path / "do-not-call.txt").write_text("+14155552672\n")
    async with Sandbox(SandboxConfig(outcomes="last-digit"), clock=ScaledClock(1000)) as sandbox:
        returncode, output = await run_example(code, sandbox.base_url, cwd=tmp_path)
    assert returncode == 0, output
    assert "'success': 2" in output
    results = (tmp_path / "results.csv").read_text()
    for state in ("success", "invalid", "duplicate", "suppressed"):
        assert state in results
    assert sorted(sandbox.ledger.placements_per_number()) == ["+14155552670", "+14155552671"]


@pytest.mark.parametrize("code", examples(COMPILED))
def test_readme_embedding_examples_compile(code: str) -> None:
    compile(code, "README.md", "exec")
    assert "polyout." in code


@pytest.mark.parametrize("target", ["test", "demo", "bench"])
def test_makefile_has_the_readme_commands(target: str) -> None:
    makefile = (README.parent / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, re.MULTILINE)


def _people(count: int) -> list[polyout.Contact | polyout.RowError]:
    """Valid numbers, with every tenth row invalid and every fifteenth a duplicate."""
    people: list[polyout.Contact | polyout.RowError] = []
    for n in range(count):
        phone = f"+1415555{n:03d}0"  # ends in 0: the call succeeds, no retry
        if n % 10 == 9:
            phone = "not a number"
        elif n % 15 == 14:
            phone = "+14155550000"
        people.append(polyout.Contact(id=f"c{n}", phone=phone))
    return people


async def _slowly(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        await asyncio.sleep(0.001)  # a source still being read when the run stops
        yield item


async def test_readme_worker_example_counts_every_contact_after_a_resume(tmp_path: Path) -> None:
    (worker,) = [code for code in examples(COMPILED) if "async def run_campaign" in code]
    namespace: dict[str, Any] = {}
    exec(compile(worker, "README.md", "exec"), namespace)
    people = _people(300)
    journal = str(tmp_path / "worker.db")
    async with (
        Sandbox(SandboxConfig(outcomes="last-digit"), clock=ScaledClock(1000)) as sandbox,
        polyout.Client(
            "connector", api_key="k", base_url=sandbox.base_url, account_id="a", project_id="p"
        ) as client,
    ):
        # An earlier run of the worker, stopped before its generator was read to the end.
        earlier = polyout.Campaign(
            client, _slowly(people), journal=journal, rate=500, poll_interval=(0.05, 0.1)
        )
        placed = 0

        def stop_after_some(event: polyout.CampaignEvent) -> None:
            nonlocal placed
            if event.kind is polyout.EventKind.PLACED:
                placed += 1
            if placed == 20 and not earlier.stats().stopping:
                earlier.stop()

        earlier_events = earlier.events()
        running = asyncio.create_task(earlier.run())
        async for event in earlier_events:
            stop_after_some(event)
        await running
        before = Counter(r.state for r in polyout.iter_results(journal))
        assert sum(before.values()) < len(people)  # not read to the end

        ended = await namespace["run_campaign"](client, _slowly(people), journal)
    after = Counter(r.state for r in polyout.iter_results(journal))
    assert sum(after.values()) == len(people)
    assert "scheduled" not in after
    # Every contact that became final in the worker's run was counted, refused ones too.
    assert ended == after - Counter({k: v for k, v in before.items() if k != "scheduled"})
    assert ended["invalid"] > 0
    assert ended["duplicate"] > 0
    assert not sandbox.ledger.dialled_more_than_once()


async def test_readme_worker_example_runs_and_resumes(tmp_path: Path) -> None:
    (worker,) = [code for code in examples(COMPILED) if "async def run_campaign" in code]
    namespace: dict[str, Any] = {}
    exec(compile(worker, "README.md", "exec"), namespace)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("phone\n+14155552670\n+14155552671\n")  # both answer: no retries
    journal = str(tmp_path / "worker.db")
    async with (
        Sandbox(SandboxConfig(outcomes="last-digit"), clock=ScaledClock(1000)) as sandbox,
        polyout.Client(
            "connector", api_key="k", base_url=sandbox.base_url, account_id="a", project_id="p"
        ) as client,
    ):
        first = await namespace["run_campaign"](client, str(contacts), journal)
        again = await namespace["run_campaign"](client, str(contacts), journal)  # resumes
    assert first == {"success": 2}
    assert not again  # resumed with nothing left: no contact ended in that run
    assert sandbox.ledger.placement_count("+14155552670") == 1


async def test_readme_testing_example_runs_on_virtual_time() -> None:
    (code,) = examples(TESTING)
    returncode, output = await run_example(code, "http://127.0.0.1:9")  # no server is used
    assert returncode == 0, output
    assert "'unknown': 1" in output
    assert "ended 2026-03-28" in output  # a night of virtual time passed
