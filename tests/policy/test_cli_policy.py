"""The contact policy on the command line, against the sandbox: bad input (one line naming
the flag or row, exit 2, nothing dialled), caps across two campaigns of one store, the
recent-calls prompt, and the audit receipts (exported, verified, an edit detected)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import SandboxThread, run_polyout
from tests.cli.contacts import answered, number, write_csv

FAST = ("--rate", "50", "--poll-interval", "0.05", "--retry-delay", "0")


def polyout(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    result = run_polyout(capsys, *argv)
    return result.code, result.out, result.err


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--frequency-cap", "3/day"), "--frequency-cap: '3/day': 'day' is not a duration"),
        (("--frequency-cap", "often"), "--frequency-cap: "),
        (("--start-at", "2026-12-01 09:00"), "--start-at: '2026-12-01 09:00' has no time zone"),
        (("--end-by", "tomorrow"), "--end-by: 'tomorrow' is not an ISO 8601"),
        (("--start-at", "09:00"), "--start-at: a local time (09:00) needs a default time zone"),
        (
            ("--start-at", "2026-12-02T00:00Z", "--end-by", "2026-12-01T00:00Z"),
            "--end-by: must be later than --start-at",
        ),
        (("--rules", "missing.toml"), "--rules: missing.toml: cannot be read"),
        (("--quarantine-failures", "0"), "--quarantine-failures: must be 1 to 1000"),
    ],
)
def test_bad_policy_input_is_one_line_naming_the_flag_exit_2_nothing_dialled(
    sandbox: SandboxThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: tuple[str, ...],
    words: str,
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    code, _, err = polyout(capsys, "campaign", "run", str(contacts), *FAST, *flags)
    assert code == ExitCode.USAGE, err
    assert words in err
    assert len(err.strip().splitlines()) == 1
    assert sandbox.placements() == 0
    assert not (tmp_path / "contacts.polyout.db").exists()


def test_a_bad_rules_file_names_the_file_and_region(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[regions.GB]\nwindow = "9-5"\n')
    contacts = write_csv(tmp_path / "contacts.csv", answered(2))
    code, _, err = polyout(capsys, "campaign", "run", str(contacts), "--rules", str(rules))
    assert code == ExitCode.USAGE
    assert f"--rules: {rules}: [regions.GB]: window:" in err
    assert sandbox.placements() == 0


def test_a_bad_subdivision_or_date_in_a_row_makes_that_row_invalid(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "id,phone,subdivision,not_after\n"
        f"a,{number(1)},GB-SCT,\n"
        f"b,{number(2)},ZZ-99,\n"
        f"c,{number(3)},,next week\n"
    )
    results = tmp_path / "results.jsonl"
    code, _, err = polyout(
        capsys, "campaign", "run", str(contacts), *FAST, "--skip-holidays",
        "--output", str(results),
    )  # fmt: skip
    assert code == ExitCode.OK, err  # invalid rows are reported, not a failed run
    records = {r["contact_id"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert records["a"]["state"] == "success"
    assert records["b"]["state"] == "invalid"
    assert records["b"]["reason"].startswith("subdivision: ")
    assert records["c"]["state"] == "invalid"
    assert records["c"]["reason"].startswith("not_after: ")
    assert sandbox.placements() == 1


def test_a_cap_across_two_campaigns_the_prompt_and_the_receipts(
    sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store.db"
    contacts = write_csv(tmp_path / "contacts.csv", answered(3))
    first = ("campaign", "run", str(contacts), *FAST, "--store", str(store))
    code, _, err = polyout(capsys, *first, "--campaign", "spring")
    assert code == ExitCode.OK, err
    assert sandbox.placements() == 3

    # A second campaign of the same numbers: named, then refused without --yes.
    second = (*first, "--campaign", "summer", "--frequency-cap", "1/24h")
    code, _, err = polyout(capsys, *second)
    assert code == ExitCode.USAGE
    assert "by other campaigns of" in err
    assert "'spring' (3)" in err
    assert "--yes" in err
    assert sandbox.placements() == 3
    code, _, err = polyout(capsys, *second, "--yes", "--output", str(tmp_path / "summer.jsonl"))
    assert code == ExitCode.OK, err
    assert sandbox.placements() == 3  # the cap held every number back
    states = [json.loads(line) for line in (tmp_path / "summer.jsonl").read_text().splitlines()]
    assert {r["state"] for r in states} == {"suppressed"}
    assert all("frequency cap 1/24h" in r["reason"] for r in states)

    # The receipts of the first campaign: exported, verified, an edit detected.
    receipts = tmp_path / "receipts.jsonl"
    audit = ("campaign", "audit", "--store", str(store), "--campaign", "spring")
    code, _, err = polyout(capsys, *audit, "--output", str(receipts))
    assert code == ExitCode.OK, err
    lines = [json.loads(line) for line in receipts.read_text().splitlines()]
    assert [r["n"] for r in lines] == [1, 2, 3]
    assert lines[1]["previous"] == lines[0]["hash"]
    assert "Europe/London" in lines[0]["policy"]["zones"]
    assert lines[0]["policy"]["zone_source"] == "number"
    code, out, _ = polyout(capsys, *audit, "--verify")
    assert code == ExitCode.OK
    assert "3 receipts, the chain is whole" in out

    with sqlite3.connect(store) as db:
        body = db.execute("SELECT body FROM receipts WHERE n = 2").fetchone()[0]
        edited = body.replace('"phase":"running"', '"phase":"paused"')
        assert edited != body
        db.execute("UPDATE receipts SET body = ? WHERE n = 2", (edited,))
    code, out, _ = polyout(capsys, *audit, "--verify")
    assert code == ExitCode.ATTENTION
    assert "broken at receipt 2: its content does not match its hash (edited)" in out

    with sqlite3.connect(store) as db:
        db.execute("UPDATE receipts SET body = ? WHERE n = 2", (body,))
        db.execute("DELETE FROM receipts WHERE n = 3")
    code, out, _ = polyout(capsys, *audit, "--verify")
    assert code == ExitCode.ATTENTION
    assert "receipt 3: missing" in out


def test_audit_needs_one_of_output_or_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = polyout(capsys, "campaign", "audit", str(tmp_path / "none.db"), "--verify")
    assert code == ExitCode.USAGE
    assert "no campaign journal at" in err
    code, _, err = polyout(capsys, "campaign", "audit", str(tmp_path / "none.db"))
    assert code == ExitCode.USAGE
    assert "give --output FILE" in err
