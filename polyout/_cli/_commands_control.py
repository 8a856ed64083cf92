"""``polyout campaign pause|cancel|status|suppress|retry REF``: steer a campaign live.

Each command writes the campaign's commanded phase (or its do-not-call list, or a retry
round) into its store, with who asked, and returns: the workers obey within a second,
wherever they run (``_control_watch``). ``status`` only reads. A command that cannot
apply (pausing a finished or cancelled campaign) says why, changes nothing, exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from polyout._campaign._addressing import StoreRef
from polyout._campaign._canary import CANARY
from polyout._campaign._control_add import add_contacts
from polyout._campaign._states import ACTIVE, DISPLAY_ORDER, ContactState
from polyout._campaign._store_control import (
    CampaignPhase,
    Command,
    ControlState,
    check_round_states,
)
from polyout._campaign._suppression import load_suppression_list, normalized_suppression
from polyout._cli._connection import client_from_args
from polyout._cli._control_target import (
    Target,
    control_target,
    operator,
    ref_of,
    refuse,
)
from polyout._cli._errors import CliError, ExitCode
from polyout._webhooks import outbox_line, outbox_state

__all__ = ["add", "canary_report", "cancel", "lift_pause", "pause", "retry", "status", "suppress"]

S = ContactState
P = CampaignPhase
T = TypeVar("T")


def _on_target(args: argparse.Namespace, job: Callable[[Target], Awaitable[T]]) -> T:
    async def go() -> T:
        async with control_target(ref_of(args)) as target:
            return await job(target)

    return asyncio.run(go())


def _obeyed_by(target: Target) -> str:
    if target.workers_alive == 1:
        return "the worker running it obeys within a second"
    if target.workers_alive:
        return f"the {target.workers_alive} workers running it obey within a second"
    return "no worker is running it now; workers started later obey it"


def _resume_hint(target: Target) -> str:
    return "polyout campaign resume " + " ".join(target.ref.flags())


# -- pause, cancel ------------------------------------------------------------------------
def pause(args: argparse.Namespace) -> int:
    async def job(target: Target) -> int:
        if await target.finished():
            raise refuse("the campaign is finished (every contact is final)")
        reason = args.reason or "paused by the operator"
        state = await target.campaign.command(
            Command.PAUSE, reason=reason, by=operator("campaign pause"), now=time.time()
        )
        if not state.changed:
            print(f"already paused ({state.reason})")
            return 0
        print(f"paused: no new call is placed; calls in flight are followed ({_obeyed_by(target)})")
        print(f"to continue: {_resume_hint(target)}")
        return 0

    return _on_target(args, job)


def cancel(args: argparse.Namespace) -> int:
    async def job(target: Target) -> int:
        campaign = target.campaign
        if await target.finished():
            raise refuse("the campaign is finished (every contact is final)")
        reason = args.reason or "cancelled by the operator"
        now = time.time()
        state = await campaign.command(
            Command.CANCEL, reason=reason, by=operator("campaign cancel"), now=now
        )
        if not state.changed:
            print("already being cancelled")
            return 0
        cancelled = await campaign.cancel_pending(reason, now)
        if target.workers_alive:
            print(
                "cancelling: contacts not yet dialled become cancelled, calls in flight are "
                f"followed to their end, then the workers exit ({_obeyed_by(target)})"
            )
        else:
            counts = await campaign.counts()
            if not any(counts.get(active) for active in ACTIVE):
                await campaign.command(
                    Command.FINISH, reason=reason, by=operator("campaign cancel"), now=now
                )
            print(f"cancelled: {cancelled} contacts not yet dialled are now cancelled")
        return 0

    return _on_target(args, job)


# -- status -------------------------------------------------------------------------------
def status(args: argparse.Namespace) -> int:
    snapshot = _on_target(args, _snapshot)
    if args.json:
        print(json.dumps(snapshot, indent=2, sort_keys=True))
        return 0
    print(_phase_line(snapshot))
    print(f"workers alive: {snapshot['workers_alive']}")
    counts = snapshot["states"]
    shown = ", ".join(f"{state} {count}" for state, count in counts.items())
    print(f"contacts: {snapshot['total']} ({shown or 'none yet'})")
    rate = snapshot["achieved_rate"]
    line = f"in flight: {snapshot['in_flight']}; rate (last minute): {rate:.2f} calls/s"
    if snapshot["eta_seconds"] is not None:
        line += f"; ETA about {_duration(snapshot['eta_seconds'])}"
    print(line)
    if (webhooks := outbox_line(snapshot["webhooks"])) is not None:
        print(webhooks)
    return 0


async def _snapshot(target: Target) -> dict[str, Any]:
    campaign = target.campaign
    control = await campaign.control()
    counts = await campaign.counts()
    position = await campaign.feed_position()
    rate = await campaign.intents_since(time.time() - 60.0) / 60.0  # sends, last minute
    scheduled = counts.get(S.SCHEDULED, 0)
    phase = _shown_phase(control, counts, position.done)
    snapshot: dict[str, Any] = {
        "campaign": str(target.ref),
        "phase": phase,
        "reason": control.reason if phase != "running" else None,
        "by": control.by,
        "since": control.since,
        "workers_alive": target.workers_alive,
        "total": position.count,
        "input_done": position.done,
        "states": {state.value: counts[state] for state in DISPLAY_ORDER if counts.get(state)},
        "in_flight": sum(counts.get(state, 0) for state in ACTIVE),
        "achieved_rate": round(rate, 3),
        "eta_seconds": (
            round(scheduled / rate) if rate > 0 and scheduled and phase == "running" else None
        ),
    }
    snapshot["webhooks"] = await outbox_state(campaign)  # None: no webhook endpoint
    return snapshot


def _shown_phase(control: ControlState, counts: dict[ContactState, int], input_done: bool) -> str:
    left = counts.get(S.SCHEDULED, 0) + sum(counts.get(state, 0) for state in ACTIVE)
    if control.phase is P.CANCELLING and not left:
        return "cancelled"
    if control.phase is P.DONE:
        return "cancelled"
    if control.phase is P.RUNNING and not left and input_done:
        return "done"
    return str(control.phase)


def _phase_line(snapshot: dict[str, Any]) -> str:
    phase = snapshot["phase"]
    if phase in ("paused", "cancelling", "cancelled") and snapshot["reason"]:
        by = f", by {snapshot['by']}" if snapshot["by"] else ""
        return f"phase: {phase} ({snapshot['reason']}{by})"
    return f"phase: {phase}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


# -- suppress -----------------------------------------------------------------------------
def suppress(args: argparse.Namespace) -> int:
    if args.store is not None and args.journal is not None:  # the first number, not a REF
        args.numbers, args.journal = [args.journal, *args.numbers], None
    if not args.numbers:
        raise CliError("give the numbers to suppress: FILE or NUMBER...")
    numbers: set[str] = set()
    for item in args.numbers:
        if os.path.isfile(item):
            numbers |= load_suppression_list(item)
        else:
            numbers |= normalized_suppression([item])

    async def job(target: Target) -> int:
        withdrawn = await target.campaign.suppress(numbers, time.time())
        await target.campaign.log_campaign_event(
            "suppressed",
            detail=f"{len(numbers)} numbers",
            by=operator("campaign suppress"),
            now=time.time(),
        )
        print(f"{len(numbers)} numbers are on the campaign's do-not-call list")
        if target.workers_alive:
            print(
                "pending contacts with them are withdrawn before their next dial "
                f"({_obeyed_by(target)})"
            )
        else:
            print(f"{withdrawn} pending contacts with them are now suppressed")
        return 0

    return _on_target(args, job)


# -- retry --------------------------------------------------------------------------------
def retry(args: argparse.Namespace) -> int:
    try:
        states = {ContactState(word.strip()) for word in args.states.split(",") if word.strip()}
    except ValueError as exc:
        raise CliError(f"--states: {exc}") from None
    check_round_states(states)

    async def job(target: Target) -> bool:
        campaign = target.campaign
        if not target.workers_alive:
            client_from_args(args)  # it is dialled here: a bad connection changes nothing
        options = {"max_attempts": args.max_attempts, "include_unknown": args.include_unknown}
        counts = await campaign.retry_candidates(states, **options)
        unknown = counts.get(S.UNKNOWN, 0)
        if unknown and not _confirmed(unknown, args.yes):
            raise refuse("retry not confirmed")
        moved = await campaign.retry_round(states, now=time.time(), **options)
        detail = ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))
        await campaign.log_campaign_event(
            "retry_round", detail=detail or "none", by=operator("campaign retry"), now=time.time()
        )
        state = await campaign.control()
        if state.phase in (P.CANCELLING, P.DONE) and moved:
            await campaign.command(
                Command.REOPEN, reason=None, by=operator("campaign retry"), now=time.time()
            )
        print(f"{moved} contacts are scheduled again ({detail or 'none matched'})", flush=True)
        return bool(moved) and not target.workers_alive

    if not _on_target(args, job):
        return 0  # nothing to dial, or the live workers dial the round within a second
    from polyout._cli._commands_campaign import resume  # (it imports this module)

    return resume(args)  # no worker is alive: this process works on the round


def _confirmed(unknown: int, yes: bool) -> bool:
    print(
        f"{unknown} contacts are 'unknown': their calls may have been placed, so up to "
        f"{unknown} people may be rung twice",
        flush=True,
    )
    if yes:
        return True
    if not sys.stdin.isatty():
        raise CliError("--include-unknown needs --yes when not run from a terminal", ExitCode.USAGE)
    return input("ring them again? [y/N] ").strip().lower() in ("y", "yes")


# -- resume (the pause part; the run itself is ``campaign resume``'s) -----------------------
def lift_pause(ref: StoreRef) -> bool:
    """Lift a pause of the campaign ``ref`` names (recorded with who); True when workers
    are alive on it: they carry on within a second, and ``resume`` has nothing to run.
    False: no worker is alive, and ``resume`` runs the campaign in this process."""

    async def job(target: Target) -> bool:
        campaign = target.campaign
        state = await campaign.control()
        if state.phase in (P.CANCELLING, P.DONE):
            raise refuse(
                "the campaign was cancelled; to dial its cancelled contacts again: "
                "polyout campaign retry " + " ".join(target.ref.flags()) + " --states cancelled"
            )
        if state.phase is P.PAUSED:
            await campaign.command(
                Command.RESUME, reason=None, by=operator("campaign resume"), now=time.time()
            )
            print(f"resumed (it was paused: {state.reason})", flush=True)
        if target.workers_alive:
            if state.phase is not P.PAUSED:
                print("the campaign is running: its workers carry on")
            return True
        return False

    async def go() -> bool:
        async with control_target(ref) as target:
            return await job(target)

    return asyncio.run(go())


# -- add ------------------------------------------------------------------------------------
def add(args: argparse.Namespace) -> int:
    if args.store is not None and args.journal is not None and args.contacts is None:
        args.contacts, args.journal = args.journal, None  # --store form: the one positional
    if args.contacts is None or not os.path.isfile(args.contacts):
        raise CliError(f"no contact file at {args.contacts}: nothing was added")

    async def job(target: Target) -> int:
        state = await target.campaign.control()
        if state.phase in (P.CANCELLING, P.DONE):
            raise refuse("the campaign was cancelled")
        added = await add_contacts(
            target.campaign, args.contacts, now=time.time, by=operator("campaign add")
        )
        total = sum(added.values())
        shown = ", ".join(f"{state} {count}" for state, count in sorted(added.items()))
        print(f"{total} contacts added ({shown or 'none'})")
        if added.get(S.SCHEDULED):
            if target.workers_alive:
                print(f"they are dialled without a restart ({_obeyed_by(target)})")
            else:
                print(f"to dial them: {_resume_hint(target)}")
        return 0

    return _on_target(args, job)


# -- canary (after ``campaign run --canary N``) ----------------------------------------------
def canary_report(ref: StoreRef, code: int) -> int:
    """After a canary run: its calls' outcomes and how to go on (exit 0), if it paused."""

    async def job(target: Target) -> int:
        state = await target.campaign.control()
        if state.phase is not P.PAUSED or state.by != CANARY:
            return code  # the campaign ended before its canary was full
        print(f"{state.reason}: the campaign is paused")
        print(f"to dial the rest: {_resume_hint(target)}")
        return 0

    async def go() -> int:
        async with control_target(ref) as target:
            return await job(target)

    return asyncio.run(go())
