"""``polyout campaign rehearse CONTACTS``: a forecast of the campaign ``run`` would start.

The campaign is described by the very flags of ``run``, read by run's own mapping
(``_campaign_options``), so every planning and running setting, today's and those added
later, is rehearsed as it would run. Then it runs in virtual time against a simulated
API (:mod:`polyout._rehearsal`): no key, no network, no journal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from polyout._campaign._addressing import opened_campaign, store_ref
from polyout._campaign._config import CampaignConfig
from polyout._campaign._retry_timing import PastCall
from polyout._cli._checked_input import check_contacts_file
from polyout._cli._commands_campaign import _campaign_options
from polyout._cli._durations import duration_text
from polyout._cli._errors import CliError, ExitCode
from polyout._errors import ConfigurationError
from polyout._rehearsal import DEFAULT_SEED, CallModel, Forecast, parse_outcomes
from polyout._rehearsal import rehearse as run_rehearsal
from polyout._rehearsal._like import NoPastCalls, PastCampaign, past_campaign
from polyout._rehearsal._model import DEFAULT_CALL_DURATION, DEFAULT_OUTCOMES

__all__ = ["rehearse"]


def rehearse(args: argparse.Namespace) -> int:
    """Exits 0 with the forecast; 2 for a flag, a file or a past campaign that cannot work."""
    contacts = Path(args.contacts)
    options = _campaign_options(_AsRun(**vars(args)))
    check_contacts_file(contacts)
    start = _start(args.now)
    seed = DEFAULT_SEED if args.seed is None else args.seed
    past = _past(args)
    model = past.model if past is not None else _given_model(args)
    history = past.calls if past is not None else []
    forecast = _rehearsed(contacts, options, model, start, seed, history)
    baseline = None
    if forecast.retry_timing == "learned":  # what learning changes, on the same draws
        fixed = {**options, "retry_timing": "fixed"}
        baseline = _rehearsed(contacts, fixed, model, start, seed, history)
    if args.json:
        print(json.dumps(_json(forecast, baseline, past), indent=2), flush=True)
    else:
        print("\n".join(_text(contacts, options, forecast, baseline, past, model)), flush=True)
    return ExitCode.OK


class _AsRun(argparse.Namespace):
    """The rehearsal's flags as run's mapping reads them: a flag of run's own that a
    rehearsal has not (--stop-grace, --journal...) reads as not given."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _rehearsed(
    contacts: Path,
    options: dict[str, Any],
    model: CallModel,
    start: float,
    seed: int,
    history: list[PastCall],
) -> Forecast:
    try:
        return asyncio.run(
            run_rehearsal(
                contacts, options=options, model=model, start=start, seed=seed, history=history
            )
        )
    except ConfigurationError:
        raise  # the CLI names the flag
    except ValueError as exc:  # another setting the campaign refuses
        raise CliError(str(exc), ExitCode.USAGE) from None


def _start(now: str | None) -> float:
    if now is None:
        return time.time()
    try:
        moment = datetime.fromisoformat(now)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CliError(
            f"--now {now}: expected ISO 8601 with an offset (2026-12-01T09:00:00+01:00 or Z)",
            ExitCode.USAGE,
        )
    return moment.timestamp()


def _given_model(args: argparse.Namespace) -> CallModel:
    outcomes = parse_outcomes(args.outcomes) if args.outcomes else DEFAULT_OUTCOMES
    duration = DEFAULT_CALL_DURATION if args.call_duration is None else args.call_duration
    return CallModel.fixed(outcomes, duration)


def _past(args: argparse.Namespace) -> PastCampaign | None:
    store, name = getattr(args, "store", None), getattr(args, "campaign", None)
    if args.like is None:
        if store is not None or name is not None:
            raise CliError(
                "--store and --campaign name the past campaign of --like", ExitCode.USAGE
            )
        return None
    if args.outcomes or args.call_duration is not None:
        raise CliError(
            "--like takes outcomes and durations from the past campaign: "
            "drop --outcomes and --call-duration",
            ExitCode.USAGE,
        )
    ref = store_ref(store=store, campaign=name, journal=args.like or None)
    if ref is None:
        raise CliError(
            "--like: give the past campaign's journal, or --store URL --campaign NAME",
            ExitCode.USAGE,
        )
    if ref.journal and not ref.path.is_file():
        raise CliError(f"--like {args.like}: no campaign journal there", ExitCode.USAGE)

    async def read() -> PastCampaign:
        async with opened_campaign(ref, read_only=True) as (_, stored):
            return await past_campaign(stored)

    try:
        return asyncio.run(read())
    except NoPastCalls as exc:
        raise CliError(f"--like {ref.shown}: {exc}", ExitCode.USAGE) from None


# -- rendering ------------------------------------------------------------------------------
def _json(
    forecast: Forecast, baseline: Forecast | None, past: PastCampaign | None
) -> dict[str, Any]:
    data = forecast.to_json()
    if past is not None:
        data["like"] = {"calls": len(past.calls), "hours": sorted(past.model.by_hour)}
    if baseline is not None:
        data["fixed"] = baseline.to_json()
    return data


def _text(
    contacts: Path,
    options: dict[str, Any],
    forecast: Forecast,
    baseline: Forecast | None,
    past: PastCampaign | None,
    model: CallModel,
) -> list[str]:
    settings = {**CampaignConfig().to_json(), **options}
    lines = [
        f"rehearsal of {contacts.name}: {forecast.contacts:,} contacts, simulated "
        "(nothing dialled, nothing written)",
        f"  settings    rate {settings['rate']:g}/s, concurrency {settings['concurrency']}, "
        f"{settings['max_attempts']} attempts, retry after {duration_text(settings['retry_delay'])}"
        f" ({forecast.retry_timing}), window {settings['window'] or 'any time'}",
        f"  calls       {_calls(model, past)}",
        f"  finishes    {_when(forecast)}",
        f"  placements  {forecast.placements:,}; per hour: {_hourly(forecast)}",
        f"  states      {_states(forecast)}",
    ]
    if forecast.not_reached_by_deadline is not None:
        lines.append(f"  not reached by --end-by: {forecast.not_reached_by_deadline:,} contacts")
    if forecast.paused is not None:
        at, why = forecast.paused
        local = datetime.fromtimestamp(at, timezone.utc).astimezone()
        lines.append(
            f"  the campaign would pause itself at {local:%a %H:%M} ({why}): "
            "the forecast stops there"
        )
    elif not forecast.complete:
        lines.append("  not finished within a year of rehearsal: see the states")
    if baseline is not None:
        lines.append(_comparison(forecast, baseline))
    return lines


def _calls(model: CallModel, past: PastCampaign | None) -> str:
    if past is not None:
        return (
            f"like a past campaign: {len(past.calls):,} calls, "
            f"{len(model.by_hour)} local hours with their own mix"
        )
    mix = ", ".join(f"{state.value} {share:.0%}" for state, share in model.overall.outcomes.items())
    durations = next(iter(model.overall.durations.values()))
    return f"{mix}; {durations[0]:g}s each"


def _when(forecast: Forecast) -> str:
    if not forecast.complete:
        return "never in this rehearsal (see below)"
    local = datetime.fromtimestamp(forecast.finished_at, timezone.utc).astimezone()
    return f"{local:%a %Y-%m-%d %H:%M %Z} (local), after {_span(forecast.duration)}"


def _span(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f}s"
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    return " ".join(f"{value}{unit}" for value, unit in parts if value) or "0m"


def _hourly(forecast: Forecast) -> str:
    hours = forecast.placements_per_hour
    shown = " ".join(f"{count:,}" for count in hours[:24])
    return shown + (f" ... ({len(hours)} hours)" if len(hours) > 24 else "")


def _states(forecast: Forecast) -> str:
    return ", ".join(f"{state} {count:,}" for state, count in forecast.states.items())


def _comparison(learned: Forecast, fixed: Forecast) -> str:
    def success(forecast: Forecast) -> int:
        return forecast.states.get("success", 0)

    return (
        f"  learned retry timing against fixed delays: success {success(learned):,} vs "
        f"{success(fixed):,} ({success(learned) - success(fixed):+,}), placements "
        f"{learned.placements:,} vs {fixed.placements:,}, finishes after "
        f"{_span(learned.duration)} vs {_span(fixed.duration)}"
    )
