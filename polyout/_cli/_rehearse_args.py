"""The flags of ``polyout campaign rehearse`` beyond run's planning and running flags.

Kept apart from ``_args`` (which only registers the command) so that the rehearsal's
own flags live with nothing else; cheap to import, as ``--help`` needs.
"""

from __future__ import annotations

import argparse

from polyout._cli._flag_types import bounded_duration, bounded_int

__all__ = ["REHEARSE_HELP", "rehearse_arguments"]

REHEARSE_HELP = (
    "forecast a campaign before launch: the real engine on a virtual clock against a "
    "simulated API (nothing dialled, nothing written, no key needed)"
)
_CALL_DURATION = bounded_duration(0, 6 * 3600.0)
_SEED = bounded_int(0, 2**63 - 1)


def rehearse_arguments(parser: argparse.ArgumentParser, contacts_help: str) -> None:
    parser.add_argument("contacts", metavar="CONTACTS", help=contacts_help)
    group = parser.add_argument_group("the simulated API")
    group.add_argument(
        "--call-duration",
        type=_CALL_DURATION,
        metavar="DURATION",
        help="how long each call lasts, placement to end (default: 60s)",
    )
    group.add_argument(
        "--outcomes",
        metavar="MIX",
        help="how calls end: success=0.7,no_answer=0.2,busy=0.05,failure=0.05 (the default)",
    )
    group.add_argument(
        "--like",
        nargs="?",
        const="",
        metavar="JOURNAL",
        help="take durations and outcomes, by the callee's local hour, from a past campaign: "
        "its journal, or --store URL --campaign NAME",
    )
    if "--store" not in parser._option_string_actions:  # run's flags may bring them
        group.add_argument("--store", metavar="URL", help="with --like: the past campaign's store")
        group.add_argument("--campaign", metavar="NAME", help="with --like: its name there")
    group.add_argument(
        "--seed", type=_SEED, metavar="N", help="the draws' seed: same seed, same forecast"
    )
    group.add_argument(
        "--now",
        metavar="ISO",
        help="rehearse as if starting at this moment, ISO 8601 with an offset "
        "(default: the real now)",
    )
    parser.add_argument("--json", action="store_true", help="print the forecast as JSON")
