"""The flags several commands share, as argparse parents and groups.

Each numeric or duration flag has bounds (see ``_flag_types``): the value is refused
while parsing, with the flag named, before anything is dialled.
"""

from __future__ import annotations

import argparse
import os

from polyout._apis import API_NAMES, ENVIRONMENTS
from polyout._campaign._config import CampaignConfig
from polyout._cli._durations import duration_text
from polyout._cli._flag_types import bounded_duration, bounded_float, bounded_int
from polyout._cli._policy_args import add_policy_flags
from polyout._metrics import metrics_host, metrics_port

__all__ = [
    "CALL_POLL_INTERVAL",
    "CONCURRENCY",
    "RATE",
    "common_flags",
    "connection_flags",
    "output_flag",
    "planning_flags",
    "poll_rate_flag",
    "run_control_flags",
    "running_flags",
    "store_flags",
    "work_arguments",
]

#: The library's campaign defaults, shown in --help (the flags default to None: unset
#: flags leave the choice to the library).
_DEFAULTS = CampaignConfig()

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0
# Bounds: wide enough for any real campaign, narrow enough that a typo (1e12, 0) is
# caught here rather than as a crash, a year-long sleep or a poll loop with no pause.
RATE = bounded_float(10_000)
CONCURRENCY = bounded_int(1, 100_000)
_ATTEMPTS = bounded_int(1, 100)
_RETRY_DELAY = bounded_duration(0, 7 * _DAY)
_POLL_DEADLINE = bounded_duration(1, _DAY)
#: A status read of the same call more often than this helps nobody; 0 would never pause.
CALL_POLL_INTERVAL = bounded_duration(0.01, 10 * _MINUTE)
_STOP_GRACE = bounded_duration(0, 6 * _HOUR)
_PROGRESS_INTERVAL = bounded_duration(0, _HOUR)
_POLL_RATE = bounded_float(10_000)


def common_flags() -> argparse.ArgumentParser:
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


def connection_flags() -> argparse.ArgumentParser:
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


def planning_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("planning")
    group.add_argument(
        "--rate",
        type=RATE,
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
    group.add_argument(
        "--country-code",
        metavar="CC",
        help="ISO country for rows whose number is national and that name no country "
        "(e.g. US reads 4155551000 as +14155551000)",
    )
    add_policy_flags(parent.add_argument_group("contact policy (across the store's campaigns)"))
    return parent


def running_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("running")
    group.add_argument(
        "--concurrency",
        type=CONCURRENCY,
        metavar="N",
        help=f"calls in flight, at most (default: {_DEFAULTS.concurrency})",
    )
    group.add_argument(
        "--max-attempts",
        type=_ATTEMPTS,
        metavar="N",
        help="calls per contact, the first included; no answer, busy and failure are "
        f"retried (default: {_DEFAULTS.max_attempts})",
    )
    group.add_argument(
        "--retry-delay",
        type=_RETRY_DELAY,
        metavar="DURATION",
        help=f"wait before a retry, 0s to 7d (default: {duration_text(_DEFAULTS.retry_delay)})",
    )
    group.add_argument(
        "--poll-deadline",
        type=_POLL_DEADLINE,
        metavar="DURATION",
        help="stop following a call this long after placing it: it becomes expired; "
        f"1s to 1d (default: {duration_text(_DEFAULTS.poll_deadline)})",
    )
    group.add_argument(
        "--poll-interval",
        type=CALL_POLL_INTERVAL,
        metavar="DURATION",
        help="time between status reads of a call in flight, 10ms to 10m "
        "(default: 2s, growing to 5s)",
    )
    poll_rate_flag(group)
    group.add_argument(
        "--retry-timing",
        choices=("fixed", "learned"),
        help="learned: retry no answer and busy at the callee-local hour that answers best "
        "so far, inside the window (default: fixed, after --retry-delay)",
    )
    return parent


def poll_rate_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--poll-rate",
        type=_POLL_RATE,
        metavar="N",
        help="status reads per second, at most, for accounts with a known limit "
        "(default: enough for every call in flight)",
    )


def run_control_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stopping and progress")
    group.add_argument(
        "--stop-grace",
        type=_STOP_GRACE,
        metavar="DURATION",
        help="after the first Ctrl-C, keep following calls in flight this long, 0s to 6h "
        "(default: 1m)",
    )
    group.add_argument(
        "--progress-interval",
        type=_PROGRESS_INTERVAL,
        default=5.0,
        metavar="DURATION",
        help="when stderr is not a terminal: a progress line this often (default: 5s)",
    )

    auto_pause_flags(parser)
    metrics_flags(parser)


def metrics_flags(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port``/``--metrics-host`` (``polyout._metrics``): run, resume, work."""
    group = parser.add_argument_group("operations")
    group.add_argument(
        "--metrics-port",
        type=metrics_port,
        default="off",  # converted on every parse: a parse without the flag asks for none
        metavar="PORT",
        help="serve Prometheus metrics on /metrics and health on /healthz at this port "
        "(needs polyout[metrics])",
    )
    group.add_argument(
        "--metrics-host",
        type=metrics_host,
        default="127.0.0.1",
        metavar="HOST",
        help="the address the metrics port listens on (default: 127.0.0.1; 0.0.0.0 for a pod)",
    )


def auto_pause_flags(parser: argparse.ArgumentParser) -> None:
    """When the campaign pauses itself (``_auto_pause``): defaults documented here."""
    group = parser.add_argument_group(
        "auto-pause (the campaign pauses itself, with the reason, on a run of 400s, a 401 or "
        "403, or most of the last calls failing; resume continues)"
    )
    group.add_argument(
        "--auto-pause-window",
        type=bounded_int(0, 10_000),
        metavar="K",
        help="judge the last K calls that ended (default: 20; 0: never pause on failures)",
    )
    group.add_argument(
        "--auto-pause-share",
        type=bounded_float(1.0),
        metavar="F",
        help="pause when more than this share of them failed (default: 0.8)",
    )
    group.add_argument(
        "--no-auto-pause",
        action="store_true",
        help="never pause by itself: a 401, 403 or a run of 400s stops the run, as before",
    )


def output_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help=f"{what} (.jsonl or .csv by extension): the only place with full numbers",
    )


def store_flags() -> argparse.ArgumentParser:
    """``--store URL --campaign NAME``: a campaign in a store of several."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("where the campaign lives (instead of a journal path)")
    group.add_argument(
        "--store",
        metavar="URL",
        help="postgresql://USER@HOST:5432/DATABASE (the password from PGPASSWORD or "
        "~/.pgpass: a URL's is never shown, but a flag is visible to other users), or an "
        "SQLite file holding several campaigns: a path, or sqlite:///path",
    )
    group.add_argument(
        "--campaign",
        metavar="NAME",
        help="the campaign in --store: 1 to 64 letters, digits, '.', '_' or '-'",
    )
    return parent


def work_arguments(work: argparse.ArgumentParser) -> None:
    """``polyout campaign work``: one more worker on a campaign another process created."""
    work.add_argument(
        "journal", metavar="JOURNAL", nargs="?", help="a journal (or --store and --campaign)"
    )
    work.add_argument(
        "--concurrency",
        type=CONCURRENCY,
        metavar="N",
        help="calls in flight for this worker, at most (default: the campaign's)",
    )
    run_control_flags(work)


_WEBHOOK_DRAIN = bounded_duration(0, _HOUR)


def webhook_flags(*, endpoint: bool) -> argparse.ArgumentParser:
    """``--webhook URL`` (``run`` only: the endpoint is stored), ``--webhook-drain`` and
    ``--before-dial-url``; the secret only ever from POLYOUT_WEBHOOK_SECRET."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "webhooks and the pre-dial hook (signed with POLYOUT_WEBHOOK_SECRET)"
    )
    if endpoint:
        group.add_argument(
            "--webhook",
            metavar="URL",
            help="POST the campaign's events here, signed, at least once (stored with the "
            "campaign: resume and work keep delivering)",
        )
    group.add_argument(
        "--webhook-drain",
        type=_WEBHOOK_DRAIN,
        metavar="DURATION",
        help="at the end, wait this long for undelivered events, 0s to 1h (default: 30s)",
    )
    group.add_argument(
        "--before-dial-url",
        metavar="URL",
        help='ask this URL before each dial (POST of the contact; answer {"allow": true} or '
        '{"allow": false, "reason": "..."}); give it again on resume and work',
    )
    return parent


def deliver_arguments(deliver: argparse.ArgumentParser) -> None:
    """``polyout campaign deliver REF``: send the events still in the outbox."""
    deliver.add_argument(
        "journal", metavar="JOURNAL", nargs="?", help="a journal (or --store and --campaign)"
    )
    deliver.add_argument(
        "--webhook", metavar="URL", help="deliver here from now on (and enable it again)"
    )
    deliver.add_argument(
        "--timeout",
        type=_WEBHOOK_DRAIN,
        default=60.0,
        metavar="DURATION",
        help="give up waiting after this long, 0s to 1h (default: 1m)",
    )
