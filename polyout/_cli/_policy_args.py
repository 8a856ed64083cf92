"""The contact policy's flags (issue 12), checked before anything is dialled.

A malformed cap, date, rules file or holiday region is one line naming the flag, exit 2.
The command line always runs with a policy: quarantine and audit receipts are on unless
switched off (``--no-quarantine``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from polyout._campaign._policy import ContactPolicy
from polyout._campaign._policy_regions import HOLIDAYS_MISSING
from polyout._campaign._policy_rules import load_rules
from polyout._campaign._policy_time import parse_cap, parse_moment, parse_span
from polyout._cli._errors import CliError, ExitCode

__all__ = ["add_policy_flags", "policy_options"]


def add_policy_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--start-at",
        metavar="WHEN",
        help="no call before then: 2026-12-01T09:00:00Z (or an offset), or HH:MM in "
        "--default-timezone",
    )
    group.add_argument(
        "--end-by",
        metavar="WHEN",
        help="the deadline (same forms): contacts not reached by then end cancelled",
    )
    group.add_argument(
        "--frequency-cap",
        metavar="N/DURATION",
        help="no number dialled more than N times in any DURATION across every campaign "
        "of the store: 3/24h, 8/7d",
    )
    group.add_argument(
        "--skip-holidays",
        action="store_true",
        default=None,
        help="no calls on the public holidays of the callee's country or subdivision "
        "(needs pip install 'polyout[holidays]')",
    )
    group.add_argument(
        "--rules",
        metavar="FILE",
        help="TOML of per-region windows and caps that tighten the campaign's "
        "(see examples/rules.toml)",
    )
    group.add_argument(
        "--quarantine-failures",
        type=int,
        metavar="K",
        help="suppress numbers whose calls ended failure K times across campaigns (default: 3)",
    )
    group.add_argument(
        "--no-quarantine",
        action="store_true",
        default=None,
        help="dial numbers the API refused or that kept failing in earlier campaigns",
    )
    group.add_argument(
        "--recent",
        metavar="DURATION",
        help="before dialling, name the numbers other campaigns of the store called this "
        "recently (default: 7d); asks on a terminal, else needs --yes",
    )
    group.add_argument(
        "--yes",
        action="store_true",
        default=None,
        help="dial numbers called recently without asking",
    )


def policy_options(args: argparse.Namespace, *, now: float) -> dict[str, Any]:
    """``{"policy": ContactPolicy(...)}`` from the flags, each checked by name."""
    zone = getattr(args, "default_timezone", None)
    start = _moment("--start-at", getattr(args, "start_at", None), zone, now)
    end = _moment("--end-by", getattr(args, "end_by", None), zone, now)
    if start is not None and end is not None and end <= start:
        raise CliError("--end-by: must be later than --start-at", ExitCode.USAGE)
    cap = getattr(args, "frequency_cap", None)
    if cap is not None:
        _checked("--frequency-cap", parse_cap, cap)
    rules = getattr(args, "rules", None)
    if rules is not None:
        _checked("--rules", load_rules, rules)
    if getattr(args, "skip_holidays", None):
        try:
            import holidays  # noqa: F401
        except ImportError:
            raise CliError(f"--skip-holidays: {HOLIDAYS_MISSING}", ExitCode.USAGE) from None
    failures = getattr(args, "quarantine_failures", None)
    if failures is not None and not 1 <= failures <= 1000:
        raise CliError("--quarantine-failures: must be 1 to 1000", ExitCode.USAGE)
    off = bool(getattr(args, "no_quarantine", None))
    recent = getattr(args, "recent", None)
    return {
        "policy": ContactPolicy(
            start_at=start,
            end_by=end,
            frequency_cap=cap,
            skip_holidays=bool(getattr(args, "skip_holidays", None)),
            rules=os.fspath(rules) if rules is not None else None,
            quarantine_failures=None if off else (failures or 3),
            quarantine_refused=not off,
            recent=_checked("--recent", parse_span, recent) if recent else 7 * 86400.0,
        )
    }


def _moment(flag: str, text: str | None, zone: str | None, now: float) -> float | None:
    if text is None:
        return None
    try:
        return parse_moment(text, zone, now)
    except ValueError as exc:
        raise CliError(f"{flag}: {exc}", ExitCode.USAGE) from None


def _checked(flag: str, parse: Any, value: str) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise CliError(f"{flag}: {exc}", ExitCode.USAGE) from None
