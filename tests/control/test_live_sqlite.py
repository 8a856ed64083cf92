"""Live control of a campaign that runs in ANOTHER process (``polyout campaign run``, SQLite).

The campaign runs in a child process against a sandbox on 127.0.0.1 (calls last about
two seconds); the commands run here, through ``main``, as an operator's second terminal
would. What the sandbox's ledger recorded (the real time of each trigger) is the proof.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import (
    SandboxThread,
    run_polyout,
    spawn_polyout,
    subprocess_env,
    wait_until_dialling,
)
from tests.cli.contacts import answered, write_csv
from tests.cli.contacts import number as phone
from tests.control.live import CONTACTS, OBEYED_WITHIN, finish, start_run, trigger_times


def _start(sandbox: SandboxThread, folder: Path) -> tuple[subprocess.Popen[str], Path]:
    return start_run(sandbox, folder), folder / "contacts.polyout.db"


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    return finish(process, timeout=60)


def test_pause_stops_triggers_within_a_second_and_resume_returns_at_once(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = _start(slow_sandbox, tmp_path)
    try:
        result = run_polyout(capsys, "campaign", "pause", str(journal), "--reason", "script")
        returned = time.time()
        assert result.code == ExitCode.OK, result.err
        assert "the worker running it obey" in result.out
        time.sleep(2.5)  # calls in flight end meanwhile; no new one may start
        late = [t for t in trigger_times(slow_sandbox) if t > returned + OBEYED_WITHIN]
        assert late == []
        assert slow_sandbox.placements() < CONTACTS
        status = run_polyout(capsys, "campaign", "status", str(journal), "--json")
        snapshot = json.loads(status.out)
        assert snapshot["phase"] == "paused"
        assert snapshot["reason"] == "script"
        assert snapshot["workers_alive"] == 1
        assert process.poll() is None  # paused, the worker waits

        started = time.time()
        result = run_polyout(capsys, "campaign", "resume", str(journal))
        assert result.code == ExitCode.OK, result.err
        assert time.time() - started < 5.0  # returned at once: the worker carries on
        code, err = _finish(process)
        assert code == ExitCode.OK, err
    finally:
        if process.poll() is None:
            process.kill()
    assert slow_sandbox.placements() == CONTACTS
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()
    report = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert report["states"] == {"success": CONTACTS}


def test_cancel_follows_calls_in_flight_then_the_worker_exits(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = _start(slow_sandbox, tmp_path)
    try:
        result = run_polyout(capsys, "campaign", "cancel", str(journal), "--reason", "wrong list")
        returned = time.time()
        assert result.code == ExitCode.OK, result.err
        code, err = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in err
    assert code in (ExitCode.OK, ExitCode.ATTENTION), err
    assert [t for t in trigger_times(slow_sandbox) if t > returned + OBEYED_WITHIN] == []
    placed = slow_sandbox.placements()
    report = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert report["states"] == {"success": placed, "cancelled": CONTACTS - placed}
    status = json.loads(run_polyout(capsys, "campaign", "status", str(journal), "--json").out)
    assert status["phase"] == "cancelled"
    assert status["by"].startswith("campaign cancel")  # who cancelled, not who finished it


def test_a_pause_outlives_a_kill_9_and_a_restarted_worker_waits_until_resume(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = _start(slow_sandbox, tmp_path)
    try:
        assert run_polyout(capsys, "campaign", "pause", str(journal)).code == ExitCode.OK
        time.sleep(1.0)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    status = json.loads(run_polyout(capsys, "campaign", "status", str(journal), "--json").out)
    assert status["phase"] == "paused"
    assert status["workers_alive"] == 0
    before = slow_sandbox.placements()
    assert before < CONTACTS

    worker = spawn_polyout(
        "campaign",
        "work",
        str(journal),
        "--progress-interval",
        "0.1",
        env=subprocess_env(slow_sandbox.base_url),
    )
    try:
        time.sleep(2.5)  # restarted on a paused campaign: it waits, dialling nobody
        assert slow_sandbox.placements() == before
        alive = json.loads(run_polyout(capsys, "campaign", "status", str(journal), "--json").out)
        assert alive["workers_alive"] == 1
        assert run_polyout(capsys, "campaign", "resume", str(journal)).code == ExitCode.OK
        code, err = _finish(worker)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code in (ExitCode.OK, ExitCode.ATTENTION), err
    assert slow_sandbox.placements() >= CONTACTS - 1  # the kill may leave one unknown
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()


def test_contacts_added_while_running_are_dialled_and_duplicates_refused(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    process, journal = _start(slow_sandbox, tmp_path)
    numbers = answered(CONTACTS + 5)
    extra = write_csv(
        tmp_path / "more.csv",
        numbers[CONTACTS:],
        extra_rows=[f"again1,{phone(numbers[0])},,Dup", f"again2,{phone(numbers[-1])},,Dup"],
    )
    try:
        result = run_polyout(capsys, "campaign", "add", str(journal), str(extra))
        assert result.code == ExitCode.OK, result.err
        assert "7 contacts added (duplicate 2, scheduled 5)" in result.out
        assert "without a restart" in result.out
        code, err = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == ExitCode.OK, err
    assert slow_sandbox.placements() == CONTACTS + 5
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()
    report = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert report["states"] == {"success": CONTACTS + 5, "duplicate": 2}


def test_a_retry_round_dials_the_chosen_ends_again(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unanswered = [n for n in range(100) if n % 10 == 7][:4]  # the sandbox never answers these
    contacts = write_csv(tmp_path / "c.csv", [*unanswered, 0, 1])
    journal = tmp_path / "c.polyout.db"
    args = ["--rate", "20", "--poll-interval", "0.1", "--max-attempts", "1"]
    first = run_polyout(capsys, "campaign", "run", str(contacts), *args)
    assert first.code == ExitCode.ATTENTION, first.err
    ended = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    left = {state: count for state, count in ended["states"].items() if state != "success"}
    assert sum(left.values()) == 4
    states = ",".join(sorted(left))
    result = run_polyout(capsys, "campaign", "retry", str(journal), "--states", f"{states},success")
    assert result.code == ExitCode.USAGE  # answered calls are never retried
    # No worker is alive: retry works on its round itself, as resume would.
    result = run_polyout(capsys, "campaign", "retry", str(journal), "--states", states)
    assert result.code == ExitCode.ATTENTION, result.err  # they still do not answer
    assert "4 contacts are scheduled again" in result.out
    counts = slow_sandbox.sandbox.ledger.placements_per_number()
    assert sorted(counts.values()) == [1, 1, 2, 2, 2, 2]  # the round rang only the four
    log = json.loads(run_polyout(capsys, "campaign", "status", str(journal), "--json").out)
    assert log["phase"] == "done"


def test_a_canary_dials_the_first_n_then_pauses_and_resume_dials_the_rest(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "c.csv", answered(20))
    journal = tmp_path / "c.polyout.db"
    args = ["--rate", "20", "--poll-interval", "0.1", "--canary", "5"]
    result = run_polyout(capsys, "campaign", "run", str(contacts), *args)
    assert result.code == ExitCode.OK, result.err
    assert "canary: the first 5 calls ended (success 5): the campaign is paused" in result.out
    assert f"to dial the rest: polyout campaign resume {journal}" in result.out
    assert slow_sandbox.placements() == 5
    status = json.loads(run_polyout(capsys, "campaign", "status", str(journal), "--json").out)
    assert status["phase"] == "paused"
    assert status["by"] == "canary"

    rest = run_polyout(capsys, "campaign", "resume", str(journal))
    assert rest.code == ExitCode.OK, rest.err
    assert slow_sandbox.placements() == 20
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()


def test_most_calls_failing_auto_pauses_the_running_worker(
    slow_sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = [n for n in range(400) if n % 10 == 9][:CONTACTS]  # the sandbox fails these
    contacts = write_csv(tmp_path / "c.csv", failing)
    journal = tmp_path / "c.polyout.db"
    process = spawn_polyout(
        "campaign",
        "run",
        str(contacts),
        "--rate",
        "6",
        "--max-attempts",
        "1",
        "--poll-interval",
        "0.1",
        "--progress-interval",
        "0.1",
        "--auto-pause-window",
        "5",
        env=subprocess_env(slow_sandbox.base_url),
    )
    try:
        wait_until_dialling(process)
        deadline = time.time() + 20
        while time.time() < deadline:
            status = run_polyout(capsys, "campaign", "status", str(journal), "--json")
            snapshot = json.loads(status.out) if status.code == ExitCode.OK else {}
            if snapshot.get("phase") == "paused":
                break
            time.sleep(0.2)
        assert snapshot["phase"] == "paused"
        assert snapshot["by"] == "auto"
        assert snapshot["reason"] == "5 of the last 5 calls ended in failure"
        assert process.poll() is None  # the worker waits, paused
        placed = slow_sandbox.placements()
        time.sleep(2.0)
        assert slow_sandbox.placements() == placed  # nobody more is burnt
        assert placed < CONTACTS
        result = run_polyout(capsys, "campaign", "cancel", str(journal))
        assert result.code == ExitCode.OK, result.err
        code, err = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert code in (ExitCode.OK, ExitCode.ATTENTION), err
    report = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert report["states"] == {"failure": placed, "cancelled": CONTACTS - placed}
