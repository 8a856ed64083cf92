"""``polyout campaign run | resume | report | validate`` against the sandbox."""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import API_KEY, SandboxThread, connection_env, run_polyout, start_sandbox
from .contacts import answered, number, write_csv, write_jsonl

# Calls end within a fifth of a second in the sandbox: poll often, retry at once.
FAST = ("--rate", "50", "--poll-interval", "0.05", "--retry-delay", "0")


def campaign(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    result = run_polyout(capsys, "campaign", *argv)
    return result.code, result.out, result.err


def assert_no_full_numbers(text: str, numbers: list[int]) -> None:
    for n in numbers:
        assert number(n) not in text


def test_run_dials_everyone_writes_results_and_exits_1_on_failures(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    numbers = [*answered(6), 9]  # the last one fails every time
    contacts = write_csv(tmp_path / "contacts.csv", numbers)
    results = tmp_path / "results.jsonl"
    code, out, err = campaign(
        capsys, "run", str(contacts), *FAST, "--max-attempts", "2", "--output", str(results)
    )
    assert code == ExitCode.ATTENTION, err
    journal = tmp_path / "contacts.polyout.db"
    assert f"journal: {journal}" in err
    assert "Contacts by state" in out
    assert "campaign complete" in err
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["to_number"] for r in records] == [number(n) for n in numbers]  # full, in order
    assert [r["state"] for r in records] == ["success"] * 6 + ["failure"]
    assert records[-1]["attempts"] == 2
    assert sandbox.placements() == 6 + 2
    assert_no_full_numbers(out + err, numbers)


def test_run_all_answered_exits_0_from_jsonl_to_csv(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_jsonl(tmp_path / "people.jsonl", answered(4))
    journal = tmp_path / "journal.db"
    results = tmp_path / "out.csv"
    code, _, err = campaign(
        capsys, "run", str(contacts), *FAST, "--journal", str(journal), "--output", str(results)
    )
    assert code == ExitCode.OK, err
    assert results.read_text().splitlines()[0].startswith("contact_id,row,to_number,state")
    # Each row's metadata reached its own trigger (the server may take two in either order).
    metadata = {p.number: p.metadata for p in sandbox.sandbox.ledger.placements}
    assert metadata[number(0)] == {"first_name": "Bo0"}


def test_run_refuses_an_existing_journal_and_says_resume(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    assert campaign(capsys, "run", str(contacts), *FAST)[0] == ExitCode.OK
    code, _, err = campaign(capsys, "run", str(contacts), *FAST)
    assert code == ExitCode.USAGE
    journal = tmp_path / "contacts.polyout.db"
    assert f"{journal} already holds a campaign" in err
    assert f"'polyout campaign resume {journal}'" in err
    assert sandbox.placements() == 2


def test_resume_command_never_carries_the_key(
    sandbox: SandboxThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(1))
    assert campaign(capsys, "run", str(contacts), *FAST)[0] == ExitCode.OK
    monkeypatch.delenv("POLYAI_API_KEY")
    monkeypatch.delenv("POLYAI_AGENT_ID")
    argv = ("run", str(contacts), "--api-key", API_KEY, "--agent-id", "PROJECT-X")
    code, _, err = campaign(capsys, *argv)
    assert code == ExitCode.USAGE
    assert "resume " + str(tmp_path / "contacts.polyout.db") + " --agent-id PROJECT-X (with" in err
    assert "with the key in POLYAI_API_KEY: it is never stored" in err
    assert API_KEY not in err


def test_report_counts_attempts_and_exports(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", [*answered(3), 7], extra_rows=["bad,123,,X"])
    campaign(capsys, "run", str(contacts), *FAST, "--max-attempts", "3")
    journal = str(tmp_path / "contacts.polyout.db")

    code, out, _ = campaign(capsys, "report", journal)
    assert code == ExitCode.OK  # it reported; the failure and the invalid row are the news
    for heading in ("Campaign", "Contacts by state", "Activity", "rate limited (429)", "runs"):
        assert heading in out
    assert "calls placed         6 (3 with 1, 1 with 3)" in out

    code, out, _ = campaign(capsys, "report", journal, "--json")
    report = json.loads(out)
    assert report["states"] == {"success": 3, "failure": 1, "invalid": 1}
    assert report["attempts"] == 6
    assert report["rate_limited"] == 0
    assert report["complete"] is True

    export = tmp_path / "all.csv"
    assert campaign(capsys, "report", journal, "--output", str(export))[0] == ExitCode.OK
    assert len(export.read_text().splitlines()) == 1 + 5


def test_validate_reports_rows_without_dialling(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["bad,12345,,X", f"dup,{number(1)},,Y", "nat,07400 100019,gb,Z"]
    contacts = write_csv(tmp_path / "c.csv", range(5), extra_rows=rows)
    suppress = tmp_path / "do-not-call.txt"
    suppress.write_text(number(2) + "\n")
    flags = ("--suppress", str(suppress), "--window", "09:00-20:00", "--rate", "2")

    code, out, _ = campaign(capsys, "validate", str(contacts), *flags, "--json")
    assert code == ExitCode.ATTENTION  # an invalid row
    report = json.loads(out)
    assert (report["total"], report["valid"], report["invalid"]) == (8, 5, 1)
    assert (report["duplicates"], report["suppressed"]) == (1, 1)
    assert report["estimated_dialling_seconds"] == 2.5
    assert [(p["row"], p["state"]) for p in report["problems"]] == [
        (7, "invalid"),
        (8, "duplicate"),
        (4, "suppressed"),
    ]

    code, out, _ = campaign(capsys, "validate", str(contacts), *flags)
    assert "outside 09:00-20:00 now" in out
    assert "estimated duration" in out
    assert "is not in E.164 format" in out
    assert_no_full_numbers(out, [1, 2])

    clean = write_csv(tmp_path / "clean.csv", range(3))
    assert campaign(capsys, "validate", str(clean))[0] == ExitCode.OK


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    no_phone = tmp_path / "no-phone.csv"
    no_phone.write_text("id,name\n1,Ann\n")
    binary = tmp_path / "workbook.csv"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x06\x00binary")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    header_only = tmp_path / "empty.csv"
    header_only.write_text("id,phone\n")
    sheet = tmp_path / "contacts.xlsx"
    sheet.write_text("x")
    return {
        "no phone column in the header": no_phone,
        "looks binary (a ZIP archive; an .xlsx workbook is one": binary,
        "cannot read": folder,
        "has no contacts": header_only,
        "cannot tell the format from the extension '.xlsx'": sheet,
        "No such file or directory": tmp_path / "missing.csv",
    }


def test_each_bad_contact_file_has_its_own_message_and_dials_nobody(
    sandbox: SandboxThread,
    bad_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for expected, path in bad_files.items():
        for command in ("run", "validate"):
            if command == "validate" and expected == "has no contacts":
                continue  # an empty list is a valid (empty) report
            code, _, err = campaign(capsys, command, str(path))
            assert code == ExitCode.USAGE, (command, path, err)
            assert expected in err, (command, err)
            assert len(err.strip().splitlines()) == 1
    assert sandbox.placements() == 0
    assert not list(tmp_path.glob("*.polyout.db"))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--window", "9-5"], "--window: calling window '9-5' is not like"),
        (["--default-timezone", "Mars/Base"], "--default-timezone: 'Mars/Base' is not an IANA"),
        (["--output", "results.txt"], "name the results file .jsonl or .csv"),
        (["--retry-delay", "soon"], "expected a duration like 900"),
        (["--rate", "0"], "expected a number above 0"),
        (["--suppress", "missing.txt"], "cannot read missing.txt"),
    ],
)
def test_bad_settings_exit_2(
    sandbox: SandboxThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    expected: str,
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    code, _, err = campaign(capsys, "run", str(contacts), *flags)
    assert code == ExitCode.USAGE
    assert expected in err
    assert sandbox.placements() == 0


def test_wrong_key_stops_before_the_journal_exists(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    wrong = "not-the-right-key-at-all"
    code, out, err = campaign(capsys, "run", str(contacts), "--api-key", wrong)
    assert code == ExitCode.API
    assert err.strip().splitlines()[-1].startswith("polyout: error: the API refused the key")
    assert wrong not in out + err
    assert API_KEY not in out + err
    assert not (tmp_path / "contacts.polyout.db").exists()
    assert sandbox.placements() == 0


def test_unreachable_server_exits_3(
    sandbox: SandboxThread,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("POLYAI_BASE_URL", f"http://127.0.0.1:{probe.getsockname()[1]}")
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    code, _, err = campaign(capsys, "run", str(contacts))
    assert code == ExitCode.API
    assert "could not reach the API" in err


def test_journal_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = campaign(capsys, "resume", str(tmp_path / "nothing.db"))
    assert code == ExitCode.USAGE
    assert "no campaign journal at" in err
    not_a_journal = tmp_path / "notes.db"
    not_a_journal.write_text("hello")
    code, _, err = campaign(capsys, "report", str(not_a_journal))
    assert code == ExitCode.USAGE
    assert str(not_a_journal) in err


def test_resume_of_a_finished_campaign_changes_nothing(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(3))
    campaign(capsys, "run", str(contacts), *FAST)
    code, out, _ = campaign(capsys, "resume", str(tmp_path / "contacts.polyout.db"))
    assert code == ExitCode.OK
    assert re.search(r"success\s+3\s", out)
    assert sandbox.placements() == 3


def test_campaign_commands_need_rich(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich now fails
    contacts = write_csv(tmp_path / "contacts.csv", answered(1))
    code, _, err = campaign(capsys, "validate", str(contacts))
    assert code == ExitCode.USAGE
    assert "needs rich, which is not installed: pip install 'polyout[cli]'" in err


def test_a_campaign_the_api_refuses_stops_resumable_with_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The key is good (the start check passes) but the environment has no connector: the
    # first trigger gets a 404, and the run stops instead of failing every contact.
    only_live = start_sandbox(environments=frozenset({"live"}))
    try:
        for name, value in connection_env(only_live.base_url).items():
            monkeypatch.setenv(name, value)
        contacts = write_csv(tmp_path / "contacts.csv", answered(3))
        code, _, err = campaign(capsys, "run", str(contacts), *FAST)
        placed = only_live.placements()
    finally:
        only_live.stop()
    assert code == ExitCode.API
    last = err.strip().splitlines()[-1]
    assert last.startswith("polyout: error: the API refused the campaign's trigger (HTTP 404")
    assert last.endswith(f"to continue: polyout campaign resume {tmp_path / 'contacts.polyout.db'}")
    assert placed == 0


def test_country_code_reads_national_numbers_in_run_and_validate(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A US CRM export: national numbers, no country column; a row's own country still wins.
    contacts = tmp_path / "crm.csv"
    contacts.write_text("id,phone,country_code\nus,2015550120,\nuk,07400 100010,GB\n")
    code, out, _ = campaign(capsys, "validate", str(contacts), "--json")
    assert (code, json.loads(out)["invalid"]) == (ExitCode.ATTENTION, 1)
    code, out, _ = campaign(capsys, "validate", str(contacts), "--country-code", "us", "--json")
    assert (code, json.loads(out)["invalid"]) == (ExitCode.OK, 0)
    code, _, err = campaign(capsys, "run", str(contacts), *FAST, "--country-code", "US")
    assert code == ExitCode.OK, err
    dialled = sorted(p.number for p in sandbox.sandbox.ledger.placements)
    assert dialled == ["+12015550120", "+447400100010"]


def test_poll_rate_is_stored_as_the_campaigns_status_budget_and_resume_takes_it(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    code, _, err = campaign(capsys, "run", str(contacts), *FAST, "--poll-rate", "7")
    assert code == ExitCode.OK, err
    journal = str(tmp_path / "contacts.polyout.db")
    report = json.loads(campaign(capsys, "report", journal, "--json")[1])
    assert report["config"]["poll_rate"] == 7
    # A resume's changes hold for that run (the journal keeps what the campaign began with).
    assert campaign(capsys, "resume", journal, "--poll-rate", "3")[0] == ExitCode.OK
