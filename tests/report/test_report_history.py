"""The campaign's own history on the page: pauses, resumes and cancels as the control
commands log them, and 429s when the campaign log holds them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import plotly.offline  # type: ignore[import-untyped]
import pytest

import polyout
from polyout._campaign._addressing import journal_ref, opened_campaign
from polyout._campaign._store_control import Command
from polyout._report._data import gather
from polyout._report._html import page
from polyout._report._timeline import control_timeline
from polyout.testing import LAST_DIGIT, FakePlacer, RateLimited, VirtualClock, scripted

from .campaigns import START, known_campaign, page_data

T0 = START.timestamp()


@pytest.fixture(scope="module")
def report_page() -> str:
    async def build() -> str:
        stored = await known_campaign()
        await stored.command(Command.PAUSE, reason="agent script check", by="ann@ops", now=T0 + 5)
        await stored.command(Command.RESUME, reason=None, by="ann@ops", now=T0 + 65)
        await stored.command(Command.CANCEL, reason="list withdrawn", by="bob@ops", now=T0 + 900)
        # As the control watch logs them: one entry per look that saw any, with how many.
        for at, seen in ((T0 + 10, "3"), (T0 + 11, "1"), (T0 + 70, "2")):
            await stored.log_campaign_event("rate_limited", detail=seen, now=at)
        data = await gather(stored, now=T0 + 86400)
        return page(data, plotly.offline.get_plotlyjs())

    return asyncio.run(build())


def test_pause_resume_and_cancel_are_listed_with_who_and_why(report_page: str) -> None:
    timeline: dict[str, Any] = page_data(report_page)["timeline"]
    assert timeline["recorded"] is True
    events = [(e["at"] - T0, e["kind"], e["by"], e["detail"]) for e in timeline["events"]]
    assert events == [
        (5, "paused", "ann@ops", "agent script check"),
        (65, "resumed", "ann@ops", None),
        (900, "cancelled", "bob@ops", "list withdrawn"),
    ]
    assert "<td>2026-03-02 09:00:05 UTC</td><td>paused</td><td>ann@ops</td>" in report_page
    # The placements chart shades the pause and marks the cancel.
    assert '"text":"paused"' in report_page
    assert '"text":"cancelled"' in report_page


def test_429s_in_the_campaign_log_are_counted_per_minute_and_marked(report_page: str) -> None:
    timeline = page_data(report_page)["timeline"]
    minute = int(T0 // 60)
    assert timeline["rate_limited_by_minute"] == {str(minute): 4, str(minute + 1): 2}
    assert "429s (rate limited)" in report_page
    assert '"name":"429"' in report_page
    assert "429s: none recorded" not in report_page


async def test_a_store_without_a_campaign_log_says_so() -> None:
    timeline = await control_timeline(object())
    assert timeline.recorded is False
    assert timeline.events == ()


async def test_the_429s_a_run_met_are_the_ones_the_page_counts(tmp_path: Path) -> None:
    # A real run on an SQLite journal: its control watch logs the 429s the engine met.
    journal = tmp_path / "storm.polyout.db"
    # 429s by request, not by clock time: the journal's thread is not waited for, and a
    # busy machine's virtual time may leap over a window of clock time.
    storm = scripted({index: RateLimited(retry_after=3.0) for index in range(3, 20)})
    contacts = [polyout.Contact(id=f"c{n}", phone=f"+44207946{n:04d}") for n in range(30)]
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0, trigger_faults=storm)
        campaign = polyout.Campaign(
            cast(polyout.Client, placer),
            contacts,
            journal=journal,
            rate=1.0,
            max_attempts=1,
            clock=clock,
        )
        stats = await campaign.run()
    async with opened_campaign(journal_ref(journal), read_only=True) as (_, stored):
        data = await gather(stored, now=T0 + 86400)
    assert stats.rate_limited > 0
    assert data.timeline.rate_limited == stats.rate_limited
    met = [send.at for send in placer.ledger.sends if isinstance(send.fault, RateLimited)]
    assert all(
        min(met) // 60 <= minute <= max(met) // 60 + 1
        for minute in data.timeline.rate_limited_by_minute
    )
    page_text = page(data, "")
    assert (
        f'<span class="n">{stats.rate_limited}</span><span class="l">429s (rate limited)'
        in page_text
    )
