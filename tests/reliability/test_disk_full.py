"""Issue 17 item 10: a disk that fills, or cannot be written, while creating, running,
resuming or closing a campaign.

The disk is real (``small_disk``: a tmpfs mounted small, or remounted read-only), so
SQLite and the results file get ENOSPC or EROFS from the kernel as they would on a
production host. In every phase the command says what happened in one line (exit 5),
sends nothing it could not journal first, and leaves a journal that ``run`` or
``resume`` accepts once the disk is fixed; the sandbox's ledger then shows nobody
dialled twice, no number from the do-not-call list dialled, and no call placed without
its sid journaled or its contact ``unknown``.
"""

from __future__ import annotations

import asyncio
import csv
import json
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from polyout import Campaign, EventKind, JournalError, iter_results
from polyout._cli._errors import ExitCode
from tests.cli.conftest import (
    SandboxThread,
    spawn_polyout,
    start_sandbox,
    subprocess_env,
    wait_until_dialling,
)
from tests.cli.contacts import answered, number, write_csv

from .helpers import JournalView, assert_no_problems, campaign_problems
from .polyout_runs import client_for, one_error_line, polyout, stop_after_the_first_call
from .small_disk import SmallDisk, small_disk_fixture  # noqa: F401 (a fixture, used by name)

pytestmark = pytest.mark.reliability

FAST = ("--rate", "200", "--poll-interval", "0.05")


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    running = start_sandbox()
    yield running
    running.stop()


def _ledger_problems(sandbox: SandboxThread, journal: Path, ids: list[str]) -> list[str]:
    """Every broken promise, comparing the journal with what the sandbox really placed."""
    view = JournalView.read(journal)
    placements = sandbox.sandbox.ledger.placements
    # interrupted: a call placed just as the disk filled may have lost its sid, and must
    # then be unknown (never silently lost, never dialled again).
    return campaign_problems(view, placements, api="agents", expected_ids=ids, interrupted=True)


def _with_notes(path: Path, people: list[int]) -> Path:
    """A contact file whose metadata (a note each) makes every contact grow the journal."""
    note = "n" * 400
    path.write_text("id,phone,note\n" + "".join(f"c{n},{number(n)},{note}\n" for n in people))
    return path


# -- creation --------------------------------------------------------------------------------
def test_a_do_not_call_list_too_big_for_the_disk_leaves_no_journal_and_the_retry_dials_none_of_it(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    people = answered(20)
    contacts = write_csv(tmp_path / "contacts.csv", people)
    on_the_list = {number(n) for n in people[::4]}
    others = (f"+1{area}555{n:04d}" for area in (646, 718, 917, 347) for n in range(10_000))
    listed = [*on_the_list, *list(others)[: 40_000 - len(on_the_list)]]
    do_not_call = tmp_path / "do-not-call.txt"
    do_not_call.write_text("\n".join(listed) + "\n")
    journal = small_disk.path / "campaign.db"
    run = (
        "campaign",
        "run",
        str(contacts),
        "--journal",
        str(journal),
        "--suppress",
        str(do_not_call),
    )

    refused = polyout(sandbox.base_url, *run, *FAST)
    line = one_error_line(refused)
    assert refused.code == ExitCode.STORAGE, refused.err
    assert line.startswith("polyout: error: cannot write"), line
    assert line.endswith("nothing was dialled"), line
    assert sandbox.placements() == 0
    # Nothing left that `run` would refuse ("resume it") and `resume` would misread.
    assert small_disk.files() == []

    small_disk.resize("4m")
    done = polyout(sandbox.base_url, *run, *FAST)
    assert done.code == ExitCode.OK, done.err
    expected = {number(n): 1 for n in people if number(n) not in on_the_list}
    assert sandbox.sandbox.ledger.placements_per_number() == expected
    assert JournalView.read(journal).states() == Counter(success=15, suppressed=5)


# -- running ---------------------------------------------------------------------------------
def test_a_disk_that_fills_while_dialling_stops_in_one_line_and_resume_dials_nobody_twice(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    people = answered(200)
    ids = [f"c{n}" for n in people]
    contacts = _with_notes(tmp_path / "contacts.csv", people)
    journal = small_disk.path / "campaign.db"
    small_disk.resize("900k")  # the first calls fit; a dozen or so more fill it

    stopped = polyout(
        sandbox.base_url,
        *("campaign", "run", str(contacts), "--journal", str(journal)),
        *("--rate", "50", "--poll-interval", "0.05"),
    )
    line = one_error_line(stopped)
    assert stopped.code == ExitCode.STORAGE, stopped.err
    placed = sandbox.placements()
    assert 0 < placed < len(people), f"the disk must fill part-way through ({placed} placed)"
    assert "nothing was dialled" not in line
    assert line.startswith("polyout: error: cannot write"), line
    assert f"then continue with polyout campaign resume {journal}" in line

    small_disk.resize("20m")
    resumed = polyout(sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200")
    assert resumed.code in (ExitCode.OK, ExitCode.ATTENTION), resumed.err
    assert sandbox.sandbox.ledger.dialled_more_than_once() == {}
    assert_no_problems(_ledger_problems(sandbox, journal, ids), context="disk full while dialling")


def test_a_disk_that_fills_with_only_batched_writes_stops_the_run_at_once(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    # Every contact waits for a window twelve hours away: the run writes nothing durable
    # (no intent), only the feed's batched rows. A batch the disk refused must stop the
    # run then, not leave it waiting half a day over contacts it never stored.
    people = answered(2000)
    contacts = _with_notes(tmp_path / "contacts.csv", people)
    journal = small_disk.path / "campaign.db"
    small_disk.resize("400k")
    later = datetime.now(ZoneInfo("Europe/London")) + timedelta(hours=12)
    later -= timedelta(minutes=5) if later.time() >= time(23, 55) else timedelta()
    window = f"{later:%H:%M}-{later + timedelta(minutes=1):%H:%M}"
    run = ("campaign", "run", str(contacts), "--journal", str(journal), "--window", window)

    stopped = polyout(sandbox.base_url, *run, "--rate", "200", within=20)
    line = one_error_line(stopped)
    assert stopped.code == ExitCode.STORAGE, stopped.err
    assert line.startswith("polyout: error: cannot write"), line
    assert sandbox.placements() == 0
    small_disk.resize("20m")
    report = polyout(sandbox.base_url, "campaign", "report", str(journal), "--json")
    assert report.code == ExitCode.OK, report.err  # what was stored is whole, and readable


async def test_campaign_run_on_a_disk_that_fills_raises_journal_error_and_resumes(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    people = answered(200)
    ids = [f"c{n}" for n in people]
    contacts = _with_notes(tmp_path / "contacts.csv", people)
    journal = small_disk.path / "campaign.db"
    small_disk.resize("900k")
    async with client_for(sandbox.base_url) as client:
        campaign = Campaign(client, contacts, journal=journal, rate=50.0, poll_interval=0.05)
        with pytest.raises(JournalError, match=r"^cannot write"):
            await campaign.run()
        placed = sandbox.placements()
        assert 0 < placed < len(people), f"the disk must fill part-way through ({placed} placed)"

        small_disk.resize("20m")
        await Campaign.resume(client, journal, rate=200.0).run()
    assert sandbox.sandbox.ledger.dialled_more_than_once() == {}
    assert_no_problems(_ledger_problems(sandbox, journal, ids), context="Campaign on a full disk")


def test_resume_after_a_kill_on_a_full_disk_dials_nobody_then_finishes_once_freed(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    # A kill -9 leaves intents open and calls in flight; the resume must settle them
    # (a write) before it sends anything, so on a full disk it sends nothing at all.
    slow = start_sandbox(time_scale=60.0)  # calls last a few seconds: in flight at the kill
    try:
        people = answered(30)
        journal = small_disk.path / "campaign.db"
        small_disk.resize("2m")
        contacts = write_csv(tmp_path / "contacts.csv", people)
        process = spawn_polyout(
            *("campaign", "run", str(contacts), "--journal", str(journal)),
            *("--rate", "20", "--poll-interval", "0.1", "--progress-interval", "0.05"),
            env=subprocess_env(slow.base_url),
        )
        wait_until_dialling(process)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
        placed = slow.placements()
        small_disk.fill()

        refused = polyout(slow.base_url, "campaign", "resume", str(journal), "--rate", "200")
        line = one_error_line(refused)
        assert refused.code == ExitCode.STORAGE, refused.err
        assert line.startswith("polyout: error: cannot write"), line
        assert slow.placements() == placed  # nothing sent before the journal could say so

        small_disk.free()
        resumed = polyout(slow.base_url, "campaign", "resume", str(journal), "--rate", "200")
        assert resumed.code in (ExitCode.OK, ExitCode.ATTENTION), resumed.err
        assert slow.sandbox.ledger.dialled_more_than_once() == {}
        ids = [f"c{n}" for n in people]
        assert_no_problems(_ledger_problems(slow, journal, ids), context="killed, full disk")
    finally:
        slow.stop()


# -- closing ---------------------------------------------------------------------------------
@attrs.frozen
class _ExportRefused:
    journal: Path
    results: Path
    line: str


def _run_onto_a_full_disk(sandbox: SandboxThread, disk: SmallDisk, folder: Path) -> _ExportRefused:
    """A campaign that completes, then finds no room for its ``--output``."""
    contacts = write_csv(folder / "contacts.csv", answered(10))
    journal = folder / "campaign.db"
    results = disk.path / "results.csv"
    disk.fill()
    run = ("campaign", "run", str(contacts), "--journal", str(journal), "--output", str(results))
    done = polyout(sandbox.base_url, *run, *FAST)
    line = one_error_line(done)
    assert done.code == ExitCode.STORAGE, done.err
    assert sandbox.placements() == 10
    return _ExportRefused(journal, results, line)


def test_results_that_cannot_be_written_stop_in_one_line_and_are_exported_later(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    refused = _run_onto_a_full_disk(sandbox, small_disk, tmp_path)
    assert refused.line.startswith("polyout: error: cannot write"), refused.line
    assert "nothing was dialled" not in refused.line

    report = polyout(sandbox.base_url, "campaign", "report", str(refused.journal), "--json")
    assert report.code == ExitCode.OK, report.err
    assert json.loads(report.out)["states"] == {"success": 10}

    small_disk.free()
    export = ("campaign", "report", str(refused.journal), "--output", str(refused.results))
    assert polyout(sandbox.base_url, *export).code == ExitCode.OK
    assert sandbox.placements() == 10  # nobody dialled again
    with refused.results.open(newline="", encoding="utf-8") as file:
        assert len(list(csv.DictReader(file))) == 10


def test_results_that_cannot_be_written_are_named_and_leave_nothing_half_written(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    refused = _run_onto_a_full_disk(sandbox, small_disk, tmp_path)
    assert small_disk.files() == [], "a half-written results file was left behind"
    assert str(refused.results) in refused.line, "the line must name the file it could not write"
    # ...and where the results are safe, with the command that exports them again.
    assert f"polyout campaign report {refused.journal} --output" in refused.line


async def test_a_disk_full_as_the_campaign_closes_keeps_it_reportable_and_resumable(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    people = answered(30)
    ids = [f"c{n}" for n in people]
    contacts = write_csv(tmp_path / "contacts.csv", people)
    journal = small_disk.path / "campaign.db"
    small_disk.resize("2m")
    async with client_for(sandbox.base_url) as client:
        campaign = Campaign(client, contacts, journal=journal, rate=200.0, poll_interval=0.05)
        events = campaign.events()

        async def fill_at_the_last_result() -> None:
            finished = 0
            async for event in events:
                finished += event.kind is EventKind.FINISHED
                if event.kind is EventKind.FINISHED and finished == len(people):
                    small_disk.fill()  # what the close writes (the final commit, the checkpoint)

        filling = asyncio.create_task(fill_at_the_last_result())
        said: JournalError | None = None
        try:
            await campaign.run()
        except JournalError as exc:
            said = exc
        await filling
        if said is not None:  # allowed: a disk that refused the close is said, not a crash
            assert str(said).startswith("cannot write"), said
        # Reportable while the disk is still full.
        assert Counter(r.state for r in iter_results(journal)) == {"success": len(people)}

        small_disk.free()
        await Campaign.resume(client, journal).run()
    assert sandbox.placements() == len(people)
    assert_no_problems(_ledger_problems(sandbox, journal, ids), context="disk full at the close")


# -- a read-only disk --------------------------------------------------------------------------
def _stopped_then_read_only(sandbox: SandboxThread, disk: SmallDisk, folder: Path) -> Path:
    """A campaign stopped after its first call, closed cleanly, on a disk then made read-only."""
    journal = disk.path / "campaign.db"
    disk.resize("2m")
    stop_after_the_first_call(sandbox.base_url, write_csv(folder / "c.csv", answered(8)), journal)
    disk.read_only(True)
    return journal


def test_resume_on_a_read_only_disk_dials_nobody_and_resumes_once_writable(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    journal = _stopped_then_read_only(sandbox, small_disk, tmp_path)
    placed = sandbox.placements()
    refused = polyout(sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200")
    one_error_line(refused)
    assert refused.code in (ExitCode.USAGE, ExitCode.STORAGE), refused.err
    assert sandbox.placements() == placed  # no intent can be written: nobody is dialled

    small_disk.read_only(False)
    resumed = polyout(sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200")
    assert resumed.code == ExitCode.OK, resumed.err
    ids = [f"c{n}" for n in answered(8)]
    assert_no_problems(_ledger_problems(sandbox, journal, ids), context="read-only disk")


def test_resume_on_a_read_only_disk_says_it_cannot_write(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    journal = _stopped_then_read_only(sandbox, small_disk, tmp_path)
    refused = polyout(sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200")
    line = one_error_line(refused)
    assert refused.code == ExitCode.STORAGE, refused.err
    assert line.startswith(f"polyout: error: cannot write the journal {journal}"), line


def test_a_journal_on_a_read_only_disk_is_reported_and_exported(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    journal = _stopped_then_read_only(sandbox, small_disk, tmp_path)
    report = polyout(sandbox.base_url, "campaign", "report", str(journal), "--json")
    assert report.code == ExitCode.OK, report.err  # reading needs no writing
    assert json.loads(report.out)["states"]["scheduled"] >= 3
    copy = tmp_path / "copy.db"
    exported = polyout(sandbox.base_url, "campaign", "export", str(journal), str(copy))
    assert exported.code == ExitCode.OK, exported.err
    assert Counter(r.state for r in iter_results(copy)) == JournalView.read(copy).states()


def test_a_campaign_created_on_a_read_only_disk_says_it_cannot_write_and_dials_nobody(
    sandbox: SandboxThread, small_disk: SmallDisk, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(3))
    journal = small_disk.path / "campaign.db"
    small_disk.read_only(True)
    refused = polyout(sandbox.base_url, "campaign", "run", str(contacts), "--journal", str(journal))
    line = one_error_line(refused)
    assert sandbox.placements() == 0
    assert small_disk.files() == []
    assert refused.code == ExitCode.STORAGE, refused.err
    assert line.startswith(f"polyout: error: cannot write the journal {journal}"), line
    assert line.endswith("nothing was dialled"), line
