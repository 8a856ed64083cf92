"""``polyout campaign run | resume``, and what every campaign run shares (``work`` too).

Each command checks what it can before anything is dialled (flags, the contact file's
header, the suppression list, where the campaign lives), then hands over to the library
and renders what comes back. A campaign is named by REF (``_campaign_ref``): a journal
path, or ``--store URL --campaign NAME``; every command printed for the operator names
it that way, with the store's password as ``***``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from polyout._campaign._addressing import StoreKind, StoreRef, journal_ref, opened_campaign
from polyout._campaign._engine import Phase
from polyout._campaign._results import ResultsFile, stored_results
from polyout._campaign._runner import Campaign
from polyout._campaign._summary import ResultsSummary, summarize_stored
from polyout._cli import _interrupt
from polyout._cli._campaign_ref import (
    campaign_command,
    campaign_exists,
    ref_from_args,
    runs_anchor,
    worker_name,
)
from polyout._cli._checked_input import (
    check_contacts_file,
    checked_country,
    checked_output,
    checked_window,
    checked_zone,
    same_file,
)
from polyout._cli._commands_control import canary_report, lift_pause
from polyout._cli._commands_deliver import hook_options, outbox_note
from polyout._cli._connection import (
    base_url_has_password,
    check_connection,
    client_from_args,
    connection_flags_for_resume,
)
from polyout._cli._control_args import control_options
from polyout._cli._drive import RunOutcome, drive
from polyout._cli._errors import CliError, ExitCode, storage_failure
from polyout._cli._policy_args import policy_options
from polyout._cli._policy_recent import confirm_recent_calls
from polyout._cli._render import OPEN_ORDER, open_progress, plural, stdout_console
from polyout._cli._report_view import run_renderables
from polyout._cli._runlog import record_run
from polyout._client import Client

__all__ = [
    "check_store_file_exists",
    "checked_output",
    "default_journal_path",
    "export_to",
    "finish_run",
    "print_all",
    "print_run_summary",
    "resume",
    "run",
    "run_campaign",
]


def default_journal_path(contacts: Path) -> Path:
    """``contacts.csv`` -> ``contacts.polyout.db``, beside it."""
    return contacts.with_name(contacts.stem + ".polyout.db")


# -- run and resume ------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    contacts = Path(args.contacts)
    ref = ref_from_args(args, default_journal=default_journal_path(contacts))
    journal = ref.path if ref.exclusive else None
    output = checked_output(
        args.output, contacts=contacts, journal=journal, suppression_list=args.suppress
    )
    options = _campaign_options(args)
    check_contacts_file(contacts)
    if journal is not None:
        _check_store_file(args, ref, journal, contacts)
    if not ref.journal and _interrupt.run(lambda _: campaign_exists(ref)):
        connection = connection_flags_for_resume(args)
        raise CliError(
            f"{ref} already exists: join it as one more worker with "
            f"'{campaign_command('work', ref, *connection)}', or continue it with "
            f"'{campaign_command('resume', ref, *connection)}'",
            ExitCode.USAGE,
        )
    confirm_recent_calls(args, ref, contacts, options, time.time())
    worker = worker_name()

    def start(client: Client) -> Campaign:
        if ref.journal:
            return Campaign(client, contacts, journal=ref.target, **options)
        return Campaign(
            client, contacts, store=ref.target, name=str(ref.campaign), worker=worker, **options
        )

    code = run_campaign(args, ref, output, "run", start)
    return canary_report(ref, code) if args.canary is not None else code


def _check_store_file(args: argparse.Namespace, ref: StoreRef, path: Path, contacts: Path) -> None:
    flag = "--journal" if ref.journal else "--store"
    if same_file(path, contacts):
        raise CliError(
            f"{flag} {path} is the contacts file: name the journal another way", ExitCode.USAGE
        )
    if ref.journal and path.exists() and path.stat().st_size > 0:
        raise CliError(
            f"{path} already holds a campaign: continue it with "
            f"'{_continue_command(args, ref)}', or pass --journal with a new path",
            ExitCode.USAGE,
        )
    if not path.parent.is_dir():
        raise CliError(f"{flag} {path}: the folder {path.parent} does not exist")
    if ref.journal and not args.journal:
        _note(f"journal: {path} (the default for {contacts.name}; --journal chooses another)")


def resume(args: argparse.Namespace) -> int:
    ref = ref_from_args(args)
    output = checked_output(args.output, journal=ref.path if ref.exclusive else None)
    check_store_file_exists(ref)
    if lift_pause(ref):  # live workers carry on (issue 15): nothing to run here
        return 0
    worker = worker_name()
    changes: dict[str, Any] = {
        "rate": args.rate,
        "concurrency": args.concurrency,
        "poll_rate": args.poll_rate,
        "stop_grace": args.stop_grace,
        "requeue_unknown": args.requeue_unknown,
        **hook_options(args),  # webhook and pre-dial hook
        **control_options(args),  # auto-pause
    }

    def start(client: Client) -> Campaign:
        if ref.journal:
            return Campaign.resume(client, ref.target, **changes)
        return Campaign.resume(
            client, store=ref.target, name=str(ref.campaign), worker=worker, **changes
        )

    return run_campaign(args, ref, output, "resume", start)


def check_store_file_exists(ref: StoreRef) -> None:
    """Refuse a missing SQLite file before connecting (a store would create one)."""
    if ref.exclusive and not ref.path.is_file():
        what = "campaign journal" if ref.journal else "campaign store"
        raise CliError(
            f"no {what} at {ref.path}: start a campaign with 'polyout campaign run CONTACTS'",
            ExitCode.USAGE,
        )


def run_campaign(
    args: argparse.Namespace,
    ref: StoreRef,
    output: Path | None,
    command: str,
    start: Callable[[Client], Campaign],
) -> int:
    """Run the campaign ``start`` makes in front of the operator, then report its end."""
    client = client_from_args(args)
    again = _continue_command(args, ref, "work" if command == "work" else "resume")
    started_at = datetime.now(timezone.utc)
    made: list[Campaign] = []

    async def go(interrupts: _interrupt.Interrupts) -> RunOutcome:
        try:
            campaign = start(client)
        except ValueError as exc:  # a setting the campaign refuses
            raise CliError(str(exc), ExitCode.USAGE) from None
        made.append(campaign)
        async with client:
            await check_connection(client)
            view = open_progress(
                f"campaign {command}",
                plain_interval=args.progress_interval,
                resumed=command != "run",
            )
            return await drive(campaign, interrupts, view)

    def nothing_dialled() -> bool:
        if command != "run":
            return False
        if ref.journal:
            return not ref.path.exists()
        return not made or made[0].phase is Phase.NEW

    try:
        outcome = _interrupt.run(go)
    except _interrupt.Interrupted:
        if nothing_dialled():
            raise CliError(
                "interrupted before the campaign started: nothing was dialled",
                ExitCode.INTERRUPTED,
            ) from None
        raise CliError(f"interrupted; to continue: {again}", ExitCode.INTERRUPTED) from None
    except Exception as exc:
        storage = storage_failure(exc, writing=True)
        if storage is None:
            raise
        if nothing_dialled():
            raise CliError(f"{storage}: nothing was dialled", ExitCode.STORAGE) from None
        # Disk full or read-only: not a bug and not bad input; the journal holds every
        # call placed so far, so the way on is to fix the disk and resume.
        raise CliError(
            f"{storage}; sending stopped: fix that, then continue with {again}",
            ExitCode.STORAGE,
        ) from None
    if made and (note := outbox_note(made[0], ref)) is not None:
        _note(note)
    anchor = runs_anchor(ref)
    if anchor is not None:
        record_run(
            anchor, command=command, started_at=started_at, ended=outcome.ended, stats=outcome.stats
        )
    return finish_run(outcome, ref, output, again)


def finish_run(
    outcome: RunOutcome, ref: StoreRef | Path, output: Path | None, resume_hint: str
) -> int:
    """Print the summary, export the results, say how to continue; the exit status."""
    ref = ref if isinstance(ref, StoreRef) else journal_ref(ref)
    summary = print_run_summary(outcome, ref, output)
    if outcome.ended == "failed":
        raise CliError(f"{outcome.error}; to continue: {resume_hint}", ExitCode.API)
    if outcome.ended in ("stopped", "interrupted"):
        unfinished = sum(summary.states.get(state, 0) for state in OPEN_ORDER)
        _note(f"stopped with {plural(unfinished, 'contact')} not final; to continue: {resume_hint}")
        return ExitCode.INTERRUPTED
    _note(f"campaign complete; report any time: {campaign_command('report', ref)}")
    return ExitCode.ATTENTION if summary.needs_attention else ExitCode.OK


def print_run_summary(
    outcome: RunOutcome, ref: StoreRef | Path, output: Path | None
) -> ResultsSummary:
    """The tables at the end of a run, and the results file if one was asked for."""
    ref = ref if isinstance(ref, StoreRef) else journal_ref(ref)
    summary = _interrupt.run(lambda _: _summary(ref))
    print_all(stdout_console(), run_renderables(summary, outcome.stats))
    if output is not None:
        export_to(ref, output)
    return summary


async def _summary(ref: StoreRef) -> ResultsSummary:
    async with opened_campaign(ref, read_only=True) as (_, stored):
        return await summarize_stored(stored)


def export_to(ref: StoreRef, output: Path) -> None:
    """Write the results file; a disk that cannot take it is one line saying where they are."""
    try:
        count = _interrupt.run(lambda _: _export(ref, output))
    except OSError as exc:
        if storage_failure(exc, writing=True) is None:
            raise
        again = campaign_command("report", ref, "--output", str(output))
        raise CliError(
            f"cannot write {output}: {exc.strerror or exc}; every result is in {ref}: "
            f"export them with {again}",
            ExitCode.STORAGE,
        ) from None
    _note(f"results: {output} ({plural(count, 'contact')}, full numbers: keep it safe)")


async def _export(ref: StoreRef, output: Path) -> int:
    async with opened_campaign(ref, read_only=True) as (_, stored):
        with ResultsFile(output) as results:
            async for result in stored_results(stored):
                results.write(result)
        return results.count


def _campaign_options(args: argparse.Namespace) -> dict[str, Any]:
    """The campaign settings given on the command line; the library's defaults for the rest."""
    if args.window is not None:
        checked_window(args.window)
    if args.default_timezone is not None:
        checked_zone(args.default_timezone)
    names = (
        "rate",
        "concurrency",
        "max_attempts",
        "retry_delay",
        "window",
        "default_timezone",
        "suppress",
        "poll_deadline",
        "poll_interval",
        "poll_rate",
        "stop_grace",
        "retry_timing",
    )
    options = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    options.update(hook_options(args))  # webhook and pre-dial hook
    options.update(control_options(args))  # auto-pause
    options.update(policy_options(args, now=time.time()))  # caps, deadlines, holidays, rules
    if args.country_code is not None:
        options["default_country"] = checked_country(args.country_code)
    return options


def _continue_command(args: argparse.Namespace, ref: StoreRef, verb: str = "resume") -> str:
    """The command that continues this campaign; never with a key or a password."""
    text = campaign_command(verb, ref, *connection_flags_for_resume(args))
    withheld = []
    if args.api_key and not os.environ.get("POLYAI_API_KEY"):
        withheld.append("the key in POLYAI_API_KEY")
    if base_url_has_password(args):
        withheld.append("the URL with its password in POLYAI_BASE_URL instead of --base-url")
    if ref.kind is StoreKind.POSTGRES and ref.shown != ref.target:
        withheld.append("the database password in PGPASSWORD or ~/.pgpass")
    if withheld:
        text += f" (with {' and '.join(withheld)}: it is never stored)"
    return text


def print_all(console: Console, renderables: Iterable[RenderableType]) -> None:
    for index, renderable in enumerate(renderables):
        if index:
            console.print()
        console.print(renderable)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
