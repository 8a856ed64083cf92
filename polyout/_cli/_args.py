"""The ``polyout`` command line: every command, its flags, and the types they parse into.

Only argparse lives here: the commands read the resulting namespace. Values that need
the library to check them (a calling window, a time zone) are kept as text and checked
by the command, so that this module stays cheap to import for ``--help``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from polyout._cli._control_args import add_control_commands, canary_flag
from polyout._cli._errors import EXAMPLE_NUMBER, EXIT_CODES_HELP, CliError, ExitCode
from polyout._cli._flag_groups import (
    CALL_POLL_INTERVAL,
    CONCURRENCY,
    RATE,
    common_flags,
    connection_flags,
    deliver_arguments,
    output_flag,
    planning_flags,
    poll_rate_flag,
    run_control_flags,
    running_flags,
    store_flags,
    webhook_flags,
    work_arguments,
)
from polyout._cli._flag_types import bounded_float, bounded_int, parse_metadata
from polyout._cli._rehearse_args import REHEARSE_HELP, rehearse_arguments
from polyout._version import __version__
from polyout.sandbox import add_arguments as add_sandbox_arguments

__all__ = ["build_parser", "parse_metadata"]

_ENVIRONMENT_HELP = """\
environment:
  POLYAI_API_KEY     the API key (preferred to --api-key: a flag shows in ps and history)
  POLYAI_BASE_URL    default for --base-url
  POLYOUT_API        default for --api
  POLYAI_REGION, POLYAI_AGENT_ID, POLYAI_ENVIRONMENT, POLYAI_ACCOUNT_ID, POLYAI_PROJECT_ID
                     defaults for the flags of the same name
  POLYOUT_LOG        debug, info, warning or error: log to stderr at that level (like -v)
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and goes through the CLI's error path."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see {self.prog} --help)", ExitCode.USAGE)


def resume_changes(parser: argparse.ArgumentParser) -> None:
    """What a resumed run may change, and how it runs (``resume``, and ``retry``'s run)."""
    output_flag(parser, "write one result per contact here at the end")
    changes = parser.add_argument_group("changes (everything else is as the journal says)")
    changes.add_argument("--rate", type=RATE, metavar="N", help="calls started per second, at most")
    changes.add_argument(
        "--concurrency", type=CONCURRENCY, metavar="N", help="calls in flight, at most"
    )
    poll_rate_flag(changes)
    changes.add_argument(
        "--requeue-unknown",
        action="store_true",
        help="dial again the contacts left unknown (they may have been rung already)",
    )
    run_control_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    common = common_flags()
    connection = connection_flags()
    # Typed as the base class; subparsers are still _Parser (argparse uses type(self)).
    parser: argparse.ArgumentParser = _Parser(
        prog="polyout",
        description="Place outbound calls through PolyAI's APIs: single calls and campaigns.",
        epilog=EXIT_CODES_HELP + "\n" + _ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"polyout {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        help: str,
        parents: Sequence[argparse.ArgumentParser] = (),
    ) -> argparse.ArgumentParser:
        return parent.add_parser(
            name,
            help=help,
            description=help,
            parents=[common, *parents],
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    call = command(commands, "call", "place one call and print its sid", [connection])
    call.add_argument("number", metavar="NUMBER", help=f"E.164 ({EXAMPLE_NUMBER}), or national")
    call.add_argument("--country-code", metavar="CC", help="ISO country of a national NUMBER")
    call.add_argument(
        "--metadata",
        type=parse_metadata,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="passed to the agent as a SIP header; repeat for more",
    )
    call.add_argument("--wait", action="store_true", help="follow the call until it ends")
    call.add_argument(
        "--poll-interval",
        type=CALL_POLL_INTERVAL,
        default=3.0,
        metavar="DURATION",
        help="with --wait: time between status reads (default: 3s)",
    )
    call.add_argument("--json", action="store_true", help="print one JSON object")

    status = command(commands, "status", "print a call's status", [connection])
    status.add_argument("call_sid", metavar="CALL_SID", help="as printed by polyout call")
    status.add_argument("--json", action="store_true", help="print one JSON object")

    campaign = command(commands, "campaign", "run, resume, report on and validate campaigns")
    campaign_commands = campaign.add_subparsers(
        dest="campaign_command", metavar="SUBCOMMAND", required=True
    )
    contacts_help = (
        "CSV with a header row and a phone column (optional id, country_code, timezone; other "
        "columns become metadata), or JSONL"
    )
    run = command(
        campaign_commands,
        "run",
        "dial every contact of a file, journaled so that it can be resumed",
        [
            connection,
            planning_flags(),
            running_flags(),
            store_flags(),
            webhook_flags(endpoint=True),
        ],
    )
    run.add_argument("contacts", metavar="CONTACTS", help=contacts_help)
    run.add_argument(
        "--journal",
        metavar="PATH",
        help="the campaign's SQLite journal (default: next to CONTACTS, NAME.polyout.db)",
    )
    output_flag(run, "write one result per contact here at the end")
    run_control_flags(run)
    canary_flag(run)

    resume = command(
        campaign_commands,
        "resume",
        "continue a stopped campaign exactly where it stopped",
        [connection, store_flags(), webhook_flags(endpoint=False)],
    )
    resume.add_argument("journal", metavar="JOURNAL", nargs="?")
    resume_changes(resume)

    report = command(
        campaign_commands, "report", "summarise a campaign from its journal", [store_flags()]
    )
    report.add_argument("journal", metavar="JOURNAL", nargs="?")
    output_flag(report, "export every contact's result")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument(
        "--html",
        metavar="PATH",
        help="also write the report as one self-contained HTML page with charts "
        "(needs plotly: pip install 'polyout[report]')",
    )

    export = command(
        campaign_commands,
        "export",
        "copy a journal into one self-contained file, the safe way to move or back it up",
        [store_flags()],
    )
    export.add_argument("journal", metavar="JOURNAL", nargs="?")
    export.add_argument(
        "destination", metavar="DEST", help="the new journal file (must not exist yet)"
    )

    audit = command(
        campaign_commands,
        "audit",
        "export or verify the audit receipts: why each call was allowed when it was made",
        [store_flags()],
    )
    audit.add_argument("journal", metavar="JOURNAL", nargs="?")
    audit.add_argument("--output", metavar="FILE", help="export the receipts as JSON Lines")
    audit.add_argument(
        "--verify", action="store_true", help="check the hash chain (exit 1: the first broken link)"
    )

    rehearse = command(
        campaign_commands, "rehearse", REHEARSE_HELP, [planning_flags(), running_flags()]
    )
    rehearse_arguments(rehearse, contacts_help)

    validate = command(
        campaign_commands,
        "validate",
        "check a contact file before a campaign, dialling nobody",
        [planning_flags(), store_flags()],
    )
    validate.add_argument("contacts", metavar="CONTACTS", help=contacts_help)
    validate.add_argument("--json", action="store_true", help="print the report as JSON")

    # retry works on its round as resume does when no worker is alive: the same flags.
    add_control_commands(
        campaign_commands,
        command,
        run_parents=[connection, webhook_flags(endpoint=False)],
        run_flags=resume_changes,
    )

    work_arguments(
        command(
            campaign_commands,
            "work",
            "join a campaign as one more worker until it is done",
            [connection, store_flags(), webhook_flags(endpoint=False)],
        )
    )
    deliver_arguments(
        command(
            campaign_commands,
            "deliver",
            "send a campaign's undelivered webhook events (signed with POLYOUT_WEBHOOK_SECRET)",
            [store_flags()],
        )
    )

    sandbox = command(commands, "sandbox", "run the local PolyAI API emulator until Ctrl-C")
    add_sandbox_arguments(sandbox)

    demo = command(
        commands,
        "demo",
        "the whole tour with no account: a sandbox, a contact list and a campaign",
    )
    demo.add_argument(
        "--dir",
        default="polyout-demo",
        metavar="PATH",
        help="where the demo writes its files (default: ./%(default)s)",
    )
    demo.add_argument(
        "--contacts",
        type=bounded_int(1, 100_000),
        default=300,
        metavar="N",
        help="(default: %(default)s)",
    )
    demo.add_argument(
        "--speed",
        type=bounded_float(1000),
        default=1.0,
        metavar="X",
        help="run the demo X times faster (default: %(default)s, about half a minute)",
    )
    demo.add_argument("--seed", type=int, default=7, help="outcome seed (default: %(default)s)")
    return parser
