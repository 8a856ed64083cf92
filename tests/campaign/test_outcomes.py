"""A campaign run end to end: final states, retries, exclusions, results, events and stats."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from polyout._campaign._contacts import Contact, RowError
from polyout._campaign._events import CampaignEvent, EventKind
from polyout._campaign._results import RESULT_FIELDS, export_results

from .conftest import StartRig
from .helpers import contacts, number


async def test_every_contact_ends_final_and_each_number_is_placed_once(
    start_rig: StartRig,
) -> None:
    rig = await start_rig()
    people = contacts(30)
    summary = await rig.campaign(people).run()
    assert summary.complete
    assert summary.states == {"success": 30}
    assert summary.placed == summary.triggers == 30
    assert rig.placements() == {person.phone: 1 for person in people}
    results = rig.results()
    assert all(result.attempts == 1 and result.call_sid for result in results.values())


async def test_no_answer_busy_and_failure_are_retried_up_to_max_attempts(
    start_rig: StartRig,
) -> None:
    # The Connector API reports no-answer and busy by name (the others say "failure").
    rig = await start_rig(api="connector")
    people = [
        *contacts(3, 0, start=0),  # success
        *contacts(3, 7, start=10),  # no answer
        *contacts(3, 8, start=20),  # busy
        *contacts(3, 9, start=30),  # failure
    ]
    summary = await rig.campaign(people, max_attempts=3).run()
    assert summary.states == {"success": 3, "no_answer": 3, "busy": 3, "failure": 3}
    assert summary.retries == 9 * 2
    placements = rig.placements()
    for person in people:
        expected = 1 if person.phone.endswith("0") else 3
        assert placements[person.phone] == expected
        assert rig.results()[person.id].attempts == expected


async def test_retries_wait_retry_delay(start_rig: StartRig) -> None:
    rig = await start_rig(api="connector")
    await rig.campaign(contacts(2, 7), max_attempts=2, retry_delay=600.0).run()
    for person in contacts(2, 7):
        placed = sorted(p.simulated_time for p in rig.sandbox.ledger.placements_to(person.phone))
        assert len(placed) == 2
        assert placed[1] - placed[0] >= 600.0


async def test_success_is_never_redialled(start_rig: StartRig) -> None:
    rig = await start_rig()
    await rig.campaign(contacts(5), max_attempts=5).run()
    assert set(rig.placements().values()) == {1}


async def test_bad_rows_duplicates_and_suppressed_numbers_are_final_and_never_sent(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig()
    suppression = tmp_path / "dnc.txt"
    suppression.write_text(number(3) + "\n")
    items: list[Contact | RowError] = [
        Contact(id="ok-1", phone=number(1)),
        Contact(id="bad-number", phone="12345"),
        RowError(row=4, reason="unreadable row", contact_id="row-4"),
        Contact(id="dup", phone=number(1)),
        Contact(id="dnc", phone=number(3)),
        Contact(id="bad-meta", phone=number(4), metadata={"x": "a\nb"}),
        Contact(id="ok-2", phone=number(2)),
    ]
    summary = await rig.campaign(items, suppress=suppression).run()
    assert summary.complete
    results = rig.results()
    assert {key: result.state for key, result in results.items()} == {
        "ok-1": "success",
        "bad-number": "invalid",
        "row-4": "invalid",
        "dup": "duplicate",
        "dnc": "suppressed",
        "bad-meta": "invalid",
        "ok-2": "success",
    }
    assert results["bad-number"].to_number == "12345"
    assert results["bad-number"].reason
    assert set(rig.placements()) == {number(1), number(2)}


async def test_suppression_list_may_be_numbers(start_rig: StartRig) -> None:
    rig = await start_rig()
    await rig.campaign(contacts(3), suppress=[number(1)]).run()
    assert rig.results()["c1"].state == "suppressed"
    assert number(1) not in rig.placements()


async def test_contacts_from_a_csv_file_and_an_async_iterable(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig()
    source = tmp_path / "contacts.csv"
    source.write_text("id,phone,booking\n" + "".join(f"f{i},{number(i)},B-{i}\n" for i in range(5)))
    summary = await rig.campaign(source).run()
    assert summary.states == {"success": 5}
    assert {p.metadata.get("booking") for p in rig.sandbox.ledger.placements} == {
        f"B-{i}" for i in range(5)
    }

    async def generate() -> AsyncIterator[Contact]:
        for person in contacts(4, start=100):
            yield person

    other = await start_rig()
    summary = await other.campaign(generate()).run()
    assert summary.states == {"success": 4}


async def test_results_export_as_jsonl_and_csv(start_rig: StartRig, tmp_path: Path) -> None:
    rig = await start_rig()
    await rig.campaign([*contacts(3), Contact(id="bad", phone="nope")]).run()
    jsonl, table = tmp_path / "results.jsonl", tmp_path / "results.csv"
    assert export_results(rig.journal, jsonl) == 4
    assert export_results(rig.journal, table) == 4
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [record["contact_id"] for record in records] == ["c0", "c1", "c2", "bad"]
    assert set(RESULT_FIELDS) <= set(records[0])
    assert records[0]["state"] == "success"
    assert records[0]["call_sid"].startswith("OUT-")
    assert records[0]["finished_at"].endswith("Z")
    assert records[3]["state"] == "invalid"
    assert records[3]["call_sid"] is None
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["state"] for row in rows] == ["success"] * 3 + ["invalid"]
    with pytest.raises(ValueError, match=r"\.jsonl or \.csv"):
        export_results(rig.journal, tmp_path / "results.xlsx")


async def test_events_reach_callbacks_and_async_subscribers(start_rig: StartRig) -> None:
    rig = await start_rig(api="connector")
    seen: list[CampaignEvent] = []
    campaign = rig.campaign(
        [*contacts(2), *contacts(1, 7, start=5), Contact(id="bad", phone="x")],
        max_attempts=2,
        on_event=seen.append,
    )
    subscription = campaign.events()
    streamed: list[CampaignEvent] = []

    async def consume() -> None:
        async for event in subscription:
            streamed.append(event)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await campaign.run()
    await asyncio.wait_for(consumer, 5)
    assert [event.kind for event in streamed] == [event.kind for event in seen]
    kinds = [event.kind for event in seen]
    assert kinds[-1] is EventKind.DONE
    assert kinds.count(EventKind.EXCLUDED) == 1
    assert kinds.count(EventKind.PLACED) == 4  # two, then the no-answer twice
    assert kinds.count(EventKind.RETRY) == 1
    finished = {event.contact_id: event.state for event in seen if event.kind is EventKind.FINISHED}
    assert finished == {"c0": "success", "c1": "success", "c5": "no_answer"}
    assert all(event.at.tzinfo is not None for event in seen)


async def test_stats_snapshot_while_running(start_rig: StartRig) -> None:
    rig = await start_rig()
    snapshots = []

    def on_event(event: CampaignEvent) -> None:
        if event.kind is EventKind.PLACED:
            snapshots.append(campaign.stats())

    campaign = rig.campaign(contacts(40), rate=100.0, on_event=on_event)
    summary = await campaign.run()
    assert summary.complete
    assert summary.finished == summary.total == 40
    assert max(snapshot.in_flight for snapshot in snapshots) >= 1
    assert snapshots[-1].placed == 40
    assert 0 < summary.achieved_rate <= 101
    assert summary.to_json()["complete"] is True
