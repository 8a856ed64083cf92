"""Journal durability: kills during writes and during creation, and journals it must refuse.

* A process writing a journal as the runner does is SIGKILLed at random moments, again
  and again: every intent and sid it had committed is there after each kill, and the
  journal opens cleanly (WAL recovery, no damage).
* A process creating journal after journal is SIGKILLed: each journal is there whole
  or not at all, never half-made (a file ``run`` refuses and ``resume`` cannot read).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polyout._campaign._journal import Journal

from .helpers import Seeded

pytestmark = pytest.mark.reliability

WRITER = Path(__file__).with_name("journal_writer.py")
ROOT = Path(__file__).parents[2]


def _writer(mode: str, target: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(target)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(process: subprocess.Popen[str], delay: float) -> list[str]:
    """SIGKILL ``process`` after ``delay`` s; the lines it had printed by then."""
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.kill()
    out, err = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, err
    return out.splitlines()


def test_every_committed_write_survives_sigkill(tmp_path: Path, seeded: Seeded) -> None:
    path = tmp_path / "journal.db"
    acknowledged: list[str] = []
    for cycle in range(6):
        delay = seeded.random.uniform(0.4, 0.9)
        acknowledged += _kill_after(_writer("write", path), delay)
        if not path.exists():  # killed while still starting
            assert not acknowledged
            continue
        journal = Journal.open(path)  # refuses a damaged file (quick_check)
        try:
            db = journal._db
            intents = {row[0] for row in db.execute("SELECT contact FROM attempts")}
            sids = {row[0] for row in db.execute("SELECT call_sid FROM attempts")}
            states = dict(db.execute("SELECT state, COUNT(*) FROM contacts GROUP BY state"))
        finally:
            journal.close()
        context = f"seed {seeded.seed}, cycle {cycle} (killed after {delay:.2f} s)"
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
        created += _kill_after(_writer("create", folder), seeded.random.uniform(0.4, 0.9))
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
        patch.setattr(os, "replace", crash)
        with pytest.raises(KeyboardInterrupt):
            Journal.create(path, {"rate": 1.0}, 0.0)
    assert not path.exists()
    Journal.create(path, {"rate": 2.0}, 0.0).close()  # the leftover is no obstacle
    journal = Journal.open(path)
    assert journal.config() == {"rate": 2.0}
    journal.close()
