"""``polyout campaign report JOURNAL --html PATH`` on a real SQLite journal of a sandbox run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from tests.cli.conftest import SandboxThread, run_polyout, subprocess_env
from tests.cli.contacts import number, write_csv

from .campaigns import page_data

FAST = ("--rate", "50", "--poll-interval", "0.05", "--retry-delay", "0")


@pytest.fixture
def journal(sandbox: SandboxThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A finished campaign: 7 answered, 3 failed twice (numbers ending 7 to 9), 1 invalid."""
    contacts = write_csv(tmp_path / "contacts.csv", range(10), extra_rows=["bad,123,,X"])
    result = run_polyout(capsys, "campaign", "run", str(contacts), *FAST, "--max-attempts", "2")
    assert result.code == ExitCode.ATTENTION, result.err
    return tmp_path / "contacts.polyout.db"


def test_the_page_holds_the_journal_s_numbers(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    result = run_polyout(capsys, "campaign", "report", str(journal), "--html", str(page))
    assert result.code == ExitCode.OK, result.err
    assert f"report: {page} (11 contacts" in result.err
    assert "Contacts by state" in result.out  # the tables are still printed

    text = page.read_text(encoding="utf-8")
    data = page_data(text)
    tables = json.loads(run_polyout(capsys, "campaign", "report", str(journal), "--json").out)
    assert data["states"] == tables["states"] == {"success": 7, "failure": 3, "invalid": 1}
    assert data["placements"] == tables["attempts"] == 13
    assert data["attempts"] == {"0": 1, "1": 7, "2": 3}
    assert data["by_country"] == {"GB": [10, 13, 7]}
    assert data["settings"]["rate"] == 50
    assert data["connection"]["api"] == tables["config"]["api"]
    assert data["attention_counts"] == {"failure": 3, "invalid": 1}
    for n in range(10):
        assert number(n) not in text
    assert "cli-test-key" not in text  # the key is never stored, so never shown
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("name", "why"),
    [("report.txt", "name the report file .html"), ("missing/report.html", "does not exist")],
)
def test_a_page_that_cannot_be_written_is_refused_before_reading(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    target = tmp_path / name
    result = run_polyout(capsys, "campaign", "report", str(journal), "--html", str(target))
    assert result.code == ExitCode.USAGE
    assert why in result.err
    assert result.out == ""
    assert not target.exists()


_WITHOUT_PLOTLY = (
    "import sys; sys.modules['plotly'] = None; "  # `import plotly` now raises ImportError
    "from polyout._cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_without_plotly_the_command_says_how_to_get_it_and_writes_nothing(
    journal: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT_PLOTLY,
            "campaign",
            "report",
            str(journal),
            "--html",
            str(page),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == ExitCode.USAGE
    assert "pip install 'polyout[report]'" in child.stderr
    assert len(child.stderr.strip().splitlines()) == 1
    assert child.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["contacts.csv", "contacts.polyout.db", *_journal_companions(tmp_path)]
    )


def _journal_companions(folder: Path) -> list[str]:
    """Files the journal keeps beside itself (its runs file, WAL): not the report's."""
    return [
        p.name
        for p in folder.iterdir()
        if p.name.startswith("contacts.polyout.db") and p.name != "contacts.polyout.db"
    ]
