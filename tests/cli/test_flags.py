"""Every flag is checked before anything is dialled (issue 17: 12, 15, 26, 29).

A value no command could use is refused while parsing, exit 2, one line naming the flag
and the range it takes; nothing reaches the sandbox's ledger.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from polyout._cli._errors import EXAMPLE_NUMBER, ExitCode

from .conftest import SandboxThread, run_polyout
from .contacts import answered, write_csv

NUMBER = "+447400123450"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["call", NUMBER, "--wait", "--poll-interval", "0"], "argument --poll-interval: expected"),
        (["call", NUMBER, "--wait", "--poll-interval", "1e12"], "from 10ms to 10m"),
        (["call", NUMBER, "--poll-interval", "nan"], "argument --poll-interval"),
    ],
)
def test_call_flags_are_refused_before_dialling(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    result = run_polyout(capsys, *argv)
    assert result.code == ExitCode.USAGE, result.err
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sandbox.placements() == 0


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--retry-delay", "1e12", "argument --retry-delay: expected a duration from 0s to 7d"),
        ("--retry-delay", "inf", "argument --retry-delay"),
        ("--retry-delay", "nan", "argument --retry-delay"),
        ("--retry-delay", "-5", "argument --retry-delay"),
        ("--poll-interval", "0", "argument --poll-interval: expected a duration from 10ms"),
        ("--poll-deadline", "0", "argument --poll-deadline: expected a duration from 1s to 1d"),
        ("--stop-grace", "1e9", "argument --stop-grace: expected a duration from 0s to 6h"),
        ("--progress-interval", "1e400", "argument --progress-interval"),
        ("--rate", "1e308", "argument --rate: expected a number above 0 and at most 10,000"),
        ("--rate", "nan", "argument --rate"),
        ("--poll-rate", "0", "argument --poll-rate: expected a number above 0"),
        ("--concurrency", "0", "argument --concurrency: expected 1 to 100,000"),
        ("--max-attempts", "1000000", "argument --max-attempts: expected 1 to 100"),
        ("--country-code", "ZZ", "--country-code: 'ZZ' is not an ISO 3166-1"),
    ],
)
def test_campaign_flags_are_refused_with_their_bounds(
    sandbox: SandboxThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    expected: str,
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    result = run_polyout(capsys, "campaign", "run", str(contacts), f"{flag}={value}")
    assert result.code == ExitCode.USAGE, result.err
    assert expected in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert sandbox.placements() == 0
    assert not (tmp_path / "contacts.polyout.db").exists()


def test_resume_flags_are_bounded_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--rate=0", "--poll-rate=inf", "--concurrency=-1", "--stop-grace=1e12"):
        result = run_polyout(capsys, "campaign", "resume", str(tmp_path / "j.db"), flag)
        assert result.code == ExitCode.USAGE
        assert f"argument {flag.split('=')[0]}" in result.err


def test_the_example_number_in_help_is_one_polyout_dials(
    sandbox: SandboxThread, capsys: pytest.CaptureFixture[str]
) -> None:
    help_text = run_polyout(capsys, "call", "--help").out
    assert EXAMPLE_NUMBER in help_text
    advice = run_polyout(capsys, "call", "07400123450").err  # national, no --country-code
    assert f"give it in E.164 ({EXAMPLE_NUMBER})" in advice
    result = run_polyout(capsys, "call", EXAMPLE_NUMBER)  # as a newcomer would copy it
    assert result.code == ExitCode.OK, result.err
    assert [p.number for p in sandbox.sandbox.ledger.placements] == [EXAMPLE_NUMBER]


@pytest.mark.parametrize("link", ["same", "hard link", "symlink", "dotted"])
def test_output_onto_an_input_is_refused(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    before = contacts.read_bytes()
    output = {
        "same": contacts,
        "hard link": tmp_path / "link.csv",
        "symlink": tmp_path / "alias.csv",
        "dotted": tmp_path / "." / "contacts.csv",
    }[link]
    if link == "hard link":
        output.hardlink_to(contacts)
    if link == "symlink":
        output.symlink_to(contacts)
    result = run_polyout(capsys, "campaign", "run", str(contacts), "--output", str(output))
    assert result.code == ExitCode.USAGE, result.err
    assert "is the contacts file, which the results would overwrite" in result.err
    assert contacts.read_bytes() == before
    assert sandbox.placements() == 0


def test_output_onto_the_journal_or_suppression_list_is_refused(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    suppress = write_csv(tmp_path / "dnc.csv", [5])
    result = run_polyout(
        capsys, "campaign", "run", str(contacts), "--suppress", str(suppress), "-o", str(suppress)
    )
    assert result.code == ExitCode.USAGE
    assert "is the do-not-call list" in result.err
    journal = tmp_path / "contacts.polyout.db"
    for command in ("resume", "report"):
        journal.write_text("not a journal")
        result = run_polyout(
            capsys, "campaign", command, str(journal), "--output", str(tmp_path / "x.jsonl")
        )
        assert "is the journal" not in result.err
        if command == "resume":
            (tmp_path / "j.jsonl").symlink_to(journal)
        result = run_polyout(
            capsys, "campaign", command, str(journal), "--output", str(tmp_path / "j.jsonl")
        )
        assert result.code == ExitCode.USAGE
        assert "is the journal, which the results would overwrite" in result.err
        assert journal.read_text() == "not a journal"
    assert sandbox.placements() == 0
