"""``polyout demo``: the tour runs start to end with no account and no setup."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode

from .conftest import run_polyout


def test_demo_runs_a_whole_campaign_and_leaves_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("POLYAI_API_KEY", "POLYAI_BASE_URL", "POLYOUT_API"):
        monkeypatch.delenv(name, raising=False)  # the demo needs none of them
    folder = tmp_path / "tour"
    for _ in range(2):  # a second demo in the same folder starts afresh
        result = run_polyout(
            capsys, "demo", "--dir", str(folder), "--contacts", "40", "--speed", "25"
        )
        assert result.code == ExitCode.OK, result.err
    out = result.out
    for step in ("Pre-launch check", "Contacts by state", "This run", "polyout campaign report"):
        assert step in out
    assert "Rows the campaign would not dial" in out  # the bad rows on purpose
    with (folder / "results.csv").open() as results:
        rows = list(csv.DictReader(results))
    assert len(rows) == 45  # 40 contacts and 5 bad rows
    states = {row["state"] for row in rows}
    assert {"success", "invalid", "duplicate", "suppressed"} <= states
    full_numbers = [row["to_number"] for row in rows if row["state"] == "success"]
    assert not any(number in out + result.err for number in full_numbers)
