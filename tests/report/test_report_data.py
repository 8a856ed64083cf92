"""The report's numbers, on a campaign whose every outcome is known (``campaigns.py``).

The page is built as the command builds it, and its numbers are read back from the
data it embeds: what an operator sees is what these tests pin.
"""

from __future__ import annotations

from typing import Any

import plotly.offline  # type: ignore[import-untyped]
import pytest

from polyout import mask_number
from polyout._campaign._states import ContactState as S
from polyout._campaign._store import CampaignDefinition, ContactEntry, FeedPosition
from polyout._report._data import gather
from polyout._report._html import page
from polyout.campaign import MemoryStore

from .campaigns import LONDON, LOST, NAME, SAN_FRANCISCO, START, known_campaign, page_data

NOW = START.timestamp() + 86400
DEFINITION = CampaignDefinition(
    settings={"rate": 1.0}, connection={"api": "agents"}, suppressed=frozenset(), created_at=NOW
)


@pytest.fixture(scope="module")
def report_page() -> str:
    import asyncio

    async def build() -> str:
        data = await gather(await known_campaign(), now=NOW)
        return page(data, plotly.offline.get_plotlyjs())

    return asyncio.run(build())


@pytest.fixture(scope="module")
def data(report_page: str) -> dict[str, Any]:
    return page_data(report_page)


def test_the_outcome_breakdown_counts_every_contact_in_display_order(data: dict[str, Any]) -> None:
    # Per city: 0-6 answered (London's 3 lost its answer), 7 no answer, 8 busy, 9 failure.
    assert data["states"] == {
        "success": 13,
        "no_answer": 2,
        "busy": 2,
        "failure": 2,
        "unknown": 1,
        "invalid": 1,
    }
    assert list(data["states"]) == ["success", "no_answer", "busy", "failure", "unknown", "invalid"]
    assert data["total"] == 21
    assert data["name"] == NAME


def test_placements_are_counted_per_minute_with_every_attempt(data: dict[str, Any]) -> None:
    # 19 first calls in the first 20 seconds (the lost answer is no placement, the
    # invalid row is never sent), then the 6 unanswered twice, ten minutes after their end.
    assert data["placements"] == 25
    assert data["possibly_placed"] == 1
    by_minute = {int(minute): n for minute, n in data["placements_by_minute"].items()}
    first = int(START.timestamp() // 60)
    assert by_minute[first] == 19
    assert sum(by_minute.values()) == 25
    assert all(first + 11 <= minute <= first + 13 for minute in set(by_minute) - {first})
    assert data["settings"]["rate"] == 1.0  # the line the chart draws: 60 a minute


def test_answer_rates_by_local_hour_and_country(data: dict[str, Any]) -> None:
    hours = data["by_local_hour"]
    # London is on GMT in early March: 09:xx; San Francisco on PST: 01:xx.
    assert hours[9] == [12, 6]
    assert hours[1] == [13, 7]
    assert sum(placed for placed, _ in hours) == 25
    assert data["by_country"] == {"GB": [10, 12, 6], "US": [10, 13, 7]}


def test_attempts_and_time_to_final(data: dict[str, Any]) -> None:
    assert data["attempts"] == {"0": 1, "1": 14, "2": 6}
    bins = dict(zip(data["duration_bins"], data["time_to_final"], strict=True))
    # A lost answer is final at once; a call of a minute ends within its polls; a
    # second attempt ten minutes after the first call's end.
    assert bins["< 1 min"] == 1
    assert bins["1-2 min"] == 13
    assert bins["10-30 min"] == 6
    assert sum(data["time_to_final"]) == 20


def test_contacts_needing_attention_are_listed_with_masked_numbers(
    data: dict[str, Any], report_page: str
) -> None:
    assert data["attention_counts"] == {"unknown": 1, "failure": 2, "invalid": 1}
    rows = {row["contact_id"]: row for row in data["attention"]}
    assert rows["c3"]["state"] == "unknown"
    assert rows["c3"]["number"] == mask_number(LOST)
    assert {rows["c9"]["state"], rows["c19"]["state"]} == {"failure"}
    assert rows["c20"]["state"] == "invalid"
    for number in [*LONDON, *SAN_FRANCISCO]:
        assert number not in report_page
        assert number[1:] not in report_page


def test_the_page_is_self_contained_with_plotly_inlined_once(report_page: str) -> None:
    bundle = plotly.offline.get_plotlyjs()
    assert report_page.count(bundle[:200]) == 1
    assert "<script src" not in report_page
    assert "<link" not in report_page
    assert report_page.count("Plotly.newPlot(") == 6
    # The tables are there without JavaScript.
    assert "Contacts that need attention (4)" in report_page
    assert '<th scope="col">setting</th>' in report_page


def test_settings_and_identity_are_shown_and_no_store_history_is_invented(
    data: dict[str, Any], report_page: str
) -> None:
    assert data["settings"]["max_attempts"] == 2
    assert data["connection"]["base_url"] == "fake://polyout.testing"
    if not data["timeline"]["recorded"]:
        assert "429s: not recorded by this store" in report_page


async def test_a_campaign_nothing_was_dialled_for_yet_still_makes_a_page() -> None:
    store = MemoryStore()
    stored = await store.create("later", DEFINITION)
    entries = [
        ContactEntry(seq, f"c{seq}", seq + 2, LONDON[seq], S.SCHEDULED, due=NOW) for seq in range(3)
    ]
    await stored.append(entries, FeedPosition(3, None, True), now=NOW)
    data = await gather(stored, now=NOW)
    text = page(data, "")
    shown = page_data(text)
    assert shown["states"] == {"scheduled": 3}
    assert shown["placements"] == 0
    assert "3 contacts not final" in text
    assert text.count("Plotly.newPlot(") == 6
