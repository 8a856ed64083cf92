"""The journal on its own: refusing what it cannot read safely, enforcing exactly-once, speed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import SCHEMA_VERSION, Journal
from polyout._campaign._results import iter_results

from .helpers import number


def _journal(path: Path, planned: int = 1) -> Journal:
    journal = Journal.create(path, {"rate": 1.0}, now=0.0)
    for seq in range(planned):
        journal.add_planned(
            seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=number(seq),
            request={"metadata": {}},
            zones=(),
            due=0.0,
            now=0.0,
        )
    journal.commit()
    return journal


def test_a_newer_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    _journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="newer polyout"):
        Journal.open(path)


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "j.db"
    path.write_bytes(content)
    with pytest.raises(JournalError):
        Journal.open(path)


def test_another_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (x)")
    with pytest.raises(JournalError, match="not a polyout campaign journal"):
        Journal.open(path)


def test_a_damaged_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    _journal(path, planned=2000).close()
    data = bytearray(path.read_bytes())
    data[8192:12288] = b"\xff" * 4096  # scribble over a page in the middle
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError):
        Journal.open(path)


def test_one_runner_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = _journal(path)
    with pytest.raises(JournalError, match="in use"):
        Journal.open(path)
    reader = Journal.open(path, owner=False)  # exporting results needs no lock
    reader.close()
    journal.close()
    Journal.open(path).close()


def test_the_journal_itself_refuses_a_second_dial_and_illegal_transitions(
    tmp_path: Path,
) -> None:
    journal = _journal(tmp_path / "j.db")
    attempt = journal.begin_attempt(0, now=1.0)
    with pytest.raises(JournalError, match="not scheduled"):
        journal.begin_attempt(0, now=2.0)
    journal.record_placed(
        0, attempt, call_sid="OUT-1", call_status="queued", correlation_id=None,
        poll_deadline=100.0, now=2.0,
    )  # fmt: skip
    with pytest.raises(JournalError, match="never dialled again"):
        journal.record_outcome(
            0, attempt, outcome="success", call_status="completed", reason=None,
            error=None, retry_at=5.0, now=3.0,
        )  # fmt: skip
    db = journal._db
    with pytest.raises(sqlite3.IntegrityError, match="illegal contact state transition"):
        db.execute("UPDATE contacts SET state = 'dialing' WHERE seq = 0")
    with pytest.raises(sqlite3.IntegrityError, match="may have placed a call"):
        db.execute("INSERT INTO attempts (campaign, contact, n, started_at) VALUES (1, 0, 2, 4.0)")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        journal.add_planned(
            1, contact_id="again", row=None, to_number=number(0), request={}, zones=(),
            due=0.0, now=0.0,
        )  # fmt: skip
    journal.close()


def test_batched_state_transitions_are_fast(tmp_path: Path) -> None:
    """At least 5,000 state transitions per second (measured on the batched path)."""
    count = 3000
    journal = _journal(tmp_path / "j.db", planned=count)
    journal._begin()
    for seq in range(count):  # calls in flight, set up in one transaction
        journal._db.execute(
            "UPDATE contacts SET state = 'dialing', tries = 1 WHERE seq = ?", (seq,)
        )
        journal._db.execute(
            "INSERT INTO attempts (campaign, contact, n, started_at) VALUES (1, ?, 1, 0.0)",
            (seq,),
        )
        journal._db.execute(
            "UPDATE contacts SET state = 'in_flight', call_sid = ? WHERE seq = ?",
            (f"OUT-{seq}", seq),
        )
    journal.commit()
    started = time.perf_counter()
    for seq in range(count):
        journal.record_status(0 + seq, 1, call_sid=f"OUT-{seq}", status="calling", now=1.0)
        journal.record_outcome(
            seq, 1, outcome="success", call_status="completed", reason=None, error=None,
            retry_at=None, now=2.0,
        )  # fmt: skip
        if journal.pending_writes >= 2000:
            journal.commit()
    journal.commit()
    elapsed = time.perf_counter() - started
    rate = 2 * count / elapsed
    assert rate > 5000, f"{rate:.0f} transitions/s"
    journal.close()
    assert {result.state for result in iter_results(tmp_path / "j.db")} == {"success"}
