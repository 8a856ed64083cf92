"""``--like REF``: a rehearsal drawn from a real past campaign, run against the sandbox.

The test sandbox answers numbers ending 0-6 and fails those ending 7-9: a past campaign
of the numbers 0-39 answered 70% of its calls and failed 30%.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from polyout._cli import main
from tests.cli.conftest import SandboxThread, connection_env, start_sandbox
from tests.cli.contacts import write_csv

from .helpers import forecast, rehearse, write_contacts

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def past_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished campaign of 40 calls, run by ``polyout campaign run`` on the sandbox."""
    folder = tmp_path_factory.mktemp("past")
    contacts = write_csv(folder / "past.csv", range(40))
    journal = folder / "past.db"
    sandbox: SandboxThread = start_sandbox()
    saved = dict(os.environ)
    os.environ.update(connection_env(sandbox.base_url))
    try:
        code = main(
            [
                "campaign",
                "run",
                str(contacts),
                "--journal",
                str(journal),
                "--rate",
                "50",
                "--poll-interval",
                "0.05",
                "--max-attempts",
                "1",
            ]
        )
        assert code == 1  # some calls failed: the exit that asks for attention
        assert sandbox.placements() == 40
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sandbox.stop()
    return journal


def test_like_a_journal_draws_outcomes_and_hours_from_it(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 400)
    data = forecast(capsys, str(contacts), "--like", str(past_journal), "--max-attempts", "1")
    assert data["like"]["calls"] == 40
    # The past calls were placed within a minute or two: one London hour (two, at worst,
    # across an hour's turn) has enough of them for a mix of its own.
    hour_now = datetime.now(LONDON).hour
    assert data["like"]["hours"]
    assert set(data["like"]["hours"]) <= {hour_now, (hour_now - 1) % 24}
    states = data["states"]
    assert set(states) == {"success", "failure"}
    assert 0.6 < states["success"] / 400 < 0.8
    assert 0.2 < states["failure"] / 400 < 0.4


def test_like_a_store_and_campaign_name_is_the_same_past(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 100)
    by_path = forecast(
        capsys, str(contacts), "--like", str(past_journal), "--now", "2026-12-01T14:00:00Z"
    )
    by_name = forecast(
        capsys,
        str(contacts),
        "--like",
        "--store",
        f"sqlite:///{past_journal}",
        "--campaign",
        "default",
        "--now",
        "2026-12-01T14:00:00Z",
    )
    assert by_name == by_path
    assert by_name["like"]["calls"] == 40


def test_like_refuses_a_given_mix_and_a_campaign_without_calls(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 3)
    code, _, err = rehearse(
        capsys, str(contacts), "--like", str(past_journal), "--outcomes", "success=1"
    )
    assert code == 2
    assert "drop --outcomes" in err
    code, _, err = rehearse(capsys, str(contacts), "--like", "--store", str(past_journal))
    assert code == 2
    assert "--campaign NAME" in err


def test_learned_retry_timing_is_compared_with_fixed_delays(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 200)
    argv = (str(contacts), "--like", str(past_journal), "--retry-delay", "10m")
    data = forecast(capsys, *argv, "--retry-timing", "learned")
    assert data["retry_timing"] == "learned"
    assert data["fixed"]["retry_timing"] == "fixed"
    assert data["fixed"]["contacts"] == data["contacts"] == 200
    code, out, err = rehearse(capsys, *argv, "--retry-timing", "learned")
    assert code == 0, err
    assert "learned retry timing against fixed delays: success" in out
