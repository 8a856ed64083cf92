"""``polyout campaign rehearse``: the forecast, as text and JSON, repeatable, and harmless."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .helpers import MORNING, forecast, rehearse, write_contacts

JSON_KEYS = {
    "duration_s",
    "started_at",
    "finish_at",
    "contacts",
    "states",
    "placements",
    "placements_per_hour",
    "not_reached_by_deadline",
    "complete",
    "paused",
    "retry_timing",
    "seed",
}


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rehearsal needs no key and no API: none is given, none is reachable."""
    for name in list(os.environ):
        if name.startswith(("POLYAI_", "POLYOUT_")):
            monkeypatch.delenv(name)


def test_same_seed_same_forecast_another_seed_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 150)
    argv = (str(contacts), "--rate", "2", "--retry-delay", "10m", "--now", MORNING)
    first = forecast(capsys, *argv)
    assert forecast(capsys, *argv, "--seed", "1") == first  # 1 is the default
    other = forecast(capsys, *argv, "--seed", "2")
    assert other["states"] != first["states"]
    assert other["seed"] == 2


def test_json_shape_and_what_it_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 200)
    data = forecast(
        capsys,
        str(contacts),
        "--rate",
        "0.05",  # one every 20 s: 200 contacts take more than an hour
        "--max-attempts",
        "2",
        "--retry-delay",
        "5m",
        "--outcomes",
        "success=0.5,no_answer=0.5",
        "--now",
        MORNING,
    )
    assert set(data) >= JSON_KEYS
    assert data["contacts"] == 200 == sum(data["states"].values())
    assert set(data["states"]) == {"success", "no_answer"}
    # Every no answer of a first call was retried once: placements = contacts + retries.
    retried = data["placements"] - 200
    assert 60 < retried < 140
    assert data["states"]["no_answer"] < retried
    assert len(data["placements_per_hour"]) >= 2
    assert sum(data["placements_per_hour"]) == data["placements"]
    assert data["not_reached_by_deadline"] is None
    assert data["complete"] is True
    started = datetime.fromisoformat(data["started_at"])
    finish = datetime.fromisoformat(data["finish_at"])
    assert started == datetime.fromisoformat(MORNING)
    assert finish - started == timedelta(seconds=round(data["duration_s"]))


def test_the_window_is_rehearsed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Started at 04:00 in New York with a 09:00-17:00 window: five silent hours first."""
    contacts = write_contacts(tmp_path / "contacts.csv", 20)
    data = forecast(
        capsys,
        str(contacts),
        "--window",
        "09:00-17:00",
        "--outcomes",
        "success=1",
        "--now",
        "2026-12-01T09:00:00Z",
    )
    assert data["placements_per_hour"][:5] == [0, 0, 0, 0, 0]
    assert data["placements_per_hour"][5] == 20
    assert 5 * 3600 < data["duration_s"] < 5 * 3600 + 120


def test_text_forecast_says_when_how_fast_and_how_contacts_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 40)
    before = sorted(os.listdir(tmp_path))
    code, out, err = rehearse(
        capsys, str(contacts), "--rate", "0.01", "--outcomes", "success=1", "--now", MORNING
    )
    assert code == ExitCode.OK, err
    assert "rehearsal of contacts.csv: 40 contacts" in out
    assert "nothing dialled" in out
    assert "finishes" in out
    assert "after 1h 7m" in out
    assert "placements" in out
    assert "per hour:" in out
    assert "success" in out
    assert "--end-by" not in out  # no deadline, no such line
    assert sorted(os.listdir(tmp_path)) == before  # no journal, nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--outcomes", "success=0.5"), "--outcomes: the probabilities add up to 0.5"),
        (("--outcomes", "answered=1"), "--outcomes: 'answered' is not one of"),
        (("--now", "2026-12-01T09:00"), "--now 2026-12-01T09:00: expected ISO 8601"),
        (("--window", "9-5"), "--window"),
        (("--like", "missing.db"), "--like missing.db: no campaign journal there"),
        (("--store", "x.db"), "--store and --campaign name the past campaign of --like"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: tuple[str, ...], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 3)
    code, out, err = rehearse(capsys, str(contacts), *argv)
    assert code == ExitCode.USAGE
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_a_campaign_that_would_pause_itself_ends_the_rehearsal_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every call fails: the run pauses itself (auto-pause); the forecast says when, why."""
    contacts = write_contacts(tmp_path / "contacts.csv", 50)
    argv = (str(contacts), "--outcomes", "failure=1", "--now", MORNING)
    data = forecast(capsys, *argv)
    assert data["complete"] is False
    assert data["duration_s"] is None
    assert data["finish_at"] is None
    assert "failure" in data["paused"]["reason"]
    assert datetime.fromisoformat(data["paused"]["at"]) > datetime.fromisoformat(MORNING)
    code, out, _ = rehearse(capsys, *argv)
    assert code == ExitCode.OK
    assert "the campaign would pause itself at" in out
    assert "never in this rehearsal" in out
