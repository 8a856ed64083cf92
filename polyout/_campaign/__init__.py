"""The campaign runner: contacts in, calls placed and followed, results out."""

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
