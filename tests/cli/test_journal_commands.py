"""``polyout campaign export``, and journals the library refuses (issue 17: 3, 10).

An export is one file that resumes exactly where the campaign is; a journal the library
refuses is one line, exit 2, never a traceback or exit 4.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import (
    SandboxThread,
    connection_env,
    run_polyout,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
    wait_until_dialling,
)
from .contacts import answered, write_csv

FAST = ("--rate", "50", "--poll-interval", "0.05", "--retry-delay", "0")


@pytest.fixture
def finished(sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    contacts = write_csv(tmp_path / "contacts.csv", [*answered(3), 9])
    result = run_polyout(capsys, "campaign", "run", str(contacts), *FAST, "--max-attempts", "1")
    assert result.code == ExitCode.ATTENTION, result.err
    return tmp_path / "contacts.polyout.db"


def test_export_makes_one_file_that_reports_and_resumes_as_the_original(
    sandbox: SandboxThread, finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = tmp_path / "elsewhere" / "copy.db"
    moved.parent.mkdir()
    result = run_polyout(capsys, "campaign", "export", str(finished), str(moved))
    assert result.code == ExitCode.OK, result.err
    assert f"continue with 'polyout campaign resume {moved}'" in result.err
    assert "never resume both" in result.err
    assert sorted(path.name for path in moved.parent.iterdir()) == ["copy.db"]  # one file
    original = json.loads(run_polyout(capsys, "campaign", "report", str(finished), "--json").out)
    copy = json.loads(run_polyout(capsys, "campaign", "report", str(moved), "--json").out)
    assert copy["states"] == original["states"] == {"success": 3, "failure": 1}
    placed = sandbox.placements()
    assert run_polyout(capsys, "campaign", "resume", str(moved)).code == ExitCode.ATTENTION
    assert sandbox.placements() == placed  # nothing left to dial, nobody dialled again


def test_export_refuses_an_existing_destination_or_a_missing_journal(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    for source, destination, expected in [
        (finished, taken, "already exists"),
        (tmp_path / "missing.db", tmp_path / "new.db", "no campaign journal at"),
    ]:
        result = run_polyout(capsys, "campaign", "export", str(source), str(destination))
        assert result.code == ExitCode.USAGE, result.err
        assert expected in result.err
        assert len(result.err.strip().splitlines()) == 1
    assert taken.read_text() == "keep me"


def test_a_journal_copied_without_its_wal_after_a_kill_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = start_sandbox(time_scale=30.0)  # calls last seconds: some are in flight
    try:
        contacts = write_csv(tmp_path / "contacts.csv", answered(30))
        process = spawn_polyout(
            "campaign",
            "run",
            str(contacts),
            "--rate",
            "20",
            "--poll-interval",
            "0.1",
            "--progress-interval",
            "0.05",
            env=subprocess_env(slow.base_url),
        )
        wait_until_dialling(process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        copy = tmp_path / "moved" / "contacts.polyout.db"
        copy.parent.mkdir()
        shutil.copyfile(tmp_path / "contacts.polyout.db", copy)  # without its -wal
        placed = slow.placements()
        for name, value in connection_env(slow.base_url).items():
            monkeypatch.setenv(name, value)
        result = run_polyout(capsys, "campaign", "resume", str(copy))
        assert slow.placements() == placed  # nobody dialled again
    finally:
        slow.stop()
    assert result.code == ExitCode.USAGE, result.err
    assert "-wal file is missing" in result.err
    assert "polyout campaign export" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_resume_through_another_agent_is_refused_in_one_line(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    assert run_polyout(capsys, "campaign", "run", str(contacts), *FAST).code == ExitCode.OK
    journal = str(tmp_path / "contacts.polyout.db")
    result = run_polyout(capsys, "campaign", "resume", journal, "--agent-id", "PROJECT-OTHER")
    assert result.code == ExitCode.USAGE, result.err
    assert "PROJECT-OTHER" in result.err
    assert "PROJECT-CLI" in result.err
    assert len(result.err.strip().splitlines()) == 1
