"""The public surface, pinned: a name added or removed here is an API change to record."""

from __future__ import annotations

import types

import pytest

import polyout
import polyout.campaign
import polyout.testing
from tests.fresh_interpreter import printed_by

POLYOUT = {
    "DEFAULT_POLL_INTERVAL", "DEFAULT_WAIT_DEADLINE", "RESULT_FIELDS",
    "APIStatusError", "AuthenticationError", "BadRequestError", "Call", "CallRequest",
    "CallState", "CallStatus", "Campaign", "CampaignError", "CampaignEvent", "CampaignStats",
    "Client", "ClientClosedError", "ConfigurationError", "Contact", "ContactFileError",
    "ContactResult", "ContactState", "Encryption", "EventKind", "JournalError", "NotFoundError",
    "PermissionDeniedError", "PolyOutError", "RateLimitError", "RowError", "ServerError",
    "Timeout", "TransportError", "TriggerOutcomeUnknown", "ValidationError", "__version__",
    "build_request", "export_results", "iter_results", "mask_number", "set_testing",
    "ContactPolicy",
}  # fmt: skip

CAMPAIGN = {
    "CallingWindow", "CampaignDefinition", "CampaignExists", "CampaignNotFound",
    "CampaignStore", "Clock", "ContactState", "MemoryRecord", "MemoryStore", "Pacer",
    "PlanRecord", "Placer", "Planned", "Planner", "Preflight", "Excluded", "RequestPacer",
    "ResultsSummary", "SQLiteStore", "ScaledClock", "StaleTransition", "StoredCampaign",
    "SuppressionList", "SystemClock", "aiter_contacts", "check_contacts", "export_journal",
    "iter_contacts", "load_suppression_list", "read_csv", "read_jsonl", "state_from_raw",
    "summarize_results",
    "PostgresStore",
    "AutoPauseRules", "CampaignLogEntry", "CampaignPhase", "Command", "ControlState",
    "PhaseRefused",
}  # fmt: skip


def public_names(module: types.ModuleType) -> set[str]:
    """What a user can reach with ``module.NAME``, submodules aside (loaded on first use
    or not: ``dir`` lists both)."""
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    } | ({"__version__"} if hasattr(module, "__version__") else set())


def test_polyout_exports_exactly_what_a_client_or_campaign_user_needs() -> None:
    assert set(polyout.__all__) == POLYOUT
    assert public_names(polyout) == POLYOUT


def test_the_building_blocks_live_in_polyout_campaign() -> None:
    assert set(polyout.campaign.__all__) == CAMPAIGN
    assert public_names(polyout.campaign) == CAMPAIGN


def test_every_exported_name_is_documented() -> None:
    for module in (polyout, polyout.campaign, polyout.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, (type, types.FunctionType)):
                assert value.__doc__, f"{module.__name__}.{name} has no docstring"


WEBHOOKS = {"SIGNATURE_HEADER", "WebhookSignatureError", "sign", "verify"}


def test_polyout_webhooks_is_the_receivers_module() -> None:
    import polyout.webhooks

    assert set(polyout.webhooks.__all__) == WEBHOOKS
    # ``annotations`` is the module's ``from __future__`` import, not an export.
    assert public_names(polyout.webhooks) - {"annotations"} == WEBHOOKS
    for name in ("WebhookSignatureError", "sign", "verify"):
        assert getattr(polyout.webhooks, name).__doc__


# Webhooks and the pre-dial hook (issue 13).
POLYOUT.update({"Allow", "Deny", "PendingDial", "Webhook"})


def test_import_polyout_is_quick_and_loads_each_name_on_first_use() -> None:
    # In a fresh interpreter: this one has long loaded everything.
    probe = (
        "import sys, polyout\n"
        "loaded = lambda: {'aiohttp', 'polyout._campaign', 'polyout._client'} & set(sys.modules)\n"
        "print(sorted(loaded()))\n"
        "polyout.CallStatus\n"
        "print(sorted(loaded()))\n"
        "from polyout import Client\n"
        "print(sorted(loaded()))\n"
    )
    assert printed_by(probe).splitlines() == [
        "[]",
        "[]",
        "['aiohttp', 'polyout._client']",
    ]


def test_every_name_is_the_object_of_its_home_module() -> None:
    from polyout._campaign._facade import Campaign
    from polyout._client import Client
    from polyout._errors import TriggerOutcomeUnknown

    assert (polyout.Campaign, polyout.Client) == (Campaign, Client)
    assert polyout.TriggerOutcomeUnknown is TriggerOutcomeUnknown
    assert set(dir(polyout)) >= POLYOUT
    with pytest.raises(AttributeError, match="no attribute 'Clinet'"):
        polyout.Clinet  # type: ignore[attr-defined]  # noqa: B018
