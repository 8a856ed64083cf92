"""Issue 17, the journal's items: each test is the defect as a user met it.

Against public surfaces: a campaign against the sandbox (its ledger says who was really
called), a campaign in a process of its own killed with SIGKILL, a raw server on
127.0.0.1, and journals edited the way a disk or a person would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from polyout import Client
from polyout._campaign import Campaign, ContactFileError, JournalError, iter_results
from polyout._campaign._contacts import Contact
from polyout._campaign._journal import export_journal
from polyout._cli import main
from polyout.campaign import CampaignDefinition, SQLiteStore

from .conftest import StartRig
from .helpers import SCALE, client_for, contacts

ROOT = Path(__file__).parents[2]
CRASH_RUNNER = Path(__file__).with_name("crash_runner.py")


def _jsonl(path: Path, people: list[Contact]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": person.id, "phone": person.phone}) + "\n" for person in people)
    )
    return path


# -- item 1: the do-not-call list is in the journal from its first moment ----------------------
_SUPPRESSING_RUN = """
import asyncio, sys
from polyout import Client
from polyout._campaign import Campaign
base, journal, contacts, suppress = sys.argv[1:]
async def run():
    async with Client("agents", api_key="k", base_url=base, agent_id="PROJECT-58RP822I") as client:
        await Campaign(client, contacts, journal=journal, suppress=suppress, rate=50).run()
asyncio.run(run())
"""


async def test_a_kill_as_the_journal_appears_never_loses_the_do_not_call_list(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig()
    people = contacts(20)
    source = _jsonl(tmp_path / "contacts.jsonl", people)
    suppress = tmp_path / "dnc.txt"
    # Every contact's number, among enough others that saving them takes a while.
    filler = (f"+1646555{n:04d}" for n in range(10_000))
    suppress.write_text("\n".join([*(p.phone for p in people), *filler]) + "\n")
    process = subprocess.Popen(  # noqa: ASYNC220 (killed at once, never awaited)
        [
            sys.executable,
            "-c",
            _SUPPRESSING_RUN,
            rig.sandbox.base_url,
            str(rig.journal),
            str(source),
            str(suppress),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(20_000):  # kill as soon as the journal is there (at most 20 s)
            if rig.journal.exists() or process.poll() is not None:
                break
            await asyncio.sleep(0.001)
        process.kill()
        process.wait(30)
    finally:
        if process.stderr is not None:
            process.stderr.close()
    assert rig.journal.exists(), "the journal never appeared"
    await Campaign.resume(rig.client, rig.journal, clock=rig.clock).run()
    assert rig.sandbox.ledger.placements_per_number() == {}
    assert {r.state for r in iter_results(rig.journal)} == {"suppressed"}


# -- item 2: one runner per journal, whatever its name -------------------------------------
@pytest.mark.parametrize("link", ["hard link", "symlink"])
async def test_a_second_name_for_a_running_journal_is_refused(
    start_rig: StartRig, tmp_path: Path, link: str
) -> None:
    rig = await start_rig(call_duration=3000.0)
    first = rig.campaign(contacts(30), rate=50.0)
    running = asyncio.create_task(first.run())
    for _ in range(400):
        await asyncio.sleep(0.01)
        if rig.sandbox.ledger.placements:
            break
    other = tmp_path / "other-name.db"
    if link == "hard link":
        os.link(rig.journal, other)
    else:
        other.symlink_to(rig.journal)
    with pytest.raises(JournalError, match="in use"):
        await Campaign.resume(rig.client, other, clock=rig.clock).run()
    first.stop()
    await running
    placed = rig.sandbox.ledger.placements_per_number()
    assert max(placed.values()) == 1


# -- item 3: a main file copied without its -wal is refused; export moves it safely --------
async def _killed_part_way(base_url: str, journal: Path, source: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(CRASH_RUNNER), base_url, str(journal), "start", str(source),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(600):
        await asyncio.sleep(0.05)
        uri = f"file:{journal}?mode=ro"
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(sqlite3.connect(uri, uri=True)) as db,
        ):
            placed = db.execute("SELECT COUNT(*) FROM contacts WHERE state = 'in_flight'")
            if placed.fetchone()[0] >= 10:
                break
    process.kill()
    await process.wait()
    assert process.returncode == -signal.SIGKILL


async def test_a_journal_copied_without_its_wal_is_refused_and_export_moves_it_whole(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig(api="connector", call_duration=1500.0)
    source = _jsonl(tmp_path / "contacts.jsonl", contacts(60))
    await _killed_part_way(rig.sandbox.base_url, rig.journal, source)
    placed_before = rig.sandbox.ledger.placements_per_number()
    assert placed_before

    copied = tmp_path / "copied.db"
    shutil.copyfile(rig.journal, copied)  # the main file only, as a careless mv would
    for _ in range(2):  # and again: a refused try must not make the next one pass
        with pytest.raises(JournalError, match="-wal file is missing"):
            await Campaign.resume(rig.client, copied, clock=rig.clock).run()
    with pytest.raises(JournalError, match="-wal file is missing"):
        list(iter_results(copied))  # the report would be as wrong as the resume

    moved = export_journal(rig.journal, tmp_path / "moved.db")
    assert not Path(f"{moved}-wal").exists()  # noqa: ASYNC240
    await Campaign.resume(rig.client, moved, clock=rig.clock).run()
    results = {r.contact_id: r for r in iter_results(moved)}
    for number_, count in rig.sandbox.ledger.placements_per_number().items():
        person = next(r for r in results.values() if r.to_number == number_)
        assert count <= max(person.attempts, 1), (person, count)
    for number_ in placed_before:  # answered calls in flight were followed, not redialled
        assert rig.sandbox.ledger.placements_per_number()[number_] <= 2


async def test_a_runner_reopening_a_journal_being_read_still_marks_its_main_file_open(
    tmp_path: Path,
) -> None:
    """A reader (a report, a backup, an sqlite3 shell) holding a read transaction keeps
    the WAL out of the main file: the runner waits for it before it writes anything, so
    a copy of the main file alone, taken after a kill -9, is still refused."""
    path = tmp_path / "j.db"
    definition = CampaignDefinition({"rate": 1.0}, {}, frozenset(), 0.0)
    store, _ = await SQLiteStore.create_path(path, definition)
    await store.aclose()  # cleanly closed: no -wal, the main file says nobody has it open

    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM contacts").fetchone()  # a read transaction, held
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, reader.execute, "COMMIT")  # the report finishes a moment later
    try:
        store, _ = await SQLiteStore.open_path(path)
        store.abandon()  # as SIGKILL: the -wal stays beside the main file
    finally:
        reader.close()
    copied = tmp_path / "copied.db"
    shutil.copyfile(path, copied)
    with pytest.raises(JournalError, match="-wal file is missing"):
        await SQLiteStore.open_path(copied)
    assert not Path(f"{copied}-wal").exists()  # noqa: ASYNC240  (refused before connecting)
    store, _ = await SQLiteStore.open_path(path)  # the original, with its -wal, reopens
    await store.aclose()


def test_export_refuses_a_running_journal_and_an_existing_destination(tmp_path: Path) -> None:
    from polyout._campaign._journal import Journal

    path = tmp_path / "j.db"
    journal = Journal.create(path, {"rate": 1.0}, 0.0)
    with pytest.raises(JournalError, match="in use"):
        export_journal(path, tmp_path / "copy.db")
    journal.close()
    (tmp_path / "taken.db").write_text("x")
    with pytest.raises(JournalError, match="already exists"):
        export_journal(path, tmp_path / "taken.db")
    export_journal(path, tmp_path / "copy.db")
    Journal.open(tmp_path / "copy.db").close()


# -- item 5: resume through another connection is refused, naming both -----------------------
async def test_resume_through_another_agent_or_server_is_refused_naming_both(
    start_rig: StartRig,
) -> None:
    rig = await start_rig(call_duration=3000.0)
    campaign = rig.campaign(contacts(5), rate=50.0, stop_grace=0.0)
    campaign.stop()
    await campaign.run()
    other_agent = Client("agents", api_key="k", base_url=rig.sandbox.base_url, agent_id="PROJECT-2")
    with pytest.raises(JournalError) as refused:
        Campaign.resume(other_agent, rig.journal, contacts=contacts(5))
    assert "PROJECT-58RP822I" in str(refused.value)
    assert "PROJECT-2" in str(refused.value)
    other_host = client_for("agents", "http://user:secret@127.0.0.2:9")
    with pytest.raises(JournalError) as refused:
        Campaign.resume(other_host, rig.journal, contacts=contacts(5))
    message = str(refused.value)
    assert rig.sandbox.base_url in message
    assert "http://127.0.0.2:9" in message
    assert "secret" not in message
    Campaign.resume(rig.client, rig.journal, contacts=contacts(5))  # the same one is welcome


# -- item 6: a contact file changed before a resume is refused --------------------------------
async def test_a_contact_file_changed_before_resume_is_refused(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig()
    people = contacts(3000)
    source = _jsonl(tmp_path / "contacts.jsonl", people)
    first = rig.campaign(source, rate=50.0, stop_grace=0.0)
    first_events = first.events()

    async def stop_at_first_dial() -> None:
        async for _ in first_events:
            first.stop()

    watcher = asyncio.create_task(stop_at_first_dial())
    await first.run()
    await watcher
    journaled = len(list(iter_results(rig.journal)))
    assert 0 < journaled < len(people), "the feed must stop part-way for this test"
    _jsonl(source, people[100:])  # the head of the file deleted
    with pytest.raises(JournalError, match="does not start with the items"):
        await rig.resume().run()
    _jsonl(source, people)  # as it was: resumes, and every contact is there
    await rig.resume().run()
    assert {r.contact_id for r in iter_results(rig.journal)} == {p.id for p in people}


# -- item 9: a server that gives one sid twice ---------------------------------------------
@contextlib.asynccontextmanager
async def _one_sid_server() -> AsyncIterator[str]:
    async def trigger(_: web.Request) -> web.Response:
        return web.json_response({"call_sid": "OUT-same-sid"})

    async def status(_: web.Request) -> web.Response:
        return web.json_response({"status": "success", "reason": ""})

    app = web.Application()
    app.router.add_post("/v1/outbound-calling", trigger)
    app.router.add_get("/v1/outbound-calling/{sid}/status", status)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_a_reused_call_sid_makes_the_contact_unknown_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    from polyout._campaign import ScaledClock

    journal = tmp_path / "j.db"
    async with (
        _one_sid_server() as base_url,
        Client("platform", api_key="k", base_url=base_url) as client,
    ):
        campaign = Campaign(
                client, contacts(3), journal=journal, rate=50.0, concurrency=1,
                poll_interval=(20.0, 50.0), clock=ScaledClock(scale=SCALE),
            )  # fmt: skip
        await campaign.run()
    results = {r.contact_id: r for r in iter_results(journal)}
    assert [r.state for r in results.values()] == ["success", "unknown", "unknown"]
    for later in ("c1", "c2"):
        reason = results[later].reason or ""
        assert "OUT-same-sid, already used by contact 'c0'" in reason
        assert results[later].attempts == 1  # it may have rung: never dialled again
    with contextlib.closing(sqlite3.connect(journal)) as db:
        assert db.execute("SELECT COUNT(*) FROM attempts WHERE outcome IS NULL").fetchone()[0] == 0


# -- item 12: reading never fails on a stored value ----------------------------------------
@pytest.mark.parametrize(
    "value", ["1e300", "'inf'", "'nan'", "'-inf'", "'a scribble'", "x'00ff'", "9e15"]
)
async def test_a_strange_stored_time_is_reported_or_refused_never_a_crash(
    start_rig: StartRig, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = await start_rig()
    await rig.campaign(contacts(3, 7), max_attempts=1).run()
    with contextlib.closing(sqlite3.connect(rig.journal)) as db:
        db.execute(f"UPDATE contacts SET next_due = {value}, finished_at = {value} WHERE seq = 0")
        db.execute(f"UPDATE contacts SET first_attempt_at = {value} WHERE seq = 1")
        db.commit()
    list(iter_results(rig.journal))
    capsys.readouterr()
    # The CLI runs its own event loop: from this async test, in a thread of its own.
    code = await asyncio.to_thread(main, ["campaign", "report", str(rig.journal)])
    err = capsys.readouterr().err
    assert code in (0, 1), err
    assert "Traceback" not in err, err
    assert "internal error" not in err, err
    # Resume: handed to store-sqlite (a run resumed over such a journal hung here).


# -- item 23: a contact file that cannot be read leaves no journal behind --------------------
async def test_a_missing_contact_file_leaves_no_journal_to_block_the_retry(
    start_rig: StartRig, tmp_path: Path
) -> None:
    rig = await start_rig()
    source = tmp_path / "later.jsonl"
    with pytest.raises(ContactFileError):
        await rig.campaign(source).run()
    assert not rig.journal.exists()
    _jsonl(source, contacts(2))
    await rig.campaign(source).run()
    assert {r.state for r in iter_results(rig.journal)} == {"success"}
