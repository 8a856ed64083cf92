"""The rehearsal checked against arithmetic: with no window, N contacts at rate R take
(N - 1) / R plus one call.

The engine's pacer spaces triggers 1.5% wider than 1 / R (its guard against network
jitter), and its second release waits for the first one's answer (instant here); a call's
end is seen at the next status read. The tolerance is exactly those: nothing else may add
time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import MORNING, forecast, write_contacts

CALL = 2.0  # seconds each call lasts
POLL = 0.1  # seconds between status reads: the end is seen within this
_GUARD = 1.015


@pytest.mark.parametrize(("count", "rate"), [(50, 5.0), (200, 20.0), (30, 0.5), (1, 1.0)])
def test_n_contacts_at_rate_r_take_n_minus_one_over_r_plus_one_call(
    count: int, rate: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", count)
    data = forecast(
        capsys,
        str(contacts),
        "--rate",
        f"{rate:g}",
        "--outcomes",
        "success=1",
        "--call-duration",
        f"{CALL:g}s",
        "--poll-interval",
        f"{POLL:g}s",
        "--now",
        MORNING,
    )
    arithmetic = (count - 1) / rate + CALL
    assert arithmetic <= data["duration_s"]
    assert data["duration_s"] <= (count - 1) * _GUARD / rate + CALL + POLL + 0.01
    assert data["placements"] == count
    assert data["states"] == {"success": count}
    assert sum(data["placements_per_hour"]) == count
