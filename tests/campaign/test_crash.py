"""SIGKILL part-way through a campaign, then resume in a new process: nobody is rung twice."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from .conftest import StartRig
from .helpers import number, states

pytestmark = pytest.mark.reliability

SCRIPT = Path(__file__).with_name("crash_runner.py")


def _count(journal: Path, state: str) -> int:
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
            return int(
                db.execute("SELECT COUNT(*) FROM contacts WHERE state = ?", (state,)).fetchone()[0]
            )
    except sqlite3.Error:  # not created yet
        return 0


async def _campaign_process(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args, stderr=asyncio.subprocess.PIPE
    )


async def test_sigkill_part_way_then_resume(start_rig: StartRig, tmp_path: Path) -> None:
    # Answered calls last 1.5 s, so plenty are in flight when the process dies.
    rig = await start_rig(api="connector", call_duration=1500.0)
    source = tmp_path / "contacts.jsonl"
    people = {f"c{i}": number(i, i % 10) for i in range(120)}
    source.write_text(
        "".join(json.dumps({"id": key, "phone": phone}) + "\n" for key, phone in people.items())
    )
    base = rig.sandbox.base_url

    first = await _campaign_process(base, str(rig.journal), "start", str(source))
    for _ in range(600):  # until the journal shows calls in flight (at most 30 s)
        await asyncio.sleep(0.05)
        if _count(rig.journal, "in_flight") >= 15 or first.returncode is not None:
            break
    assert first.returncode is None, "the campaign ended before it could be killed"
    first.kill()
    await first.wait()
    assert first.returncode == -signal.SIGKILL
    assert _count(rig.journal, "in_flight") >= 15
    placed_before = len(rig.sandbox.ledger.placements)

    second = await _campaign_process(base, str(rig.journal), "resume")
    _, errors = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 0, errors.decode()

    results = rig.results()
    assert set(results) == set(people)
    counts = states(results.values())
    assert set(counts) <= {"success", "no_answer", "busy", "failure", "unknown"}, counts
    assert len(rig.sandbox.ledger.placements) > placed_before
    placements = rig.placements()
    for key, phone in people.items():
        result = results[key]
        placed = placements.get(phone, 0)
        if result.state == "unknown":
            # Killed between intent and answer: placed at most once for that attempt.
            assert placed <= result.attempts, key
        else:
            assert placed == result.attempts, key  # one placement per attempt, no more
        if phone[-1] in "0123456":  # answers: never placed again, crash or not
            assert placed <= 1, key
