"""``polyout campaign run | resume | report | validate``.

Each command checks what it can before anything is dialled (flags, the contact file's
header, the suppression list, the journal path), then hands over to the library and
renders what comes back.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from polyout._campaign._addressing import journal_ref
from polyout._campaign._config import CampaignConfig
from polyout._campaign._journal import Journal
from polyout._campaign._planning import Planner, load_suppression_list
from polyout._campaign._preflight import check_contacts
from polyout._campaign._readers import iter_contacts
from polyout._campaign._results import export_results, iter_results
from polyout._campaign._runner import Campaign
from polyout._campaign._schedule import CallingWindow, check_zone
from polyout._campaign._summary import ResultsSummary, summarize_results
from polyout._cli import _interrupt
from polyout._cli._connection import (
    base_url_has_password,
    check_connection,
    client_from_args,
    connection_flags_for_resume,
)
from polyout._cli._drive import RunOutcome, drive
from polyout._cli._errors import CliError, ExitCode, storage_failure
from polyout._cli._render import OPEN_ORDER, open_progress, plural, stdout_console
from polyout._cli._report_view import (
    preflight_json,
    preflight_renderables,
    report_json,
    report_renderables,
    run_renderables,
)
from polyout._cli._runlog import read_runs, record_run
from polyout._client import Client
from polyout._errors import ValidationError
from polyout._phone import normalize_country_code

__all__ = [
    "default_journal_path",
    "finish_run",
    "print_all",
    "print_run_summary",
    "report",
    "resume",
    "run",
    "validate",
]

_RESULT_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")


def default_journal_path(contacts: Path) -> Path:
    """``contacts.csv`` -> ``contacts.polyout.db``, beside it."""
    return contacts.with_name(contacts.stem + ".polyout.db")


# -- run and resume ------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    contacts = Path(args.contacts)
    journal = Path(args.journal) if args.journal else default_journal_path(contacts)
    output = _checked_output(
        args.output, contacts=contacts, journal=journal, suppression_list=args.suppress
    )
    options = _campaign_options(args)
    _check_contacts_file(contacts)
    if _same_file(journal, contacts):
        raise CliError(
            f"--journal {journal} is the contacts file: name the journal another way",
            ExitCode.USAGE,
        )
    if journal.exists() and journal.stat().st_size > 0:
        raise CliError(
            f"{journal} already holds a campaign: continue it with "
            f"'{_resume_command(args, journal)}', or pass --journal with a new path",
            ExitCode.USAGE,
        )
    if not journal.parent.is_dir():
        raise CliError(f"--journal {journal}: the folder {journal.parent} does not exist")
    if not args.journal:
        _note(f"journal: {journal} (the default for {contacts.name}; --journal chooses another)")

    def start(client: Client) -> Campaign:
        return Campaign(client, contacts, journal=journal, **options)

    return _run_campaign(args, journal, output, "run", start)


def resume(args: argparse.Namespace) -> int:
    journal = Path(args.journal)
    output = _checked_output(args.output, journal=journal)
    if not journal.is_file():
        raise CliError(
            f"no campaign journal at {journal}: start a campaign with "
            "'polyout campaign run CONTACTS'",
            ExitCode.USAGE,
        )

    def start(client: Client) -> Campaign:
        return Campaign.resume(
            client,
            journal,
            rate=args.rate,
            concurrency=args.concurrency,
            poll_rate=args.poll_rate,
            stop_grace=args.stop_grace,
            requeue_unknown=args.requeue_unknown,
        )

    return _run_campaign(args, journal, output, "resume", start)


def _run_campaign(
    args: argparse.Namespace,
    journal: Path,
    output: Path | None,
    command: str,
    start: Callable[[Client], Campaign],
) -> int:
    client = client_from_args(args)
    resume_hint = _resume_command(args, journal)
    started_at = datetime.now(timezone.utc)

    async def go(interrupts: _interrupt.Interrupts) -> RunOutcome:
        try:
            campaign = start(client)
        except ValueError as exc:  # a setting the campaign refuses
            raise CliError(str(exc), ExitCode.USAGE) from None
        async with client:
            await check_connection(client)
            view = open_progress(
                f"campaign {command}",
                plain_interval=args.progress_interval,
                resumed=command == "resume",
            )
            return await drive(campaign, interrupts, view)

    try:
        outcome = _interrupt.run(go)
    except _interrupt.Interrupted:
        if command == "run" and not journal.exists():
            raise CliError(
                "interrupted before the campaign started: nothing was dialled",
                ExitCode.INTERRUPTED,
            ) from None
        raise CliError(f"interrupted; to continue: {resume_hint}", ExitCode.INTERRUPTED) from None
    except Exception as exc:
        storage = storage_failure(exc, writing=True)
        if storage is None:
            raise
        if command == "run" and not journal.exists():
            raise CliError(f"{storage}: nothing was dialled", ExitCode.STORAGE) from None
        # Disk full or read-only: not a bug and not bad input; the journal holds every
        # call placed so far, so the way on is to fix the disk and resume.
        raise CliError(
            f"{storage}; sending stopped: fix that, then continue with {resume_hint}",
            ExitCode.STORAGE,
        ) from None
    record_run(
        journal, command=command, started_at=started_at, ended=outcome.ended, stats=outcome.stats
    )
    return finish_run(outcome, journal, output, resume_hint)


def finish_run(outcome: RunOutcome, journal: Path, output: Path | None, resume_hint: str) -> int:
    """Print the summary, export the results, say how to continue; the exit status."""
    summary = print_run_summary(outcome, journal, output)
    if outcome.ended == "failed":
        raise CliError(f"{outcome.error}; to continue: {resume_hint}", ExitCode.API)
    if outcome.ended in ("stopped", "interrupted"):
        unfinished = sum(summary.states.get(state, 0) for state in OPEN_ORDER)
        _note(f"stopped with {plural(unfinished, 'contact')} not final; to continue: {resume_hint}")
        return ExitCode.INTERRUPTED
    _note(
        f"campaign complete; report any time: polyout campaign report {shlex.quote(str(journal))}"
    )
    return ExitCode.ATTENTION if summary.needs_attention else ExitCode.OK


def print_run_summary(outcome: RunOutcome, journal: Path, output: Path | None) -> ResultsSummary:
    """The tables at the end of a run, and the results file if one was asked for."""
    summary = summarize_results(iter_results(journal))
    print_all(stdout_console(), run_renderables(summary, outcome.stats))
    if output is not None:
        export_to(journal, output)
    return summary


def export_to(journal: Path, output: Path) -> None:
    """Write the results file; a disk that cannot take it is one line saying where they are."""
    try:
        count = export_results(journal, output)
    except OSError as exc:
        if storage_failure(exc, writing=True) is None:
            raise
        again = shlex.join(["polyout", "campaign", "report", str(journal), "--output", str(output)])
        raise CliError(
            f"cannot write {output}: {exc.strerror or exc}; every result is in {journal}: "
            f"export them with {again}",
            ExitCode.STORAGE,
        ) from None
    _note(f"results: {output} ({plural(count, 'contact')}, full numbers: keep it safe)")


def _campaign_options(args: argparse.Namespace) -> dict[str, Any]:
    """The campaign settings given on the command line; the library's defaults for the rest."""
    if args.window is not None:
        _window(args.window)
    if args.default_timezone is not None:
        _zone(args.default_timezone)
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
    if args.country_code is not None:
        options["default_country"] = _country(args.country_code)
    return options


def _country(code: str) -> str:
    try:
        return normalize_country_code(code)
    except ValidationError as exc:
        raise CliError(f"--country-code: {exc.reason}", ExitCode.USAGE) from None


def _check_contacts_file(path: Path) -> None:
    """Refuse a file that cannot be a contact list before a journal exists for it."""
    items = iter_contacts(path)
    try:
        first = next(items, None)
    finally:
        items.close()
    if first is None:
        raise CliError(f"{path} has no contacts (no rows after the header)", ExitCode.USAGE)


def _checked_output(
    output: str | None,
    *,
    journal: Path,
    contacts: Path | None = None,
    suppression_list: str | None = None,
) -> Path | None:
    """The results file, if it can be written without destroying an input."""
    if output is None:
        return None
    path = Path(output)
    if path.suffix.lower() not in _RESULT_SUFFIXES:
        raise CliError(f"--output {output}: name the results file .jsonl or .csv", ExitCode.USAGE)
    if not path.parent.is_dir():
        raise CliError(f"--output {output}: the folder {path.parent} does not exist")
    inputs = {"the contacts file": contacts, "the journal": journal}
    if suppression_list is not None:
        inputs["the do-not-call list"] = Path(suppression_list)
    for name, other in inputs.items():
        if other is not None and _same_file(path, other):
            raise CliError(
                f"--output {output} is {name}, which the results would overwrite: "
                "name another file",
                ExitCode.USAGE,
            )
    return path


def _same_file(one: Path, other: Path) -> bool:
    """Whether two paths name one file: through links and spellings, as the OS sees it."""
    try:
        return os.path.samefile(one, other)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return one.resolve() == other.resolve()


def _resume_command(args: argparse.Namespace, journal: Path) -> str:
    """The command that continues this campaign; never with the key (it is never stored)."""
    command = ["polyout", "campaign", "resume", str(journal), *connection_flags_for_resume(args)]
    text = shlex.join(command)
    withheld = []
    if args.api_key and not os.environ.get("POLYAI_API_KEY"):
        withheld.append("the key in POLYAI_API_KEY")
    if base_url_has_password(args):
        withheld.append("the URL with its password in POLYAI_BASE_URL instead of --base-url")
    if withheld:
        text += f" (with {' and '.join(withheld)}: it is never stored)"
    return text


def _window(text: str) -> CallingWindow:
    try:
        return CallingWindow.parse(text)
    except ValueError as exc:
        raise CliError(f"--window: {exc}", ExitCode.USAGE) from None


def _zone(name: str) -> str:
    try:
        return check_zone(name)
    except ValueError as exc:
        raise CliError(f"--default-timezone: {exc}", ExitCode.USAGE) from None


# -- report and validate ------------------------------------------------------------------
def report(args: argparse.Namespace) -> int:
    """Reads only: exits 0 once it has reported, whatever the results say."""
    journal = Path(args.journal)
    output = _checked_output(args.output, journal=journal)
    if args.html is not None:  # the page first: without plotly, nothing at all is written
        from polyout._report import html_report

        html_report(journal_ref(journal), args.html)
    store = Journal.open(journal, owner=False)
    try:
        config = CampaignConfig.stored(store.config(), journal)
    finally:
        store.close()
    summary = summarize_results(iter_results(journal))
    runs = read_runs(journal)
    if args.json:
        _print_json(report_json(summary, config, runs))
    else:
        console = stdout_console()
        print_all(console, report_renderables(summary, config, runs))
    if output is not None:
        export_to(journal, output)
    if not summary.complete:
        resume_command = shlex.join(["polyout", "campaign", "resume", str(journal)])
        _note(f"not finished: continue with '{resume_command}'")
    return ExitCode.OK


def validate(args: argparse.Namespace) -> int:
    """Exits 1 when a row is invalid (duplicates and suppressed rows are expected)."""
    window = _window(args.window) if args.window is not None else None
    default_timezone = _zone(args.default_timezone) if args.default_timezone else None
    country = _country(args.country_code) if args.country_code is not None else None
    suppress = load_suppression_list(args.suppress) if args.suppress else frozenset[str]()
    planner = Planner(
        suppress=suppress,
        window=window,
        default_timezone=default_timezone,
        default_country=country,
    )
    preflight = check_contacts(
        iter_contacts(args.contacts),
        planner,
        rate=args.rate or CampaignConfig().rate,
        now=datetime.now(timezone.utc),
    )
    if args.json:
        _print_json(preflight_json(preflight, args.contacts))
    else:
        console = stdout_console()
        print_all(console, preflight_renderables(preflight, args.contacts))
    return ExitCode.ATTENTION if preflight.invalid else ExitCode.OK


def print_all(console: Console, renderables: Iterable[RenderableType]) -> None:
    for index, renderable in enumerate(renderables):
        if index:
            console.print()
        console.print(renderable)


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2, default=str), flush=True)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
