"""Crash loops: ``polyout campaign run`` killed at random moments, resumed each time, until done.

The campaign runs as the operator runs it, in a child process of its own, against a
sandbox in this process (whose ledger is the ground truth). Each cycle starts the
campaign (``run`` until a journal exists, ``resume`` after), waits a random while and
kills it: with SIGKILL (nothing is flushed, nothing cleaned up), or with SIGTERM or
Ctrl-C (once: graceful; twice: at once). Then a last cycle runs to the end, and the
same invariants as an uninterrupted run must hold, relaxed only where a kill can
leave the truth unknowable (an intent cut short may or may not have placed its call).
"""

from __future__ import annotations

import csv
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polyout._cli._errors import ExitCode
from polyout.sandbox import FaultConfig
from tests.cli.conftest import SandboxThread, spawn_polyout, start_sandbox, subprocess_env

from .campaigns import ContactList, contact_list
from .helpers import JournalView, Seeded, assert_no_problems, campaign_problems

pytestmark = pytest.mark.reliability

CONTACTS = 150
KILLS = 10
FINAL_RUN_LIMIT = 90.0  # real seconds for the last, uninterrupted run
STOP_LIMIT = 30.0  # real seconds for a signalled run to exit
CAMPAIGN_FLAGS = (
    "--rate",
    "20",
    "--concurrency",
    "20",
    "--max-attempts",
    "2",
    "--retry-delay",
    "0.3s",
    "--poll-interval",
    "0.05s",
    "--stop-grace",
    "0.3s",
    "--progress-interval",
    "0.2s",
)


@pytest.fixture
def crash_sandbox(seeded: Seeded) -> Iterator[SandboxThread]:
    """Calls last tens of milliseconds; a few triggers fail or are cut after placing."""
    running = start_sandbox(
        time_scale=2000.0,
        seed=seeded.child("sandbox").seed,
        faults=FaultConfig(cut_rate=0.04, trigger_500_rate=0.05, status_error_rate=0.05),
    )
    yield running
    running.stop()


def _write_contacts(folder: Path, people: ContactList) -> tuple[Path, Path]:
    contacts = folder / "contacts.csv"
    with contacts.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "phone", "n"])
        for person in people.contacts:
            writer.writerow([person.id, person.phone, person.metadata.get("n", "")])
    suppress = folder / "do-not-call.txt"
    suppress.write_text("".join(f"{phone}\n" for phone in sorted(people.suppressed)))
    return contacts, suppress


Interrupt = Callable[[subprocess.Popen[str], Seeded], str]


def _sigkill(process: subprocess.Popen[str], _: Seeded) -> str:
    process.kill()
    return "SIGKILL"


def _polite(process: subprocess.Popen[str], seeded: Seeded) -> str:
    """SIGTERM or Ctrl-C, once (graceful stop) or twice (stop at once)."""
    signum = seeded.random.choice([signal.SIGTERM, signal.SIGINT])
    process.send_signal(signum)
    twice = seeded.random.random() < 0.4
    if twice:
        time.sleep(seeded.random.uniform(0.05, 0.3))
        if process.poll() is None:
            process.send_signal(signum)
    return f"{signum.name}{' x2' if twice else ''}"


def _crash_loop(
    sandbox: SandboxThread, folder: Path, seeded: Seeded, interrupt: Interrupt
) -> tuple[ContactList, Path, list[str]]:
    """Interrupt the campaign ``KILLS`` times, then let it finish; what happened, in order."""
    people = contact_list(seeded.child("contacts"), CONTACTS)
    contacts, suppress = _write_contacts(folder, people)
    journal = folder / "contacts.polyout.db"
    env = subprocess_env(sandbox.base_url)
    history: list[str] = []
    kills = 0
    for cycle in range(KILLS * 3):
        if journal.exists():
            argv = ["campaign", "resume", str(journal)]
        else:
            argv = ["campaign", "run", str(contacts), "--suppress", str(suppress)]
            argv += CAMPAIGN_FLAGS
        process = spawn_polyout(*argv, env=env)
        try:
            if kills < KILLS:
                delay = seeded.random.uniform(0.05, 1.2)
                try:
                    process.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    how = interrupt(process, seeded.child(f"cycle-{cycle}"))
                    kills += 1
                    _, err = process.communicate(timeout=STOP_LIMIT)
                    history.append(f"{argv[1]} {how} after {delay:.2f} s -> {process.returncode}")
                    _check_interrupted_exit(process.returncode, err, history)
                    continue
            _, err = process.communicate(timeout=FINAL_RUN_LIMIT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        history.append(f"{argv[1]} -> {process.returncode}")
        assert "Traceback" not in err, "\n".join(history) + "\n" + err
        assert process.returncode in (ExitCode.OK, ExitCode.ATTENTION), (
            "\n".join(history) + "\n" + err
        )
        assert "campaign complete" in err, "\n".join(history) + "\n" + err
        assert kills >= KILLS, "the campaign ended too soon:\n" + "\n".join(history)
        return people, journal, history
    raise AssertionError("the campaign never completed:\n" + "\n".join(history))


def _check_interrupted_exit(code: int, err: str, history: list[str]) -> None:
    """A signalled run ends as interrupted, or finished first, or died before handlers existed."""
    allowed = {
        ExitCode.OK,
        ExitCode.ATTENTION,
        ExitCode.INTERRUPTED,
        -signal.SIGKILL,
        -signal.SIGTERM,  # arrived while Python was still starting
        -signal.SIGINT,  # the same, for Ctrl-C (see below)
    }
    assert code in allowed, "\n".join(history) + "\n" + err
    if code == -signal.SIGINT:
        # main() turns every KeyboardInterrupt into "interrupted" (130): dying of SIGINT
        # means Ctrl-C came while Python was still importing, before polyout's code ran,
        # and Python printed its own traceback. Nothing can have been dialled by then.
        assert err.rstrip().endswith("KeyboardInterrupt"), "\n".join(history) + "\n" + err
        assert "polyout:" not in err, "\n".join(history) + "\n" + err
        return
    assert "Traceback" not in err, "\n".join(history) + "\n" + err


def _assert_invariants(
    sandbox: SandboxThread, people: ContactList, journal: Path, history: list[str], seed: int
) -> None:
    view = JournalView.read(journal)
    placements = list(sandbox.sandbox.ledger.placements)
    context = f"seed {seed}, {dict(view.states())}, runs:\n    " + "\n    ".join(history)
    assert_no_problems(
        campaign_problems(
            view, placements, api="agents", expected_ids=people.ids, interrupted=True
        ),
        context=context,
    )
    assert placements, context


@pytest.mark.parametrize("interrupt", [_sigkill, _polite], ids=["SIGKILL", "SIGTERM-or-Ctrl-C"])
def test_interrupted_at_random_moments_then_resumed_until_done(
    crash_sandbox: SandboxThread, tmp_path: Path, seeded: Seeded, interrupt: Interrupt
) -> None:
    people, journal, history = _crash_loop(crash_sandbox, tmp_path, seeded, interrupt)
    print("\n".join(history))
    _assert_invariants(crash_sandbox, people, journal, history, seeded.seed)
