"""``polyout campaign report | validate``: reading a campaign, and checking a contact file.

Both dial nobody. ``report`` reads through the store (a journal, an SQLite store's
campaign or a PostgreSQL one) without taking its lock, so it works while the campaign
runs. ``validate --store URL --campaign NAME`` also counts the file's numbers that
campaign already holds (what ``add`` would find as duplicates).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any

from polyout._campaign._addressing import StoreRef, opened_campaign, store_ref
from polyout._campaign._config import CampaignConfig
from polyout._campaign._planning import MemoryRecord, Planner, load_suppression_list
from polyout._campaign._preflight import check_contacts
from polyout._campaign._readers import iter_contacts
from polyout._campaign._summary import ResultsSummary, summarize_stored
from polyout._cli import _interrupt
from polyout._cli._campaign_ref import campaign_command, campaign_exists, ref_from_args, runs_anchor
from polyout._cli._checked_input import (
    checked_country,
    checked_output,
    checked_window,
    checked_zone,
)
from polyout._cli._commands_campaign import _note, export_to, print_all
from polyout._cli._errors import ExitCode
from polyout._cli._render import stdout_console
from polyout._cli._report_view import (
    preflight_json,
    preflight_renderables,
    report_json,
    report_renderables,
)
from polyout._cli._runlog import read_runs
from polyout._report import html_report
from polyout._webhooks import outbox_line, outbox_state

__all__ = ["report", "validate"]


def report(args: argparse.Namespace) -> int:
    """Reads only: exits 0 once it has reported, whatever the results say."""
    ref = ref_from_args(args)
    output = checked_output(args.output, journal=ref.path if ref.exclusive else None)
    if args.html is not None:  # the page first: without plotly, nothing at all is written
        html_report(ref, args.html)
    named, config, summary, webhooks = _interrupt.run(lambda _: _read(ref))
    anchor = runs_anchor(ref if ref.journal else named)
    runs = read_runs(anchor) if anchor is not None else []
    if args.json:
        _print_json({**report_json(summary, config, runs), "webhooks": webhooks})
    else:
        print_all(stdout_console(), report_renderables(summary, config, runs))
        if (line := outbox_line(webhooks)) is not None:
            print(line)
    if output is not None:
        export_to(named, output)
    if not summary.complete:
        _note(f"not finished: continue with '{campaign_command('resume', ref)}'")
    return ExitCode.OK


async def _read(
    ref: StoreRef,
) -> tuple[StoreRef, CampaignConfig, ResultsSummary, dict[str, Any] | None]:
    async with opened_campaign(ref, read_only=True) as (named, stored):
        definition = await stored.definition()
        config = CampaignConfig.stored(definition.settings, str(ref))
        return named, config, await summarize_stored(stored), await outbox_state(stored)


def validate(args: argparse.Namespace) -> int:
    """Exits 1 when a row is invalid (duplicates and suppressed rows are expected)."""
    window = checked_window(args.window) if args.window is not None else None
    default_timezone = checked_zone(args.default_timezone) if args.default_timezone else None
    country = checked_country(args.country_code) if args.country_code is not None else None
    suppress = load_suppression_list(args.suppress) if args.suppress else frozenset[str]()
    campaign = store_ref(store=args.store, campaign=args.campaign)
    taken = _Taken()
    planner = Planner(
        suppress=suppress,
        window=window,
        default_timezone=default_timezone,
        default_country=country,
        record=taken,
    )
    preflight = check_contacts(
        iter_contacts(args.contacts),
        planner,
        rate=args.rate or CampaignConfig().rate,
        now=datetime.now(timezone.utc),
    )
    held = None
    if campaign is not None:
        held = (str(campaign), _interrupt.run(lambda _: _count_held(campaign, taken.numbers)))
    if args.json:
        shown = preflight_json(preflight, args.contacts)
        if held is not None:
            shown["already_in_campaign"] = held[1]
        _print_json(shown)
    else:
        print_all(stdout_console(), preflight_renderables(preflight, args.contacts, held))
    return ExitCode.ATTENTION if preflight.invalid else ExitCode.OK


class _Taken(MemoryRecord):
    """The planner's record, keeping the numbers the file's contacts took, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[str] = []

    def take(self, e164: str, contact_id: str) -> None:
        super().take(e164, contact_id)
        self.numbers.append(e164)


async def _count_held(ref: StoreRef, numbers: list[str]) -> int:
    """How many of ``numbers`` the campaign holds already (0 when it does not exist yet)."""
    if not await campaign_exists(ref):
        return 0
    async with opened_campaign(ref, read_only=True) as (_, stored):
        return sum([await stored.has_number(number) for number in numbers])


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2, default=str), flush=True)
