"""The campaign runner: contacts in, calls placed and followed, results out."""

import typing

from polyout import _lazy

if typing.TYPE_CHECKING:
    from polyout._campaign._clock import Clock, ScaledClock, SystemClock
    from polyout._campaign._contacts import Contact, ContactFileError, ContactItem, RowError
    from polyout._campaign._errors import CampaignError, JournalError
    from polyout._campaign._events import CampaignEvent, CampaignStats, EventKind
    from polyout._campaign._planning import Excluded, MemoryRecord, Planned, Planner, PlanRecord
    from polyout._campaign._readers import (
        ContactSource,
        aiter_contacts,
        iter_contacts,
        read_csv,
        read_jsonl,
    )
    from polyout._campaign._results import (
        RESULT_FIELDS,
        ContactResult,
        export_results,
        iter_results,
    )
    from polyout._campaign._runner import Campaign
    from polyout._campaign._schedule import CallingWindow, zones_for
    from polyout._campaign._suppression import SuppressionList, load_suppression_list

# Loaded on first use: the command's parser imports parts of this package (the defaults,
# the policy flags) and must not load the engine with them.
_HOMES = _lazy.homes(
    ("polyout._campaign._clock", "Clock ScaledClock SystemClock"),
    ("polyout._campaign._contacts", "Contact ContactFileError ContactItem RowError"),
    ("polyout._campaign._errors", "CampaignError JournalError"),
    ("polyout._campaign._events", "CampaignEvent CampaignStats EventKind"),
    ("polyout._campaign._planning", "Excluded MemoryRecord Planned Planner PlanRecord"),
    (
        "polyout._campaign._readers",
        "ContactSource aiter_contacts iter_contacts read_csv read_jsonl",
    ),
    (
        "polyout._campaign._results",
        "RESULT_FIELDS ContactResult export_results iter_results",
    ),
    ("polyout._campaign._runner", "Campaign"),
    ("polyout._campaign._schedule", "CallingWindow zones_for"),
    ("polyout._campaign._suppression", "SuppressionList load_suppression_list"),
)

if not typing.TYPE_CHECKING:  # hidden from type checkers: a misspelt name stays an error there
    __getattr__, __dir__ = _lazy.lazy_exports(__name__, _HOMES, globals())

__all__ = [
    "RESULT_FIELDS",
    "CallingWindow",
    "Campaign",
    "CampaignError",
    "CampaignEvent",
    "CampaignStats",
    "Clock",
    "Contact",
    "ContactFileError",
    "ContactItem",
    "ContactResult",
    "ContactSource",
    "EventKind",
    "Excluded",
    "JournalError",
    "MemoryRecord",
    "PlanRecord",
    "Planned",
    "Planner",
    "RowError",
    "ScaledClock",
    "SuppressionList",
    "SystemClock",
    "aiter_contacts",
    "export_results",
    "iter_contacts",
    "iter_results",
    "load_suppression_list",
    "read_csv",
    "read_jsonl",
    "zones_for",
]
