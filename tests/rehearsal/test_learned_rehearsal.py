"""``rehearse --like REF --retry-timing learned`` shows what learned timing changes.

The past campaign (a journal, run by the engine on virtual time) reached its people only
between 15:00 and 16:00 New York time. Rehearsed like it, fixed delays retry a no answer
30 minutes later, when nobody answers; learned timing retries at 15:00, when they do.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import polyout
from polyout.testing import VirtualClock

from .helpers import MORNING, forecast, write_contacts
from .test_retry_timing import START, answered_at_three, people


@pytest.fixture(scope="module")
def past_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    journal = tmp_path_factory.mktemp("learned") / "past.db"

    async def run() -> None:
        async with VirtualClock(start=START) as clock:
            campaign = polyout.Campaign(
                answered_at_three(clock),
                people(300),
                journal=journal,
                rate=1 / 100,
                max_attempts=1,
                window="09:00-18:00",
                clock=clock,
            )
            await campaign.run()

    asyncio.run(run())
    return journal


def test_learned_timing_answers_more_than_fixed_delays_on_a_past_campaign(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = write_contacts(tmp_path / "contacts.csv", 300)
    data = forecast(
        capsys,
        str(contacts),
        "--like",
        str(past_journal),
        "--rate",
        "0.01",
        "--window",
        "09:00-18:00",
        "--max-attempts",
        "3",
        "--retry-delay",
        "30m",
        "--retry-timing",
        "learned",
        "--now",
        MORNING,
    )
    assert data["like"]["calls"] == 300
    assert 15 in data["like"]["hours"]
    learned, fixed = data["states"], data["fixed"]["states"]
    assert learned["success"] > fixed["success"] + 20
    assert data["contacts"] == data["fixed"]["contacts"] == 300


def test_the_rehearsal_store_remembers_the_past_campaign(
    past_journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Started at 16:30, after the day's answering hour: only the past campaign can tell
    learned timing that 15:00 answers, and it does from the very first retry."""
    contacts = write_contacts(tmp_path / "contacts.csv", 20)
    data = forecast(
        capsys,
        str(contacts),
        "--like",
        str(past_journal),
        "--rate",
        "0.01",
        "--window",
        "09:00-18:00",
        "--max-attempts",
        "2",
        "--retry-delay",
        "30m",
        "--retry-timing",
        "learned",
        "--now",
        "2026-12-01T21:30:00Z",  # 16:30 in New York
    )
    assert data["states"] == {"success": 20}
    assert data["fixed"]["states"] == {"no_answer": 20}
