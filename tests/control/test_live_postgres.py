"""Live control of a campaign in a PostgreSQL store, run by ANOTHER process.

As ``test_live_sqlite``, with ``--store URL --campaign NAME``: the campaign runs in a
``polyout campaign run`` child process against the sandbox; the commands run here; the
sandbox's ledger (the real time of each trigger) is the proof. The database is a
throwaway cluster of the test session (``tests/pg_cluster.py``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import (
    SandboxThread,
    run_polyout,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
    wait_until_dialling,
)
from tests.cli.contacts import answered, write_csv
from tests.cli.contacts import number as phone

CONTACTS = 40
OBEYED_WITHIN = 1.0


@pytest.fixture
def slow_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxThread]:
    running = start_sandbox(time_scale=30.0)
    env = subprocess_env(running.base_url)
    for name in ("POLYAI_API_KEY", "POLYAI_BASE_URL", "POLYAI_AGENT_ID", "POLYAI_ENVIRONMENT"):
        monkeypatch.setenv(name, env[name])
    yield running
    running.stop()


def _start(sandbox: SandboxThread, folder: Path, url: str) -> subprocess.Popen[str]:
    contacts = write_csv(folder / "contacts.csv", answered(CONTACTS))
    process = spawn_polyout(
        "campaign",
        "run",
        str(contacts),
        "--store",
        url,
        "--campaign",
        "spring",
        "--rate",
        "6",
        "--poll-interval",
        "0.1",
        "--progress-interval",
        "0.1",
        env=subprocess_env(sandbox.base_url),
    )
    wait_until_dialling(process)
    return process


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=90)
    return process.returncode, err


def test_pause_add_resume_on_postgres(
    slow_sandbox: SandboxThread,
    tmp_path: Path,
    pg_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = ["--store", pg_database, "--campaign", "spring"]
    process = _start(slow_sandbox, tmp_path, pg_database)
    try:
        result = run_polyout(capsys, "campaign", "pause", *ref, "--reason", "script")
        returned = time.time()
        assert result.code == ExitCode.OK, result.err
        time.sleep(2.5)
        late = [
            p.wall_time
            for p in slow_sandbox.sandbox.ledger.placements
            if p.wall_time > returned + OBEYED_WITHIN
        ]
        assert late == []
        snapshot = json.loads(run_polyout(capsys, "campaign", "status", *ref, "--json").out)
        assert snapshot["phase"] == "paused"
        assert snapshot["workers_alive"] == 1

        numbers = answered(CONTACTS + 3)
        extra = write_csv(
            tmp_path / "more.csv",
            numbers[CONTACTS:],
            extra_rows=[f"again,{phone(numbers[0])},,Dup"],
        )
        added = run_polyout(capsys, "campaign", "add", *ref, str(extra))
        assert added.code == ExitCode.OK, added.err
        assert "4 contacts added (duplicate 1, scheduled 3)" in added.out

        started = time.time()
        assert run_polyout(capsys, "campaign", "resume", *ref).code == ExitCode.OK
        assert time.time() - started < 5.0
        code, err = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == ExitCode.OK, err
    assert slow_sandbox.placements() == CONTACTS + 3
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()


def test_cancel_on_postgres_follows_calls_in_flight(
    slow_sandbox: SandboxThread,
    tmp_path: Path,
    pg_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = ["--store", pg_database, "--campaign", "spring"]
    process = _start(slow_sandbox, tmp_path, pg_database)
    try:
        result = run_polyout(capsys, "campaign", "cancel", *ref, "--reason", "wrong list")
        returned = time.time()
        assert result.code == ExitCode.OK, result.err
        code, err = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in err
    assert code in (ExitCode.OK, ExitCode.ATTENTION), err
    times = [p.wall_time for p in slow_sandbox.sandbox.ledger.placements]
    assert [t for t in times if t > returned + OBEYED_WITHIN] == []
    status = json.loads(run_polyout(capsys, "campaign", "status", *ref, "--json").out)
    assert status["phase"] == "cancelled"
    assert status["states"] == {
        "success": slow_sandbox.placements(),
        "cancelled": CONTACTS - slow_sandbox.placements(),
    }
