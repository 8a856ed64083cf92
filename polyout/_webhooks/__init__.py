"""Webhooks and the pre-dial hook: a campaign's events pushed to a service, signed and
delivered at least once from the store's outbox, and a service's say before each dial.

``polyout.webhooks`` (the public module) is the receiver's side: ``verify``.
"""

from polyout._webhooks._before_dial import Allow, BeforeDial, Deny, PendingDial, UrlHook
from polyout._webhooks._delivery import Delivery, outbox_line, outbox_state
from polyout._webhooks._settings import SECRET_ENV, Webhook
from polyout._webhooks._wiring import HookParts

__all__ = [
    "SECRET_ENV",
    "Allow",
    "BeforeDial",
    "Delivery",
    "Deny",
    "HookParts",
    "PendingDial",
    "UrlHook",
    "Webhook",
    "outbox_line",
    "outbox_state",
]
