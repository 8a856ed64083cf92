"""A campaign run by ANOTHER process (``polyout campaign run``), for the live-control tests.

It dials the CLI tests' contacts against the slow sandbox (calls of about two seconds) at
six triggers a second; the sandbox's ledger (the real time of each trigger) is the proof.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.conftest import SandboxThread, spawn_polyout, subprocess_env, wait_until_dialling
from tests.cli.contacts import answered, write_csv

CONTACTS = 40
#: The promise: no trigger leaves more than this after ``pause`` returns.
OBEYED_WITHIN = 1.0


def start_run(sandbox: SandboxThread, folder: Path, *ref: str) -> subprocess.Popen[str]:
    """``campaign run`` of CONTACTS answered contacts in ``folder`` (``ref``: where it
    lives, the journal beside the contacts by default), once it dials."""
    contacts = write_csv(folder / "contacts.csv", answered(CONTACTS))
    process = spawn_polyout(
        "campaign",
        "run",
        str(contacts),
        *ref,
        "--rate",
        "6",
        "--poll-interval",
        "0.1",
        "--progress-interval",
        "0.1",
        env=subprocess_env(sandbox.base_url),
    )
    wait_until_dialling(process)
    return process


def trigger_times(sandbox: SandboxThread) -> list[float]:
    return [placement.wall_time for placement in sandbox.sandbox.ledger.placements]


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err
