"""Each command's exit status means what ``--help`` and the README's table say (issue 17: 10, 27).

0 success (``report``: it reported), 1 done with bad news (contacts that need attention,
a call that did not succeed, invalid rows, an unknown sid), 2 bad input, 3 API or
connection, 4 a bug, 5 cannot write (disk full, read-only), 130 interrupted.
"""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import SandboxThread, run_polyout, subprocess_env
from .contacts import answered, number, write_csv

FAST = ("--rate", "200", "--poll-interval", "0.05", "--retry-delay", "0")


def test_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    text = run_polyout(capsys, "campaign", "report", "--help").out
    for code in ExitCode:
        assert f"\n  {int(code):<3}  " in text, code


@pytest.mark.parametrize("as_json", [False, True])
def test_validate_exits_1_when_a_row_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    flags = ["--json"] if as_json else []
    invalid = write_csv(tmp_path / "invalid.csv", range(3), extra_rows=["bad,12345,,X"])
    assert run_polyout(capsys, "campaign", "validate", str(invalid), *flags).code == 1
    # Duplicates and suppressed rows are what the list is for: not an error in the file.
    expected = write_csv(tmp_path / "dup.csv", range(3), extra_rows=[f"again,{number(1)},,Y"])
    suppress = tmp_path / "dnc.txt"
    suppress.write_text(number(2) + "\n")
    result = run_polyout(
        capsys, "campaign", "validate", str(expected), "--suppress", str(suppress), *flags
    )
    assert result.code == ExitCode.OK, result.out


def test_report_exits_0_when_it_reports_whatever_the_results(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", [0, 9], extra_rows=["bad,123,,X"])
    run = run_polyout(capsys, "campaign", "run", str(contacts), *FAST, "--max-attempts", "1")
    assert run.code == ExitCode.ATTENTION  # the run itself: a failure to act on
    journal = str(tmp_path / "contacts.polyout.db")
    for flags in ([], ["--json"]):
        result = run_polyout(capsys, "campaign", "report", journal, *flags)
        assert result.code == ExitCode.OK, result.err
    report = json.loads(result.out)
    assert report["states"] == {"success": 1, "failure": 1, "invalid": 1}
    assert report["needs_attention"] is True


def _small_files(limit: int) -> None:
    # A file that grows past the limit fails to write (EFBIG) instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("limit", [20_000, 120_000])
def test_a_journal_that_cannot_be_written_exits_5_in_one_line(
    sandbox: SandboxThread, tmp_path: Path, limit: int
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(1500))
    done = subprocess.run(
        [sys.executable, "-m", "polyout", "campaign", "run", str(contacts), *FAST],
        env=subprocess_env(sandbox.base_url),
        preexec_fn=lambda: _small_files(limit),
        capture_output=True,
        text=True,
        timeout=60,
    )
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == ExitCode.STORAGE, done.stderr
    assert last.startswith("polyout: error: cannot write"), done.stderr
    assert "Traceback" not in done.stderr
    if sandbox.placements():  # calls went out: the way on is resume, and it is said
        assert "then continue with polyout campaign resume" in last
    else:
        assert last.endswith("nothing was dialled") or "campaign resume" in last


def test_a_run_record_that_cannot_be_written_does_not_fail_the_run(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    (tmp_path / "contacts.polyout.db.runs.jsonl").mkdir()  # cannot be appended to
    result = run_polyout(capsys, "campaign", "run", str(contacts), *FAST)
    assert result.code == ExitCode.OK, result.err
    assert "could not record this run in" in result.err
    assert "campaign complete" in result.err
