"""The report of a larger campaign on a real SQLite store, written through the store API
(``large.py``): retries read from the logs, first attempts from the records alone, and
the two agree with what was written. ``python -m tests.report.large 100000`` is the
measurement at scale (seconds, peak RSS, page size)."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyout._campaign._addressing import journal_ref, opened_campaign
from polyout._report._data import gather

from .large import START, write_campaign

CONTACTS = 1000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import asyncio

    path = tmp_path_factory.mktemp("large") / "large.polyout.db"
    asyncio.run(write_campaign(path, CONTACTS))
    return path


async def test_a_larger_campaign_adds_up(store: Path) -> None:
    async with opened_campaign(journal_ref(store), read_only=True) as (_, stored):
        data = await gather(stored, now=START + 86400)
    unknown = CONTACTS // 100  # seq ending 99: the answer lost, no placement
    unanswered = CONTACTS // 4  # seq % 4 == 1: no answer, twice
    answered = CONTACTS - unknown - unanswered
    assert data.states == {"success": answered, "no_answer": unanswered, "unknown": unknown}
    assert data.placements == answered + 2 * unanswered
    assert data.attempts == {1: answered + unknown, 2: unanswered}
    # 20 triggers a second from START: all within its minute; the retries an hour and a
    # minute on.
    first = int(START // 60)
    assert data.placements_by_minute[first] == CONTACTS - unknown
    retries = {m: n for m, n in data.placements_by_minute.items() if m >= first + 61}
    assert sum(retries.values()) == unanswered
    by_country = data.by_country
    assert set(by_country) == {"GB", "US", "FR", "DE", "AU"}
    assert sum(contacts for contacts, _, _ in by_country.values()) == CONTACTS
    assert sum(placed for _, placed, _ in by_country.values()) == data.placements
    assert sum(answered for _, _, answered in by_country.values()) == answered
    assert data.attention_counts == {"unknown": unknown}
