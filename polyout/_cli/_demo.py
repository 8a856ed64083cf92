"""``polyout demo``: the whole tour in under a minute, with no account and no setup.

A sandbox starts in this process (calls last seconds, not minutes; the server now and
then answers 429, a 500, or cuts a connection), a contact list is written, checked the
way ``campaign validate`` checks it, and dialled by a real campaign with the progress
bar, its journal and results left in the demo folder for ``campaign report``.
"""

from __future__ import annotations

import argparse
import random
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from polyout._campaign._planning import Planner, load_suppression_list
from polyout._campaign._preflight import check_contacts
from polyout._campaign._readers import iter_contacts
from polyout._campaign._runner import Campaign
from polyout._cli import _interrupt
from polyout._cli._commands_campaign import print_all, print_run_summary
from polyout._cli._demo_contacts import DemoContacts, write_demo_contacts
from polyout._cli._drive import RunOutcome, drive
from polyout._cli._errors import ExitCode
from polyout._cli._render import open_progress, stdout_console
from polyout._cli._report_view import preflight_renderables
from polyout._cli._runlog import record_run, runs_path
from polyout._client import Client
from polyout.sandbox import FaultConfig, OutcomeMix, Sandbox, SandboxConfig

__all__ = ["demo"]

_RATE = 30.0  # calls per second the campaign asks for...
_SERVER_LIMIT = 24  # ...and what the sandbox allows: the 429s show the campaign slowing down
_TIME_SCALE = 20.0  # a two-minute call takes six seconds
_JOURNAL = "contacts.polyout.db"
_RESULTS = "results.csv"
_LEFTOVERS = (_JOURNAL, f"{_JOURNAL}-wal", f"{_JOURNAL}-shm", f"{_JOURNAL}-lock", _RESULTS)


def demo(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    journal = folder / _JOURNAL
    _clear_previous_run(folder, journal)
    files = write_demo_contacts(folder, args.contacts, random.Random(args.seed))
    _say(
        f"demo files in {folder}/: {files.contacts.name} ({files.rows} contacts, "
        f"{files.bad_rows} bad rows on purpose), {files.suppress.name} "
        f"({files.suppressed} do-not-call numbers)"
    )
    _say("\n1. the pre-launch check (polyout campaign validate):\n")
    _validate(files)
    _say("\n2. the campaign, against a local sandbox of the PolyAI API (polyout campaign run):\n")
    started_at = datetime.now(timezone.utc)
    outcome = _interrupt.run(lambda interrupts: _run(files, journal, args, interrupts))
    record_run(
        journal, command="demo", started_at=started_at, ended=outcome.ended, stats=outcome.stats
    )
    _say("")
    print_run_summary(outcome, journal, folder / _RESULTS)
    _say("\n3. next: look at what happened, as you would after a real campaign:")
    _say(f"   polyout campaign report {shlex.quote(str(journal))}")
    _say(f"   polyout campaign validate {shlex.quote(str(files.contacts))} --window 09:00-20:00")
    _say("   polyout sandbox --time-scale 20   (a sandbox to point polyout call at)")
    if outcome.ended != "complete":
        _say("the demo was stopped before the end (its sandbox is gone, so there is no resume)")
        return ExitCode.INTERRUPTED
    return ExitCode.OK


def _clear_previous_run(folder: Path, journal: Path) -> None:
    """Remove only what an earlier demo wrote here: a new demo needs a new journal."""
    for name in (*_LEFTOVERS, runs_path(journal).name):
        (folder / name).unlink(missing_ok=True)


def _validate(files: DemoContacts) -> None:
    planner = Planner(suppress=load_suppression_list(files.suppress))
    preflight = check_contacts(
        iter_contacts(files.contacts), planner, rate=_RATE, now=datetime.now(timezone.utc)
    )
    print_all(stdout_console(), preflight_renderables(preflight, str(files.contacts)))


async def _run(
    files: DemoContacts, journal: Path, args: argparse.Namespace, interrupts: _interrupt.Interrupts
) -> RunOutcome:
    speed: float = args.speed
    config = SandboxConfig(
        outcomes=OutcomeMix(completed=0.7, no_answer=0.15, busy=0.07, failed=0.08),
        seed=args.seed,
        time_scale=_TIME_SCALE * speed,
        faults=FaultConfig(
            rate_limit=max(1, round(_SERVER_LIMIT * speed)),
            trigger_500_on=frozenset({7, 61}),  # not placed: the client sends it again
            cut_on=frozenset({97}),  # placed, answer lost: "unknown", never redialled
        ),
    )
    async with Sandbox(config) as sandbox:
        client = Client(
            "connector",
            api_key="demo-key",
            base_url=sandbox.base_url,
            account_id="demo-account",
            project_id="demo-project",
        )
        campaign = Campaign(
            client,
            files.contacts,
            journal=journal,
            rate=_RATE * speed,
            # Calls last seconds here: more of them in flight keep the pace up.
            concurrency=150,
            max_attempts=2,
            retry_delay=4.0 / speed,
            suppress=files.suppress,
            poll_interval=(0.5 / speed, 1.5 / speed),
            stop_grace=10.0 / speed,
        )
        view = open_progress("demo campaign", plain_interval=max(2.0 / speed, 0.5))
        async with client:
            return await drive(campaign, interrupts, view)


def _say(text: str) -> None:
    print(text, file=sys.stdout, flush=True)
