"""Journal durability: kills during writes and during creation, and journals it must refuse.

* A process writing a journal as the runner does is SIGKILLed at random moments, again
  and again: every intent and sid it had committed is there after each kill, and the
  journal opens cleanly (WAL recovery, no damage).
* A process creating journal after journal is SIGKILLed: each journal is there whole
  or not at all, never half-made (a file ``run`` refuses and ``resume`` cannot read).
* Journals damaged at random, or written by a newer polyout: refused with a
  :class:`JournalError` (one clear line from the CLI), never misread or a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from polyout import Client
from polyout._campaign._config import CampaignConfig
from polyout._campaign._errors import JournalError
from polyout._campaign._journal import SCHEMA_VERSION, Journal
from polyout._campaign._results import iter_results
from polyout._campaign._runner import Campaign
from polyout._cli import main
from polyout._cli._errors import ExitCode

from .helpers import Seeded
from .journal_writer import READY

pytestmark = pytest.mark.reliability

WRITER = Path(__file__).with_name("journal_writer.py")
ROOT = Path(__file__).parents[2]
CLOSED = "http://127.0.0.1:9"  # nothing listens: a journal read as sound is never run


def _writer(mode: str, target: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(target)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_inside(process: subprocess.Popen[str], rng: random.Random, lines: int) -> list[str]:
    """SIGKILL ``process`` at a random moment inside the write after its ``lines``-th
    line; every line it printed by then.

    Timed from the writer's ``ready`` (not the spawn, whose import may take a second
    on a loaded machine), and scaled to how long one of its writes took this time: the
    kill lands anywhere in a write, on a quiet machine or a busy one.
    """
    guard = threading.Timer(60, process.kill)  # a writer that hangs fails, never blocks
    guard.start()
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != READY:
            process.kill()
            pytest.fail(f"the writer did not start: {process.communicate(timeout=30)[1]}")
        started = time.monotonic()
        printed = [process.stdout.readline().strip() for _ in range(lines)]
        assert all(printed), "the writer stopped before it was killed"
        one_write = (time.monotonic() - started) / lines
        time.sleep(rng.uniform(0, one_write))
        process.kill()
        out, err = process.communicate(timeout=30)
    finally:
        guard.cancel()
    assert process.returncode == -signal.SIGKILL, err
    return printed + out.splitlines()


def test_every_committed_write_survives_sigkill(tmp_path: Path, seeded: Seeded) -> None:
    path = tmp_path / "journal.db"
    acknowledged: list[str] = []
    for cycle in range(6):
        lines = seeded.random.randint(4, 12)
        acknowledged += _kill_inside(_writer("write", path), seeded.random, lines)
        journal = Journal.open(path)  # refuses a damaged file (quick_check)
        try:
            db = journal._db
            intents = {row[0] for row in db.execute("SELECT contact FROM attempts")}
            sids = {row[0] for row in db.execute("SELECT call_sid FROM attempts")}
            states = dict(db.execute("SELECT state, COUNT(*) FROM contacts GROUP BY state"))
        finally:
            journal.close()
        context = f"seed {seeded.seed}, cycle {cycle} (killed after line {lines})"
        for line in acknowledged:
            kind, seq, *sid = line.split()
            assert int(seq) in intents, f"{context}: committed intent {seq} lost"
            if kind == "placed":
                assert sid[0] in sids, f"{context}: committed sid {sid[0]} lost"
        # At most the one write under way when the kill came is left open.
        assert states.get("dialing", 0) <= 1, (context, states)
    assert len(acknowledged) > 20, "the writer hardly wrote anything before each kill"


def test_a_journal_is_created_whole_or_not_at_all(tmp_path: Path, seeded: Seeded) -> None:
    created: list[str] = []
    for cycle in range(4):
        folder = tmp_path / f"cycle-{cycle}"
        folder.mkdir()
        lines = seeded.random.randint(3, 6)
        created += _kill_inside(_writer("create", folder), seeded.random, lines)
        for path in folder.glob("j*.db"):
            if path.stat().st_size == 0:
                continue  # nothing written yet: run starts afresh over an empty file
            journal = Journal.open(path, owner=False)
            try:
                assert "index" in journal.config(), path
            finally:
                journal.close()
    assert len(created) > 10, "the writer hardly created anything before each kill"


def test_a_crash_before_the_rename_leaves_no_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.db"

    def crash(*_: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(os, "link", crash)  # the journal is linked into place...
        patch.setattr(os, "replace", crash)  # ...or renamed, where links do not exist
        with pytest.raises(KeyboardInterrupt):
            Journal.create(path, {"rate": 1.0}, 0.0)
    assert not path.exists()
    assert not list(tmp_path.iterdir())  # nor a partial file left behind
    Journal.create(path, {"rate": 2.0}, 0.0).close()
    journal = Journal.open(path)
    assert journal.config() == {"rate": 2.0}
    journal.close()


# -- journals that must be refused ------------------------------------------------------------
def _finished_journal(path: Path, contacts: int = 300) -> None:
    journal = Journal.create(path, CampaignConfig(api="agents", environment="live").to_json(), 0.0)
    for seq in range(contacts):
        journal.add_planned(
            seq,
            contact_id=f"c{seq}",
            row=seq + 2,
            to_number=f"+1212{seq:07d}",
            request={"metadata": {"note": "x" * 40}},
            zones=(),
            due=0.0,
            now=0.0,
        )
        attempt = journal.begin_attempt(seq, 1.0)
        journal.record_placed(
            seq,
            attempt,
            call_sid=f"OUT-{seq}",
            call_status="queued",
            correlation_id="corr",
            poll_deadline=100.0,
            now=1.0,
        )
        journal.record_outcome(
            seq,
            attempt,
            outcome="success",
            call_status="completed",
            reason=None,
            error=None,
            retry_at=None,
            now=2.0,
        )
    journal.mark_feed_done()
    journal.close()


def _set_pragma(name: str, value: int) -> Callable[[Path, Seeded], None]:
    def damage(path: Path, _: Seeded) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(f"PRAGMA {name} = {value}")

    return damage


def _sql(statement: str) -> Callable[[Path, Seeded], None]:
    def damage(path: Path, _: Seeded) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(statement)
            db.commit()

    return damage


def _scribble(start: int) -> Callable[[Path, Seeded], None]:
    """Random bytes over a random stretch of the file from ``start`` on."""

    def damage(path: Path, seeded: Seeded) -> None:
        data = bytearray(path.read_bytes())
        offset = seeded.random.randrange(start, min(len(data), start + 60_000))
        length = seeded.random.choice([1, 4, 64, 4096])
        data[offset : offset + length] = seeded.random.randbytes(length)
        path.write_bytes(bytes(data[: len(data)]))

    return damage


def _index_out_of_step(path: Path, _: Seeded) -> None:
    """The unique index on dialable numbers left behind by a change of number: the kind
    of damage SQLite's quick check cannot see, and which would let a number in twice."""
    index = "contacts_dialable_number"

    def edit_schema(old: str, new: str) -> None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA writable_schema = ON")
            db.execute(
                "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE name = ?",
                (old, new, index),
            )
            db.commit()

    edit_schema("WHERE dialable = 1", "WHERE dialable = 2")  # the index now holds no row
    _sql("UPDATE contacts SET to_number = '+12125550199' WHERE seq = 7")(path, _)
    edit_schema("WHERE dialable = 2", "WHERE dialable = 1")


def _truncate(path: Path, seeded: Seeded) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: seeded.random.randrange(1, len(data) - 1)])


def _garbage_wal(path: Path, seeded: Seeded) -> None:
    path.with_name(path.name + "-wal").write_bytes(seeded.random.randbytes(9000))


DAMAGE: dict[str, Callable[[Path, Seeded], None]] = {
    "newer schema": _set_pragma("user_version", SCHEMA_VERSION + 1),
    "much newer schema": _set_pragma("user_version", 2**31 - 1),
    "no schema version": _set_pragma("user_version", 0),
    "negative schema version": _set_pragma("user_version", -1),
    "another application": _set_pragma("application_id", 0x12345678),
    "no config": _sql("DELETE FROM campaign_meta WHERE key = 'config'"),
    "config not JSON": _sql("UPDATE campaign_meta SET value = 'not json' WHERE key = 'config'"),
    "config not an object": _sql("UPDATE campaign_meta SET value = '[1, 2]' WHERE key = 'config'"),
    "config of wrong types": _sql(
        """UPDATE campaign_meta SET value = '{"rate": "fast", "poll_interval": 3}'"""
        " WHERE key = 'config'"
    ),
    "no meta table": _sql("DROP TABLE meta"),
    "no contacts table": _sql("DROP TABLE contacts"),
    "numbers index out of step": _index_out_of_step,
    "scribbled header": _scribble(0),
    "scribbled pages": _scribble(4096),
    "truncated": _truncate,
}


CONNECTION = ("--api-key", "test-key-123", "--agent-id", "PROJECT-1", "--base-url", CLOSED)


def _what_the_library_says(path: Path) -> dict[str, str]:
    """Per command, "ok" if the library reads the journal for it (the results for a
    report, the whole campaign for a resume), else the JournalError's message."""
    said: dict[str, str] = {}
    try:
        store = Journal.open(path, owner=False)
        try:
            config = CampaignConfig.stored(store.config(), path)
        finally:
            store.close()
        results = list(iter_results(path))
        assert config.api == "agents"
        assert len(results) == 300
        said["report"] = "ok"
        client = Client(api_key="test-key", agent_id="PROJECT-1", base_url=CLOSED)
        Campaign.resume(client, path)
        said["resume"] = "ok"
    except JournalError as exc:
        said.setdefault("report", str(exc))
        said["resume"] = str(exc)
    return said


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_or_newer_journal_is_refused_clearly(
    tmp_path: Path, seeded: Seeded, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.db"
    _finished_journal(path)
    DAMAGE[damage](path, seeded)
    said = _what_the_library_says(path)
    context = f"seed {seeded.seed}, {damage}: {said}"
    if "newer" in damage:
        assert "newer polyout" in said["resume"], context
    elif said["resume"] == "ok":
        # Only damage SQLite can prove harmless may pass: bytes in free space, say.
        assert damage.startswith(("scribbled", "truncated")), context
    # A damaged index leaves the rows readable, so a report may still show them; a
    # resume must refuse all the same: that index is what refuses a second dial.
    if damage == "numbers index out of step":
        assert said["report"] == "ok", context
        assert "is damaged" in said["resume"], context
    for command in ("report", "resume"):
        assert "\n" not in said[command], context
        capsys.readouterr()
        with contextlib.redirect_stdout(io.StringIO()):
            flags = CONNECTION if command == "resume" else ()
            code = main(["campaign", command, str(path), *flags])
        err = capsys.readouterr().err
        if said[command] != "ok":
            assert code == ExitCode.USAGE, f"{context}; polyout campaign {command}: {err}"
            assert err.startswith("polyout: error: "), context
            assert err.count("\n") == 1, context
            assert path.name in err, context
        assert "Traceback" not in err, context
        assert "internal error" not in err, context


def test_a_garbage_wal_beside_the_journal_is_ignored(tmp_path: Path, seeded: Seeded) -> None:
    # A WAL whose frames do not check out (not written by SQLite for this file) holds
    # no committed transaction: the journal reads as it was.
    path = tmp_path / "journal.db"
    _finished_journal(path)
    _garbage_wal(path, seeded)
    assert _what_the_library_says(path) == {"report": "ok", "resume": "ok"}
