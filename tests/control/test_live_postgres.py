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
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import (
    SandboxThread,
    run_polyout,
)
from tests.cli.contacts import answered, write_csv
from tests.cli.contacts import number as phone
from tests.control.live import CONTACTS, OBEYED_WITHIN, finish, start_run, trigger_times


def _start(sandbox: SandboxThread, folder: Path, url: str) -> subprocess.Popen[str]:
    return start_run(sandbox, folder, "--store", url, "--campaign", "spring")


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    return finish(process, timeout=90)


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
        late = [t for t in trigger_times(slow_sandbox) if t > returned + OBEYED_WITHIN]
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
    times = trigger_times(slow_sandbox)
    assert [t for t in times if t > returned + OBEYED_WITHIN] == []
    status = json.loads(run_polyout(capsys, "campaign", "status", *ref, "--json").out)
    assert status["phase"] == "cancelled"
    assert status["states"] == {
        "success": slow_sandbox.placements(),
        "cancelled": CONTACTS - slow_sandbox.placements(),
    }
