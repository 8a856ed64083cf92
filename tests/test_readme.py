"""The README's Python examples run as written, against the sandbox."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import polyout
from polyout.sandbox import Sandbox, SandboxConfig, ScaledClock

README = Path(__file__).parent.parent / "README.md"
EXAMPLE = re.compile(r"<!-- readme-example -->\s*```python\n(.*?)```", re.DOTALL)
CAMPAIGN = re.compile(r"<!-- readme-example: campaign -->\s*```python\n(.*?)```", re.DOTALL)
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
    assert first["success"] == 2
    assert again == first
    assert sandbox.ledger.placement_count("+14155552670") == 1
