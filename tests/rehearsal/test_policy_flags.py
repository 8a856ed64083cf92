"""run's contact policy flags flow into the rehearsal: --start-at waits, --end-by cuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import MORNING, forecast, rehearse, write_contacts

ONE_EVERY_101_S = ("--rate", "0.01", "--outcomes", "success=1", "--now", MORNING)


def test_end_by_counts_who_is_not_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 100)
    argv = (str(contacts), *ONE_EVERY_101_S, "--end-by", "2026-12-01T14:30:00Z")
    data = forecast(capsys, *argv)
    assert data["states"] == {"success": 18, "cancelled": 82}  # 18 calls in 30 minutes
    assert data["not_reached_by_deadline"] == 82
    _, out, _ = rehearse(capsys, *argv)
    assert "not reached by --end-by: 82 contacts" in out


def test_start_at_delays_every_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 10)
    data = forecast(capsys, str(contacts), *ONE_EVERY_101_S, "--start-at", "2026-12-01T15:00:00Z")
    assert data["placements_per_hour"] == [0, 10]
    assert 3600 + 9 * 100 + 60 < data["duration_s"] < 3600 + 9 * 102 + 70
