"""What the campaign commands draw (issue 17: 16, 24).

The live line reads well at 80 columns: it drops the least useful numbers, never the
final count or the ETA. Durations carry their units; counts their plurals. Text from
the user (a contact id, a file name) is shown as typed, never read as rich markup.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from polyout._campaign._events import CampaignStats
from polyout._cli._errors import ExitCode
from polyout._cli._progress_line import calls_per_second, format_duration
from polyout._cli._render import ProgressLine
from polyout.sandbox import FaultConfig

from .conftest import connection_env, run_polyout, start_sandbox
from .contacts import number


def stats(**changes: object) -> CampaignStats:
    values: dict[str, object] = {
        "states": {"success": 100, "no_answer": 12, "failure": 8, "in_flight": 30},
        "total": 400,
        "input_done": True,
        "in_flight": 30,
        "triggers": 150,
        "placed": 150,
        "retries": 4,
        "not_placed": 0,
        "rate_limited": 3,
        "rate": 2.0,
        "achieved_rate": 2.0,
        "elapsed": 75.0,
        "stopping": False,
        "events_dropped": 0,
    }
    values.update(changes)
    return CampaignStats(**values)  # type: ignore[arg-type]


def rendered(line: ProgressLine, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(line)
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 100, 120, 200])
def test_the_live_line_fits_and_keeps_the_count_and_the_eta(width: int) -> None:
    line = ProgressLine("campaign run")
    line.show(stats(), eta=140.0)
    text = rendered(line, width)
    assert text.count("\n") == 1, text  # one line, never wrapped
    assert len(text.rstrip("\n")) <= width
    assert "final 120/400" in text
    assert "ETA 2m20s" in text
    assert "…" not in text  # parts are dropped whole, not cut
    if width >= 80:
        assert "in flight 30" in text
        assert "dialled 150" in text
    if width >= 100:
        assert "━" in text  # the bar, once there is room for it
    if width >= 200:
        for part in ("campaign run", "success 100", "no_answer 12", "429s 3"):
            assert part in text


def test_in_flight_counts_placed_calls_and_sending_is_separate() -> None:
    # 5 triggers under way (429 waits) and 2 calls placed: "in flight 7" above
    # "dialled 2" read as an impossibility.
    line = ProgressLine("campaign run")
    line.show(stats(states={"dialing": 5, "in_flight": 2}, placed=2, total=10), eta=None)
    text = rendered(line, 200)
    assert "dialled 2 · in flight 2 · sending 5" in text


@pytest.mark.parametrize("width", [60, 120])
def test_a_paused_run_says_so_and_why_first(width: int) -> None:
    line = ProgressLine("campaign run")
    reason = "17 of the last 20 calls ended in failure (auto-paused)"
    line.show(stats(paused=reason), eta=140.0)
    text = rendered(line, width)
    assert "PAUSED · " in text  # the operator must act: never dropped, before the count
    assert text.index("PAUSED") < text.index("final 120/400")
    assert "ETA" not in text  # a paused run has no end to foresee
    if width >= 120:
        assert reason in text


def test_a_resume_says_starting_until_it_knows_its_contacts_then_this_run() -> None:
    line = ProgressLine("campaign resume", resumed=True)
    line.show(stats(states={}, total=0, input_done=False, placed=0), eta=None)
    text = rendered(line, 80)
    assert "starting" in text
    assert "0/0" not in text
    line.show(stats(), eta=None)
    assert "dialled 150 this run" in rendered(line, 120)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (42, "42s"), (74, "1m14s"), (3600, "1h00m"), (4445, "1h14m"), (90000, "1d01h")],
)
def test_durations_carry_their_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_rates_take_the_right_plural() -> None:
    assert calls_per_second(1.0, "g") == "1 call/s"
    assert calls_per_second(1.0) == "1.0 call/s"
    assert calls_per_second(2.5) == "2.5 calls/s"
    assert calls_per_second(0.0, ".2f") == "0.00 calls/s"


def test_validate_shows_markup_in_ids_and_file_names_as_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = tmp_path / "[bold]list.csv"
    contacts.write_text(f"id,phone\n[/bold],12345\n[red]ok,{number(1)}\n")
    result = run_polyout(capsys, "campaign", "validate", str(contacts))
    assert result.code == ExitCode.ATTENTION, result.err  # the invalid row, not a crash
    assert "[/bold]" in result.out
    assert "[bold]list.csv" in result.out
    assert "at 1 call/s" in result.out


def test_report_shows_markup_in_ids_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every trigger is cut after it is sent: the contact is unknown, listed for attention.
    monkeypatch.setenv("COLUMNS", "200")  # the id unfolded, to find it whole
    cutting = start_sandbox(faults=FaultConfig(cut_rate=1.0))
    try:
        for name, value in connection_env(cutting.base_url).items():
            monkeypatch.setenv(name, value)
        contacts = tmp_path / "c.csv"
        contacts.write_text(f"id,phone\n[/b]x[link=evil],{number(1)}\n")
        flags = ("--rate", "1", "--poll-interval", "0.05")
        run = run_polyout(capsys, "campaign", "run", str(contacts), *flags)
    finally:
        cutting.stop()
    assert run.code == ExitCode.ATTENTION, run.err
    assert "[/b]x[link=evil]" in run.out
    journal = str(tmp_path / "c.polyout.db")
    report = run_polyout(capsys, "campaign", "report", journal)
    assert report.code == ExitCode.OK, report.err
    assert "[/b]x[link=evil]" in report.out
    assert "1 call/s" in report.out
    as_json = run_polyout(capsys, "campaign", "report", journal, "--json")
    assert json.loads(as_json.out)["attention"][0]["contact_id"] == "[/b]x[link=evil]"
