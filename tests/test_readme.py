"""The README's Python examples run as written, against the sandbox."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from polyout.sandbox import Sandbox, SandboxConfig, ScaledClock

README = Path(__file__).parent.parent / "README.md"
EXAMPLE = re.compile(r"<!-- readme-example -->\s*```python\n(.*?)```", re.DOTALL)


def examples() -> list[str]:
    found = EXAMPLE.findall(README.read_text())
    assert found, "the README lost its examples"
    return found


async def run_example(code: str, base_url: str) -> tuple[int, str]:
    env = {**os.environ, "POLYAI_BASE_URL": base_url, "POLYAI_API_KEY": "readme-key"}
    env.pop("POLYOUT_LOG", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        env=env,
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


@pytest.mark.parametrize("target", ["test", "demo", "bench"])
def test_makefile_has_the_readme_commands(target: str) -> None:
    makefile = (README.parent / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, re.MULTILINE)
