"""``polyout campaign pause|cancel|status|suppress|retry`` against a journal, through ``main``.

The journal is made through the store API (contacts in chosen states); a command runs
with no runner on it, or beside one (an SQLite store held open in this process, as a
run holds it). Each test checks what the store holds afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import FeedPosition, StoredCampaign
from polyout._campaign._store_control import CampaignPhase
from polyout._cli import main
from tests.store.scenario import DEFINITION, entry, number, place

S = ContactState
P = CampaignPhase


def _journal(path: Path, outcomes: list[ContactState | None]) -> None:
    """A finished feed of len(outcomes) contacts: None stays scheduled, else placed and ended."""

    async def build() -> None:
        store = SQLiteStore(path)
        try:
            campaign = await store.create("default", DEFINITION)
            entries = [entry(seq) for seq in range(len(outcomes))]
            await campaign.append(entries, FeedPosition(len(entries), "d", True), now=1.0)
            for seq, outcome in enumerate(outcomes):
                if outcome is not None:
                    intent = await place(campaign, seq, f"CA{seq}")
                    await campaign.record_outcome(
                        seq, intent, outcome=outcome, retry_due=None, reason=None, now=20.0
                    )
        finally:
            await store.aclose()

    asyncio.run(build())


def _read(path: Path) -> tuple[dict[ContactState, int], object]:
    async def read() -> tuple[dict[ContactState, int], object]:
        store = SQLiteStore(path, create=False)
        try:
            campaign = await store.open("default")
            return await campaign.counts(), await campaign.control()
        finally:
            await store.aclose()

    return asyncio.run(read())


def test_pause_is_recorded_with_who_and_why_and_status_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [None, None, S.SUCCESS])
    assert main(["campaign", "pause", str(journal), "--reason", "checking the script"]) == 0
    out = capsys.readouterr().out
    assert "paused" in out
    assert f"polyout campaign resume {journal}" in out
    _, control = _read(journal)
    assert control.phase is P.PAUSED  # type: ignore[attr-defined]
    assert control.by.startswith("campaign pause")  # type: ignore[attr-defined]
    assert main(["campaign", "status", str(journal), "--json"]) == 0
    snapshot = json.loads(capsys.readouterr().out)
    assert snapshot["phase"] == "paused"
    assert snapshot["reason"] == "checking the script"
    assert snapshot["states"] == {"scheduled": 2, "success": 1}
    assert snapshot["workers_alive"] == 0
    assert main(["campaign", "status", str(journal)]) == 0
    assert "phase: paused (checking the script, by campaign pause" in capsys.readouterr().out


def test_cancel_with_no_runner_cancels_what_was_not_dialled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [None, None, S.NO_ANSWER])
    assert main(["campaign", "cancel", str(journal), "--reason", "wrong list"]) == 0
    assert "2 contacts not yet dialled are now cancelled" in capsys.readouterr().out
    counts, control = _read(journal)
    assert counts == {S.CANCELLED: 2, S.NO_ANSWER: 1}
    assert control.phase is P.DONE  # type: ignore[attr-defined]
    # cancelled: no resume, no pause (said, exit 2, nothing changed)
    assert main(["campaign", "pause", str(journal)]) == 2
    assert "finished" in capsys.readouterr().err


def test_a_missing_or_foreign_journal_is_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.db"
    assert main(["campaign", "pause", str(missing)]) == 2
    assert "no campaign journal" in capsys.readouterr().err
    assert not missing.exists()
    foreign = tmp_path / "notes.db"
    foreign.write_text("not a journal\n")
    assert main(["campaign", "cancel", str(foreign)]) == 2
    assert "polyout" in capsys.readouterr().err
    assert foreign.read_text() == "not a journal\n"


def test_a_finished_campaign_cannot_be_paused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [S.SUCCESS])
    assert main(["campaign", "pause", str(journal)]) == 2
    assert "finished" in capsys.readouterr().err
    assert _read(journal)[1].phase is P.RUNNING  # type: ignore[attr-defined]


def _beside_a_runner(journal: Path, *argv: str) -> int:
    """``polyout *argv`` while a runner holds the journal (a live worker dials the round)."""

    async def run() -> int:
        runner = SQLiteStore(journal, create=False)
        try:
            await runner.ready()
            return await asyncio.to_thread(main, list(argv))
        finally:
            await runner.aclose()

    return asyncio.run(run())


def test_retry_takes_the_chosen_states_never_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [S.SUCCESS, S.NO_ANSWER, S.BUSY, S.FAILURE])
    # With no worker alive, retry dials the round itself: with no connection it changes nothing.
    monkeypatch.delenv("POLYAI_AGENT_ID", raising=False)
    assert main(["campaign", "retry", str(journal), "--states", "no_answer,busy"]) == 2
    assert "--agent-id is required" in capsys.readouterr().err
    assert _read(journal)[0] == {S.SUCCESS: 1, S.NO_ANSWER: 1, S.BUSY: 1, S.FAILURE: 1}
    retry = ["campaign", "retry", str(journal), "--states"]
    assert _beside_a_runner(journal, *retry, "no_answer,busy") == 0
    assert "2 contacts are scheduled again" in capsys.readouterr().out
    counts, _ = _read(journal)
    assert counts == {S.SUCCESS: 1, S.SCHEDULED: 2, S.FAILURE: 1}
    assert main([*retry, "success"]) == 2
    assert "never" in capsys.readouterr().err


def test_retry_of_unknown_asks_first_and_needs_yes_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [None])

    async def leave_unknown() -> None:
        store = SQLiteStore(journal, create=False)
        campaign: StoredCampaign = await store.open("default")
        due = await campaign.claim_due("w", 50.0, 1)
        await campaign.open_intent("w", 0, after=due[0].intents, now=50.0)
        store.abandon()  # killed between the intent and the answer
        store = SQLiteStore(journal, create=False)
        await (await store.open("default")).recover(60.0)  # what the next run settles
        await store.aclose()

    asyncio.run(leave_unknown())
    args = ["campaign", "retry", str(journal), "--states", "no_answer", "--include-unknown"]
    assert _beside_a_runner(journal, *args) == 2  # pytest's stdin is no terminal
    captured = capsys.readouterr()
    assert "1 people may be rung twice" in captured.out.replace("up to 1 people", "1 people")
    assert "--yes" in captured.err
    assert _beside_a_runner(journal, *args, "--yes") == 0
    assert _read(journal)[0] == {S.SCHEDULED: 1}


def test_suppress_beside_a_runner_lists_the_numbers_and_leaves_contacts_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [None, None])
    dnc = tmp_path / "dnc.txt"
    dnc.write_text(f"{number(1)}\n")

    async def beside_a_runner() -> None:
        runner = SQLiteStore(journal, create=False)
        try:
            campaign = await runner.open("default")
            code = await asyncio.to_thread(
                main, ["campaign", "suppress", str(journal), number(0), str(dnc)]
            )
            assert code == 0
            assert {number(0), number(1)} <= (await campaign.definition()).suppressed
            assert (await campaign.counts()) == {S.SCHEDULED: 2}  # the runner's to withdraw
        finally:
            await runner.aclose()

    asyncio.run(beside_a_runner())
    out = capsys.readouterr().out
    assert "2 numbers are on the campaign's do-not-call list" in out
    assert "withdrawn before their next dial" in out


def test_status_counts_live_workers_beside_a_runner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    _journal(journal, [None])

    async def beside_a_runner() -> None:
        runner = SQLiteStore(journal, create=False)
        try:
            await runner.ready()
            assert (
                await asyncio.to_thread(main, ["campaign", "status", str(journal), "--json"]) == 0
            )
        finally:
            await runner.aclose()

    asyncio.run(beside_a_runner())
    assert json.loads(capsys.readouterr().out)["workers_alive"] == 1


def test_add_is_refused_while_the_campaign_file_is_still_being_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"

    async def half_loaded() -> None:
        store = SQLiteStore(journal)
        campaign = await store.create("default", DEFINITION)
        await campaign.append([entry(0)], FeedPosition(1, "d", False), now=1.0)
        await store.aclose()

    asyncio.run(half_loaded())
    more = tmp_path / "more.csv"
    more.write_text(f"id,phone\nx1,{number(5)}\n")
    assert main(["campaign", "add", str(journal), str(more)]) == 2
    assert "still being loaded" in capsys.readouterr().err
    assert _read(journal)[0] == {S.SCHEDULED: 1}


def test_status_rate_counts_the_sends_of_the_last_minute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "spring.db"
    now = time.time()

    async def build() -> None:
        store = SQLiteStore(journal)
        try:
            campaign = await store.create("default", DEFINITION)
            entries = [entry(seq) for seq in range(6)]
            await campaign.append(entries, FeedPosition(6, "d", True), now=1.0)
            for seq, sent_ago in ((0, 600.0), (1, 30.0), (2, 20.0), (3, 10.0)):
                await place(campaign, seq, f"CA{seq}", now=now - sent_ago)
        finally:
            await store.aclose()

    asyncio.run(build())
    assert main(["campaign", "status", str(journal), "--json"]) == 0
    snapshot = json.loads(capsys.readouterr().out)
    assert snapshot["achieved_rate"] == round(3 / 60, 3)  # three sends in the last minute
    assert snapshot["eta_seconds"] == round(2 / (3 / 60))  # two contacts left at that rate
