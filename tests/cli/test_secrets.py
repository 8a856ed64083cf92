"""Credentials never reach the terminal: usage errors, resume hints, logs (issue 17: 17, 19).

argparse echoes what it cannot place, before any flag is parsed; a resume hint repeats
the connection flags; -v logs every request. A key or a URL's password shows in none.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import API_KEY, SandboxThread, run_polyout, subprocess_env
from .contacts import answered, write_csv

SECRET = "sk-live-4f9a8b7c6d5e"
PASSWORD = "pa55-w0rd-secret"


@pytest.mark.parametrize(
    "argv",
    [
        # --api-key where the command takes none: "unrecognized arguments: --api-key ..."
        ["campaign", "validate", "c.csv", "--api-key", SECRET],
        ["campaign", "validate", "c.csv", f"--api-key={SECRET}"],
        ["campaign", "report", "j.db", "--api-ke", SECRET],  # argparse's abbreviation
        ["campaign", "validate", "c.csv", "--forbidden-key", SECRET],  # the sandbox's flag
        ["campaign", "validate", "c.csv", "--base-url", f"http://ops:{PASSWORD}@127.0.0.1:9"],
        ["campaign", "report", "j.db", f"--base-url=https://ops:{PASSWORD}@127.0.0.1:9"],
    ],
)
def test_usage_errors_never_echo_a_credential(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_polyout(capsys, *argv)
    assert result.code == ExitCode.USAGE
    assert result.err.startswith("polyout: error: ")
    assert len(result.err.strip().splitlines()) == 1
    for secret in (SECRET, PASSWORD):
        assert secret not in result.out + result.err
    assert "***" in result.err


def test_a_key_in_the_environment_is_scrubbed_from_usage_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLYAI_API_KEY", SECRET)
    result = run_polyout(capsys, "campaign", "validate", f"{SECRET}.csv")  # pasted by mistake
    assert result.code == ExitCode.USAGE
    assert "***.csv" in result.err
    assert SECRET not in result.err


def test_resume_hint_never_prints_a_password_in_the_base_url(
    sandbox: SandboxThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(1))
    (tmp_path / "contacts.polyout.db").write_text("taken")  # run refuses, with the hint
    monkeypatch.delenv("POLYAI_BASE_URL")
    with_password = sandbox.base_url.replace("http://", f"http://ops:{PASSWORD}@")
    result = run_polyout(capsys, "campaign", "run", str(contacts), "--base-url", with_password)
    assert result.code == ExitCode.USAGE
    assert PASSWORD not in result.err
    assert "--base-url 'http://ops:***@127.0.0.1" in result.err
    assert "the URL with its password in POLYAI_BASE_URL" in result.err


def test_verbose_and_polyout_log_print_each_record_once_without_the_key(
    sandbox: SandboxThread,
) -> None:
    env = subprocess_env(sandbox.base_url)
    env["POLYOUT_LOG"] = "debug"
    done = subprocess.run(
        [sys.executable, "-m", "polyout", "-v", "status", "OUT-nothing", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    logs = [line for line in done.stderr.splitlines() if " DEBUG polyout" in line]
    assert logs, done.stderr
    messages = [line.split(" DEBUG ", 1)[1] for line in logs]
    assert len(messages) == len(set(messages)), "\n".join(logs)  # no record printed twice
    assert API_KEY not in done.stderr
    assert done.returncode == ExitCode.ATTENTION, done.stderr
