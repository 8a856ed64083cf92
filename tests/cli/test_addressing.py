"""Naming a campaign on every command: JOURNAL, or ``--store URL --campaign NAME`` (issue 16).

One SQLite file holds several campaigns; ``run`` refuses a name that exists and names
the command that joins it; ``work`` joins as one more worker and finishes what a stopped
creator left, dialling nobody twice; the password of a store URL is shown nowhere.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import SandboxThread, run_polyout, spawn_polyout, subprocess_env, wait_until_dialling
from .contacts import answered, write_csv

FAST = ("--rate", "50", "--poll-interval", "0.05", "--progress-interval", "0")
PASSWORD = "pg-Secret-addr-51"
BAD_URLS = [
    f"postgresql://app:{PASSWORD}@127.0.0.1:9",  # no database
    f"mysql://app:{PASSWORD}@127.0.0.1/db",
]


def test_one_sqlite_file_holds_two_campaigns_each_run_and_reported(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "campaigns.db"
    for name, count, form in [("a", 2, str(store)), ("b", 3, f"sqlite:///{store}")]:
        contacts = write_csv(tmp_path / f"{name}.csv", answered(count))
        # --yes: campaign b dials numbers a just called (issue 12's prompt would ask).
        argv = ("campaign", "run", str(contacts), "--store", form, "--campaign", name, "--yes")
        result = run_polyout(capsys, *argv, *FAST)
        assert result.code == ExitCode.OK, result.err
        assert f"polyout campaign report --store {store} --campaign {name}" in result.err
    assert sandbox.placements() == 5
    for name, count in [("a", 2), ("b", 3)]:
        shown = run_polyout(
            capsys, "campaign", "report", "--store", str(store), "--campaign", name, "--json"
        )
        assert shown.code == ExitCode.OK, shown.err
        assert json.loads(shown.out)["states"] == {"success": count}
    # The journal form names the file's only campaign; with two, it says how to name one.
    only = run_polyout(capsys, "campaign", "report", str(store))
    assert only.code == ExitCode.USAGE
    assert f"holds 'a', 'b': name one with --store {store} --campaign NAME" in only.err
    # run refuses a name the store holds, naming the command that joins it; dials nobody.
    again = run_polyout(
        capsys, "campaign", "run", str(tmp_path / "a.csv"), "--store", str(store), "--campaign", "a"
    )
    assert again.code == ExitCode.USAGE
    assert f"'polyout campaign work --store {store} --campaign a'" in again.err
    assert sandbox.placements() == 5
    # validate counts the file's numbers the campaign holds already.
    checked = run_polyout(
        capsys, "campaign", "validate", str(tmp_path / "b.csv"), "--json",
        "--store", str(store), "--campaign", "b",
    )  # fmt: skip
    assert json.loads(checked.out)["already_in_campaign"] == 3


def test_work_finishes_a_campaign_its_creator_stopped_dialling_nobody_twice(
    slow_sandbox: SandboxThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "campaigns.db"
    contacts = write_csv(tmp_path / "c.csv", answered(16))
    creator = spawn_polyout(
        "campaign", "run", str(contacts), "--store", str(store), "--campaign", "spring",
        "--rate", "8", "--poll-interval", "0.1", "--stop-grace", "0.5s",
        "--progress-interval", "0.1",
        env=subprocess_env(slow_sandbox.base_url),
    )  # fmt: skip
    wait_until_dialling(creator)
    creator.send_signal(signal.SIGINT)
    _, err = creator.communicate(timeout=30)
    assert creator.returncode == ExitCode.INTERRUPTED, err
    assert f"polyout campaign resume --store {store} --campaign spring" in err
    assert 0 < slow_sandbox.placements() < 16
    worked = run_polyout(
        capsys, "campaign", "work", "--store", f"sqlite:///{store}", "--campaign", "spring"
    )
    assert worked.code == ExitCode.OK, worked.err
    assert "joins campaign 'spring'" in worked.err
    assert slow_sandbox.placements() == 16
    assert not slow_sandbox.sandbox.ledger.dialled_more_than_once()


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "command",
    [
        ["run", "c.csv"],
        ["resume"],
        ["work"],
        ["report"],
        ["export", "copy.db"],
        ["validate", "c.csv"],
    ],
)
def test_a_bad_store_url_is_exit_2_naming_the_flag_without_the_password(
    command: list[str], url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_csv(tmp_path / "c.csv", answered(1))
    argv = [command[0], *(str(tmp_path / a) for a in command[1:])]
    result = run_polyout(capsys, "campaign", *argv, "--store", url, "--campaign", "a")
    assert result.code == ExitCode.USAGE, result.err
    assert result.err.startswith("polyout: error: --store: ")
    assert PASSWORD not in result.out + result.err


@pytest.mark.parametrize(
    "argv",
    [
        ["campaign", "report", "--store", f"postgresql://app:{PASSWORD}@h/db"],  # no --campaign
        ["campaign", "report", "--campaign", "a"],  # no --store
        ["campaign", "report", "j.db", "--store", "x.db", "--campaign", "a"],  # both
        ["campaign", "report", "--store", "x.db", "--campaign", "no way"],
        ["campaign", "validate", "c.csv", "--stor", f"postgres://u:{PASSWORD}@h/db", "--x"],
    ],
)
def test_addressing_mistakes_are_one_line_without_the_password(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PGPASSWORD", "env-" + PASSWORD)
    result = run_polyout(capsys, *argv, "-v")
    assert result.code == ExitCode.USAGE
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert PASSWORD not in result.out + result.err


def test_postgresql_wrong_password_and_closed_port_are_exit_3_in_one_line(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from urllib.parse import urlsplit

    parts = urlsplit(pg_url)
    wrong = pg_url.replace(f":{parts.password}@", f":{PASSWORD}@")
    closed = f"postgresql://app:{PASSWORD}@127.0.0.1:9/calls"
    for url in (wrong, closed):
        result = run_polyout(capsys, "campaign", "report", "--store", url, "--campaign", "a")
        assert result.code == ExitCode.API, result.err
        assert len(result.err.strip().splitlines()) == 1, result.err
        assert PASSWORD not in result.out + result.err
