"""Webhooks on the command line: the options ``run``/``resume``/``work`` pass to the
campaign, the note a finishing run prints, and ``polyout campaign deliver REF``.

The secret comes only from ``POLYOUT_WEBHOOK_SECRET``: a flag would show it to every
user of the machine (``ps``), and it is never printed, logged or stored.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from polyout._campaign._addressing import StoreRef, opened_campaign
from polyout._campaign._clock import SystemClock
from polyout._cli import _interrupt
from polyout._cli._campaign_ref import campaign_command, ref_from_args
from polyout._cli._errors import CliError, ExitCode
from polyout._cli._progress_line import plural
from polyout._webhooks import SECRET_ENV, Delivery, UrlHook, Webhook, outbox_line, outbox_state
from polyout._webhooks._settings import shown_url

__all__ = ["deliver", "hook_options", "outbox_note"]


def hook_options(args: argparse.Namespace) -> dict[str, Any]:
    """``webhook=`` and ``before_dial=`` for the campaign, from the flags and the env."""
    drain = getattr(args, "webhook_drain", None)
    drain = 30.0 if drain is None else drain
    url = getattr(args, "webhook", None)
    if getattr(args, "campaign_command", None) in ("resume", "work"):
        webhook = Webhook.from_env(None, drain=drain)  # the campaign may have an endpoint
    else:  # a new campaign (run, a rehearsal): only when asked for
        webhook = Webhook.from_env(url, drain=drain) if url else None
    options: dict[str, Any] = {"webhook": webhook}
    hook_url = getattr(args, "before_dial_url", None)
    if hook_url is not None:
        secret = os.environ.get(SECRET_ENV, "")
        if not secret:
            raise CliError(
                f"--before-dial-url: the request is signed: set {SECRET_ENV}", ExitCode.USAGE
            )
        options["before_dial"] = UrlHook(hook_url, secret)
    return options


def outbox_note(campaign: object, ref: StoreRef) -> str | None:
    """What a finishing run says of events its drain could not deliver."""
    hooks = getattr(campaign, "_hooks", None)
    pending = getattr(hooks, "pending", None)
    if not pending:
        return None
    return (
        f"webhooks: {plural(pending, 'event')} not delivered yet (kept in the store); "
        f"send them with: {campaign_command('deliver', ref)}"
    )


def deliver(args: argparse.Namespace) -> int:
    ref = ref_from_args(args)
    webhook = Webhook.from_env(args.webhook, drain=args.timeout)
    if webhook is None:
        raise CliError(f"the events are signed: set {SECRET_ENV}", ExitCode.USAGE)

    async def go(_: _interrupt.Interrupts) -> tuple[int, str | None]:
        async with opened_campaign(ref) as (named, stored):
            clock = SystemClock()
            if webhook.url is not None:
                await stored.set_webhook(webhook.url, now=clock.time())
            delivery = Delivery(stored, webhook, campaign=str(named.campaign), clock=clock)
            endpoint = await delivery.endpoint()
            if endpoint is None:
                raise CliError(f"{ref} has no webhook: give --webhook URL", ExitCode.USAGE)
            if endpoint.disabled is not None:
                raise CliError(
                    f"the webhook {shown_url(endpoint.url)} is disabled ({endpoint.disabled}): "
                    "give --webhook URL to deliver again",
                    ExitCode.USAGE,
                )
            pending = await delivery.drain(webhook.drain)
            return pending, outbox_line(await outbox_state(stored))

    pending, line = _interrupt.run(go)
    if line is not None:
        print(line)
    return int(ExitCode.ATTENTION if pending else ExitCode.OK)
