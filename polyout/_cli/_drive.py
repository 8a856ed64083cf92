"""Running a campaign in front of an operator: progress, Ctrl-C, and how the run ended.

The campaign does the work; this module only watches it. The first stop signal calls
``Campaign.stop()`` (no new calls, follow the ones in flight for the grace period,
journal everything); the second cancels the run at once, which the journal survives.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Literal

import attrs

from polyout._campaign._errors import CampaignError, JournalError
from polyout._campaign._events import CampaignStats, EventKind
from polyout._campaign._runner import Campaign
from polyout._cli._interrupt import Interrupts
from polyout._cli._progress_line import calls_in_flight, calls_per_second, format_duration, plural
from polyout._cli._render import ProgressView

__all__ = ["RunEnd", "RunOutcome", "drive"]

RunEnd = Literal["complete", "stopped", "interrupted", "failed"]
_REFRESH = 0.25  # seconds between progress updates
_RATE_LIMIT_NOTE_EVERY = 5.0  # seconds: a 429 storm is one line, not hundreds


@attrs.frozen
class RunOutcome:
    ended: RunEnd
    stats: CampaignStats
    error: CampaignError | None = None


async def drive(campaign: Campaign, interrupts: Interrupts, view: ProgressView) -> RunOutcome:
    """Run ``campaign`` to its end while ``view`` shows its progress.

    The caller owns the campaign's client (and closes it).
    """

    def on_signal(count: int) -> None:
        # Read now: a campaign resumed from a store knows its settings once it runs.
        seconds = campaign.config.stop_grace
        grace = f"{seconds:g}s" if seconds < 60 else format_duration(seconds)
        if count == 1:
            calls = plural(calls_in_flight(campaign.stats()), "call")
            view.note(
                f"stopping: no new calls; following {calls} in flight for up to {grace} "
                "(Ctrl-C again stops at once)"
            )
        else:
            view.note("stopping at once: calls in flight stay in the journal")

    interrupts.on_first(campaign.stop)
    interrupts.notify(on_signal)
    notes = asyncio.create_task(_notes(campaign, view))
    runner = asyncio.create_task(campaign.run())
    try:
        with view:
            await _watch(campaign, runner, view)
    except asyncio.CancelledError:  # the second signal
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        return RunOutcome("interrupted", campaign.stats())
    finally:
        notes.cancel()
    try:
        stats = runner.result()
    except JournalError:  # the journal cannot be used (in use, unwritable): not an API failure
        raise
    except CampaignError as exc:
        return RunOutcome("failed", campaign.stats(), exc)
    return RunOutcome("complete" if stats.complete else "stopped", stats)


async def _watch(
    campaign: Campaign, runner: asyncio.Task[CampaignStats], view: ProgressView
) -> None:
    while not runner.done():
        view.update(campaign.stats())
        await asyncio.wait({runner}, timeout=_REFRESH)
    view.update(campaign.stats())


async def _notes(campaign: Campaign, view: ProgressView) -> None:
    """Lines worth keeping above the bar: the server asking us to slow down."""
    last = float("-inf")
    async for event in campaign.events():
        if event.kind is EventKind.RATE_LIMITED and time.monotonic() - last >= (
            _RATE_LIMIT_NOTE_EVERY
        ):
            last = time.monotonic()
            stats = campaign.stats()
            view.note(
                f"rate limited (429): every trigger pauses, then resumes at "
                f"{calls_per_second(stats.rate)} ({stats.rate_limited} so far); nothing is lost"
            )
