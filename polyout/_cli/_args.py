"""The ``polyout`` command line: every command, its flags, and the types they parse into.

Only argparse lives here: the commands read the resulting namespace. Values that need
the library to check them (a calling window, a time zone) are kept as text and checked
by the command, so that this module stays cheap to import for ``--help``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import NoReturn

from polyout._apis import API_NAMES, ENVIRONMENTS
from polyout._campaign._config import CampaignConfig
from polyout._cli._durations import duration_text, parse_duration
from polyout._cli._errors import EXIT_CODES_HELP, CliError, ExitCode
from polyout._version import __version__
from polyout.sandbox import add_arguments as add_sandbox_arguments

__all__ = ["build_parser", "parse_metadata"]

#: The library's campaign defaults, shown in --help (the flags default to None: unset
#: flags leave the choice to the library).
_DEFAULTS = CampaignConfig()

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


def parse_metadata(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may contain ``=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _common_flags() -> argparse.ArgumentParser:
    # SUPPRESS as default: the flag works before or after the command without the
    # subcommand's default overwriting what was given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logs on stderr (numbers masked, key never shown); tracebacks on bugs",
    )
    return common


def _connection_flags() -> argparse.ArgumentParser:
    env = os.environ.get
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection (defaults from the environment, see --help)")
    group.add_argument(
        "--api",
        choices=API_NAMES,
        default=env("POLYOUT_API", "agents"),
        help="which PolyAI API to call (default: %(default)s)",
    )
    group.add_argument("--base-url", metavar="URL", help="the API's base URL (or --region)")
    group.add_argument(
        "--region",
        default=env("POLYAI_REGION"),
        help="the documented host for this region: us, eu, uk, studio; us-1, uk-1, euw-1",
    )
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key; prefer POLYAI_API_KEY, a flag is visible to other users",
    )
    group.add_argument(
        "--agent-id", default=env("POLYAI_AGENT_ID"), help="Agents API: the project id"
    )
    group.add_argument(
        "--environment",
        choices=ENVIRONMENTS,
        default=env("POLYAI_ENVIRONMENT", "live"),
        help="Agents API environment (default: %(default)s)",
    )
    group.add_argument("--account-id", default=env("POLYAI_ACCOUNT_ID"), help="Connector API")
    group.add_argument("--project-id", default=env("POLYAI_PROJECT_ID"), help="Connector API")
    return parent


def _planning_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("planning")
    group.add_argument(
        "--rate",
        type=_positive_float,
        metavar="N",
        help=f"calls started per second, at most (default: {_DEFAULTS.rate:g})",
    )
    group.add_argument(
        "--window",
        metavar="HH:MM-HH:MM",
        help="call only between these local times of the callee: 09:00-20:00, "
        "Mon-Fri 09:00-18:00 (default: any time)",
    )
    group.add_argument(
        "--default-timezone",
        metavar="TZ",
        help="IANA zone for numbers whose zone is ambiguous (e.g. America/New_York)",
    )
    group.add_argument(
        "--suppress", metavar="FILE", help="do-not-call list: one number per line, or a CSV"
    )
    return parent


def _running_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("running")
    group.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help=f"calls in flight, at most (default: {_DEFAULTS.concurrency})",
    )
    group.add_argument(
        "--max-attempts",
        type=_positive_int,
        metavar="N",
        help="calls per contact, the first included; no answer, busy and failure are "
        f"retried (default: {_DEFAULTS.max_attempts})",
    )
    group.add_argument(
        "--retry-delay",
        type=parse_duration,
        metavar="DURATION",
        help=f"wait before a retry (default: {duration_text(_DEFAULTS.retry_delay)})",
    )
    group.add_argument(
        "--poll-deadline",
        type=parse_duration,
        metavar="DURATION",
        help="stop following a call this long after placing it: it becomes expired "
        f"(default: {duration_text(_DEFAULTS.poll_deadline)})",
    )
    group.add_argument(
        "--poll-interval",
        type=parse_duration,
        metavar="DURATION",
        help="time between status reads of a call in flight (default: 2s, growing to 5s)",
    )
    return parent


def _run_control_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stopping and progress")
    group.add_argument(
        "--stop-grace",
        type=parse_duration,
        metavar="DURATION",
        help="after the first Ctrl-C, keep following calls in flight this long (default: 1m)",
    )
    group.add_argument(
        "--progress-interval",
        type=parse_duration,
        default=5.0,
        metavar="DURATION",
        help="when stderr is not a terminal: a progress line this often (default: 5s)",
    )


def _output_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help=f"{what} (.jsonl or .csv by extension): the only place with full numbers",
    )


def build_parser() -> argparse.ArgumentParser:
    common = _common_flags()
    connection = _connection_flags()
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
    call.add_argument("number", metavar="NUMBER", help="E.164 (+447700900123), or national")
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
        type=parse_duration,
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
        [connection, _planning_flags(), _running_flags()],
    )
    run.add_argument("contacts", metavar="CONTACTS", help=contacts_help)
    run.add_argument(
        "--journal",
        metavar="PATH",
        help="the campaign's SQLite journal (default: next to CONTACTS, NAME.polyout.db)",
    )
    _output_flag(run, "write one result per contact here at the end")
    _run_control_flags(run)

    resume = command(
        campaign_commands,
        "resume",
        "continue a stopped campaign exactly where it stopped",
        [connection],
    )
    resume.add_argument("journal", metavar="JOURNAL")
    _output_flag(resume, "write one result per contact here at the end")
    changes = resume.add_argument_group("changes (everything else is as the journal says)")
    changes.add_argument(
        "--rate", type=_positive_float, metavar="N", help="calls started per second, at most"
    )
    changes.add_argument(
        "--concurrency", type=_positive_int, metavar="N", help="calls in flight, at most"
    )
    changes.add_argument(
        "--requeue-unknown",
        action="store_true",
        help="dial again the contacts left unknown (they may have been rung already)",
    )
    _run_control_flags(resume)

    report = command(campaign_commands, "report", "summarise a campaign from its journal")
    report.add_argument("journal", metavar="JOURNAL")
    _output_flag(report, "export every contact's result")
    report.add_argument("--json", action="store_true", help="print the report as JSON")

    validate = command(
        campaign_commands,
        "validate",
        "check a contact file before a campaign, dialling nobody",
        [_planning_flags()],
    )
    validate.add_argument("contacts", metavar="CONTACTS", help=contacts_help)
    validate.add_argument("--json", action="store_true", help="print the report as JSON")

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
        "--contacts", type=_positive_int, default=300, metavar="N", help="(default: %(default)s)"
    )
    demo.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="run the demo X times faster (default: %(default)s, about half a minute)",
    )
    demo.add_argument("--seed", type=int, default=7, help="outcome seed (default: %(default)s)")
    return parser
