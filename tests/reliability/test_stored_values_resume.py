"""Issue 17 item 12, the resume side: a journal holding values no run writes is resumed or
refused in one clean line, never a traceback, a bug exit or a run that never ends.

A campaign is stopped after its first call (one contact final, the others scheduled);
each test scribbles one column of a copy of its journal with sqlite3, as a damaged disk or
a hand edit would (a due time of 1e300 or infinity, text or bytes in a number column, a
broken request), then resumes it through ``polyout campaign resume`` and through
``Campaign.resume``. Refused: one line (exit 2, ``JournalError``) and nobody dialled.
Resumed: every contact final, and nobody dialled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from polyout import Campaign, JournalError
from polyout._campaign._journal import FINAL_STATES
from polyout._cli._errors import ExitCode
from tests.cli.conftest import SandboxThread, start_sandbox
from tests.cli.contacts import answered, write_csv

from .helpers import JournalView
from .polyout_runs import client_for, one_error_line, polyout, stop_after_the_first_call

pytestmark = pytest.mark.reliability

#: A resume of the seven contacts left takes about a second; longer than this is a hang.
HANG = 8.0

_UNKNOWN_ZONE = """'["Mars/Olympus_Mons"]'"""

#: (column, SQL value): written on the final contact #0 and the scheduled #2 and #3.
SCRIBBLES = [
    pytest.param("next_due", "1e300", id="due-1e300"),
    pytest.param("next_due", "9e999", id="due-infinity"),
    pytest.param("next_due", "-9e999", id="due-minus-infinity"),
    pytest.param("next_due", "NULL", id="due-null"),  # what SQLite makes of a NaN
    pytest.param("next_due", "'nan'", id="due-text-nan"),
    pytest.param("next_due", "'soon'", id="due-text"),
    pytest.param("next_due", "x'00ff'", id="due-bytes"),
    pytest.param("tries", "'many'", id="tries-text"),
    pytest.param("attempts", "2.5", id="attempts-fraction"),
    pytest.param("created_at", "'yesterday'", id="created-text"),
    pytest.param("first_attempt_at", "1e300", id="first-attempt-1e300"),
    pytest.param("finished_at", "'inf'", id="finished-text-inf"),
    pytest.param("request", "'{not json'", id="request-not-json"),
    pytest.param("zones", _UNKNOWN_ZONE, id="zone-unknown"),
]


@attrs.frozen
class Stopped:
    """A campaign stopped after its first call, and the numbers that run placed."""

    journal: Path
    placed: frozenset[str]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxThread]:
    running = start_sandbox()
    yield running
    running.stop()


def _stop_after_the_first_call(sandbox: SandboxThread, folder: Path, **options: Any) -> Stopped:
    journal = folder / "campaign.db"
    contacts = write_csv(folder / "contacts.csv", answered(8))
    stop_after_the_first_call(sandbox.base_url, contacts, journal, **options)
    states = JournalView.read(journal).states()
    assert states["scheduled"] >= 3, states
    return Stopped(journal, frozenset(sandbox.sandbox.ledger.placements_per_number()))


@pytest.fixture(scope="module")
def stopped(sandbox: SandboxThread, tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    return _stop_after_the_first_call(sandbox, tmp_path_factory.mktemp("stopped"))


#: Open all day but the last minute, where the contacts live (UK numbers).
_ALL_DAY = "00:00-23:59"


@pytest.fixture(scope="module")
def stopped_in_a_window(
    sandbox: SandboxThread, tmp_path_factory: pytest.TempPathFactory
) -> Stopped:
    """The same, with a calling window: resuming it reads every contact's time zones."""
    if datetime.now(ZoneInfo("Europe/London")).time() >= time(23, 57):
        pytest.skip(f"the window {_ALL_DAY} closes for a minute at midnight in London")
    folder = tmp_path_factory.mktemp("stopped-in-a-window")
    return _stop_after_the_first_call(sandbox, folder, window=_ALL_DAY)


def _scribbled(stopped: Stopped, folder: Path, column: str, value: str) -> Path:
    copy = folder / "scribbled.db"
    shutil.copyfile(stopped.journal, copy)  # the run closed it: the main file holds it all
    with contextlib.closing(sqlite3.connect(copy)) as db:
        db.execute(f"UPDATE contacts SET {column} = {value} WHERE seq IN (0, 2, 3)")
        db.commit()
    return copy


def _assert_resumed_cleanly(
    sandbox: SandboxThread, stopped: Stopped, journal: Path, before: int
) -> None:
    view = JournalView.read(journal)
    assert all(contact.state in FINAL_STATES for contact in view.contacts), view.states()
    numbers = [placement.number for placement in sandbox.sandbox.ledger.placements[before:]]
    assert len(numbers) == len(set(numbers)), f"dialled twice: {numbers}"
    assert not set(numbers) & stopped.placed, "a contact the first run called was dialled again"


@pytest.mark.parametrize(("column", "value"), SCRIBBLES)
def test_polyout_resume_over_a_scribbled_value_resumes_or_refuses_in_one_line(
    sandbox: SandboxThread, stopped: Stopped, tmp_path: Path, column: str, value: str
) -> None:
    journal = _scribbled(stopped, tmp_path, column, value)
    before = len(sandbox.sandbox.ledger.placements)
    done = polyout(
        sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200", within=HANG
    )
    assert not done.hung, f"resume neither finished nor refused within {HANG} s:\n{done.err}"
    assert "Traceback" not in done.err, done.err
    if done.code == ExitCode.USAGE:
        one_error_line(done)
        assert len(sandbox.sandbox.ledger.placements) == before  # refused: nobody dialled
        return
    assert done.code in (ExitCode.OK, ExitCode.ATTENTION), done.err
    _assert_resumed_cleanly(sandbox, stopped, journal, before)


@pytest.mark.parametrize(
    ("column", "value"),
    [param for param in SCRIBBLES if param.id in {"due-1e300", "due-text", "tries-text"}],
)
async def test_campaign_resume_over_a_scribbled_value_runs_or_raises_journal_error(
    sandbox: SandboxThread, stopped: Stopped, tmp_path: Path, column: str, value: str
) -> None:
    journal = _scribbled(stopped, tmp_path, column, value)
    before = len(sandbox.sandbox.ledger.placements)
    refused: JournalError | None = None
    async with client_for(sandbox.base_url) as client:
        try:
            resumed = Campaign.resume(client, journal, rate=200.0)
            await asyncio.wait_for(resumed.run(), HANG)
        except JournalError as exc:
            refused = exc
        except asyncio.TimeoutError:
            pytest.fail(f"Campaign.resume(...).run() neither finished nor refused within {HANG} s")
    if refused is not None:
        assert "\n" not in str(refused), refused
        assert len(sandbox.sandbox.ledger.placements) == before  # nobody dialled
        return
    _assert_resumed_cleanly(sandbox, stopped, journal, before)


def test_polyout_resume_in_a_window_over_an_unknown_zone_resumes_or_refuses_in_one_line(
    sandbox: SandboxThread, stopped_in_a_window: Stopped, tmp_path: Path
) -> None:
    journal = _scribbled(stopped_in_a_window, tmp_path, "zones", _UNKNOWN_ZONE)
    before = len(sandbox.sandbox.ledger.placements)
    done = polyout(
        sandbox.base_url, "campaign", "resume", str(journal), "--rate", "200", within=HANG
    )
    if done.code == ExitCode.USAGE:
        assert "zone" in one_error_line(done)
        assert len(sandbox.sandbox.ledger.placements) == before
        return
    assert done.code in (ExitCode.OK, ExitCode.ATTENTION), done.err
    _assert_resumed_cleanly(sandbox, stopped_in_a_window, journal, before)
