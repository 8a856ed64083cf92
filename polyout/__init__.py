"""polyout: an asyncio SDK and campaign runner for PolyAI's outbound calling APIs.

This module exports what it takes to place calls (:class:`Client`) and run campaigns
(:class:`Campaign`), with their results and errors. The building blocks underneath
(planning, clocks, pacers, stores) are in :mod:`polyout.campaign`; test doubles in
:mod:`polyout.testing`; the local API emulator in :mod:`polyout.sandbox`. Modules with a
leading underscore are private.

Names load on first use: ``import polyout`` is quick, and ``polyout.Client`` loads the
client without the campaign engine.
"""

import typing

from polyout import _lazy
from polyout._version import __version__

if typing.TYPE_CHECKING:
    from polyout._campaign import (
        RESULT_FIELDS,
        Campaign,
        CampaignError,
        CampaignEvent,
        CampaignStats,
        Contact,
        ContactFileError,
        ContactResult,
        EventKind,
        JournalError,
        RowError,
        export_results,
        iter_results,
    )
    from polyout._campaign._policy import ContactPolicy
    from polyout._campaign._states import ContactState
    from polyout._client import DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_DEADLINE, Client, Timeout
    from polyout._errors import (
        APIStatusError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConfigurationError,
        NotFoundError,
        PermissionDeniedError,
        PolyOutError,
        RateLimitError,
        ServerError,
        TransportError,
        TriggerOutcomeUnknown,
        ValidationError,
    )
    from polyout._models import Call, CallRequest, CallState, CallStatus, Encryption
    from polyout._phone import mask_number
    from polyout._request import build_request
    from polyout._retry import set_testing
    from polyout._webhooks import Allow, Deny, PendingDial, Webhook

#: Where each exported name lives: its module is imported the first time it is asked for.
_HOMES = _lazy.homes(
    (
        "polyout._campaign",
        "RESULT_FIELDS Campaign CampaignError CampaignEvent CampaignStats Contact "
        "ContactFileError ContactResult EventKind JournalError RowError export_results "
        "iter_results",
    ),
    ("polyout._campaign._policy", "ContactPolicy"),
    ("polyout._campaign._states", "ContactState"),
    ("polyout._client", "DEFAULT_POLL_INTERVAL DEFAULT_WAIT_DEADLINE Client Timeout"),
    (
        "polyout._errors",
        "APIStatusError AuthenticationError BadRequestError ClientClosedError "
        "ConfigurationError NotFoundError PermissionDeniedError PolyOutError RateLimitError "
        "ServerError TransportError TriggerOutcomeUnknown ValidationError",
    ),
    ("polyout._models", "Call CallRequest CallState CallStatus Encryption"),
    ("polyout._phone", "mask_number"),
    ("polyout._request", "build_request"),
    ("polyout._retry", "set_testing"),
    ("polyout._webhooks", "Allow Deny PendingDial Webhook"),
)

if not typing.TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays an error there
    __getattr__, __dir__ = _lazy.lazy_exports(__name__, _HOMES, globals())


__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_DEADLINE",
    "RESULT_FIELDS",
    "APIStatusError",
    "Allow",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "CallRequest",
    "CallState",
    "CallStatus",
    "Campaign",
    "CampaignError",
    "CampaignEvent",
    "CampaignStats",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "Contact",
    "ContactFileError",
    "ContactPolicy",
    "ContactResult",
    "ContactState",
    "Deny",
    "Encryption",
    "EventKind",
    "JournalError",
    "NotFoundError",
    "PendingDial",
    "PermissionDeniedError",
    "PolyOutError",
    "RateLimitError",
    "RowError",
    "ServerError",
    "Timeout",
    "TransportError",
    "TriggerOutcomeUnknown",
    "ValidationError",
    "Webhook",
    "__version__",
    "build_request",
    "export_results",
    "iter_results",
    "mask_number",
    "set_testing",
]
