"""The flags of the live-control commands (``pause``, ``cancel``, ``status``, ``suppress``,
``add``, ``retry``; see ``_commands_control``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from polyout._cli._flag_types import bounded_int

__all__ = ["add_control_commands", "canary_flag", "control_options"]

MakeCommand = Callable[..., argparse.ArgumentParser]


def add_ref_arguments(parser: argparse.ArgumentParser) -> None:
    """Which campaign: its journal, or ``--store URL --campaign NAME``."""
    parser.add_argument("journal", metavar="JOURNAL", nargs="?", help="the campaign's journal")
    parser.add_argument("--store", metavar="URL", help="postgresql://... or an SQLite file")
    parser.add_argument("--campaign", metavar="NAME", help="the campaign in --store")


def add_control_commands(
    parent: argparse._SubParsersAction[argparse.ArgumentParser],
    command: MakeCommand,
    *,
    run_parents: Sequence[argparse.ArgumentParser],
    run_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    """``polyout campaign pause|cancel|status|suppress|add|retry REF ...``; ``retry``
    also takes what ``resume`` takes (``run_parents``, ``run_flags``): with no worker
    alive on the campaign, it works on its round in this process."""
    pause = command(parent, "pause", "stop placing new calls (calls in flight are followed)")
    add_ref_arguments(pause)
    pause.add_argument("--reason", metavar="TEXT", help="why: status and the report show it")

    cancel = command(
        parent,
        "cancel",
        "cancel the contacts not yet dialled; calls in flight are followed, then workers exit",
    )
    add_ref_arguments(cancel)
    cancel.add_argument("--reason", metavar="TEXT", help="recorded on each cancelled contact")

    status = command(
        parent, "status", "the campaign now: phase, workers, counts, in flight, rate, ETA"
    )
    add_ref_arguments(status)
    status.add_argument("--json", action="store_true", help="print one JSON object")

    suppress = command(
        parent, "suppress", "add numbers to the campaign's do-not-call list, at any time"
    )
    add_ref_arguments(suppress)
    suppress.add_argument(
        "numbers",
        nargs="*",
        metavar="FILE|NUMBER",
        help="E.164 numbers, or a file of them (one a line, or a CSV with a phone column)",
    )

    add = command(
        parent,
        "add",
        "add contacts to a running, paused or finished campaign (checked as a first load)",
    )
    add_ref_arguments(add)
    add.add_argument("contacts", metavar="CONTACTS", nargs="?", help="CSV or JSONL, as for run")

    retry = command(
        parent,
        "retry",
        "give chosen final contacts another round (never answered calls), and dial it",
        run_parents,
    )
    add_ref_arguments(retry)
    retry.add_argument(
        "--states",
        required=True,
        metavar="LIST",
        help="comma-separated: no_answer, busy, failure, expired, cancelled",
    )
    retry.add_argument(
        "--max-attempts",
        type=bounded_int(1, 1000),
        metavar="N",
        help="only contacts with fewer than N calls placed",
    )
    retry.add_argument(
        "--include-unknown",
        action="store_true",
        help="also contacts whose call may have been placed (they may be rung twice)",
    )
    retry.add_argument(
        "--yes", action="store_true", help="confirm --include-unknown without asking"
    )
    run_flags(retry)


def control_options(args: argparse.Namespace) -> dict[str, Any]:
    """``auto_pause=`` for the campaign, from the auto-pause flags (absent: the defaults)."""
    # Here, not at the top: the parser (``--help`` too) would load the campaign engine.
    from polyout._campaign._auto_pause import AUTO_PAUSE_DEFAULTS

    if getattr(args, "no_auto_pause", False):
        return {"auto_pause": None, **_canary(args)}
    window = getattr(args, "auto_pause_window", None)
    share = getattr(args, "auto_pause_share", None)
    rules = AUTO_PAUSE_DEFAULTS
    if window is not None:
        rules = attrs.evolve(rules, failure_window=window)
    if share is not None:
        rules = attrs.evolve(rules, failure_share=share)
    return {"auto_pause": rules, **_canary(args)}


def _canary(args: argparse.Namespace) -> dict[str, Any]:
    canary = getattr(args, "canary", None)
    return {} if canary is None else {"canary": canary}


def canary_flag(run: argparse.ArgumentParser) -> None:
    """``--canary N`` (``run`` only)."""
    run.add_argument(
        "--canary",
        type=bounded_int(1, 1000),
        metavar="N",
        help="dial the first N contacts only, follow them to their end, then pause the "
        "campaign and print their outcomes (resume continues)",
    )
