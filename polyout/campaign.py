"""The parts campaigns are built from, for users who assemble or extend them.

``polyout`` itself exports what it takes to place calls and run campaigns
(:class:`polyout.Client`, :class:`polyout.Campaign`, their results and errors). This
module holds the building blocks underneath, public and documented, for when you need
one on its own:

* **planning**: :class:`Planner` (validation, deduplication, suppression and calling
  windows, shared by a run and by :func:`check_contacts`), its record of what was
  planned (:class:`PlanRecord`, :class:`MemoryRecord`), :class:`CallingWindow`,
  :class:`SuppressionList`, and the contact file readers;
* **time and pace**: the campaign's :class:`Clock` (:class:`SystemClock`,
  :class:`ScaledClock`), and the strict :class:`Pacer` that ``Client.place`` and
  ``Client.get_status`` accept through the :class:`RequestPacer` protocol;
* **storage**: the :class:`CampaignStore` contract (its docstring is the spec) with
  :class:`SQLiteStore` (the embedded default: ``journal=PATH``), :class:`PostgresStore`
  (many workers on one database; needs ``polyout[postgres]``, imported only when used)
  and :class:`MemoryStore`,
  the contact state machine (:class:`ContactState`), and :func:`export_journal`;
* **live control**: a stored campaign's commanded phase (:class:`CampaignPhase`,
  :class:`ControlState`, set by a :class:`Command`; ``StoredCampaign.command``), its
  campaign log (:class:`CampaignLogEntry`), and :class:`AutoPauseRules`
  (``Campaign(auto_pause=...)``);
* **the engine's seam to the API**: :class:`Placer`, which ``polyout.Client`` and
  ``polyout.testing.FakePlacer`` both satisfy.

Test doubles (virtual time, an in-process API) are in :mod:`polyout.testing`.
"""

from polyout._apis import state_from_raw
from polyout._campaign._auto_pause import AutoPauseRules
from polyout._campaign._clock import Clock, ScaledClock, SystemClock
from polyout._campaign._journal import export_journal
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._placer import Placer
from polyout._campaign._planning import Excluded, MemoryRecord, Planned, Planner, PlanRecord
from polyout._campaign._preflight import Preflight, check_contacts
from polyout._campaign._readers import aiter_contacts, iter_contacts, read_csv, read_jsonl
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignExists,
    CampaignNotFound,
    CampaignStore,
    StaleTransition,
    StoredCampaign,
)
from polyout._campaign._store_control import (
    CampaignLogEntry,
    CampaignPhase,
    Command,
    ControlState,
    PhaseRefused,
)
from polyout._campaign._summary import ResultsSummary, summarize_results
from polyout._campaign._suppression import SuppressionList, load_suppression_list
from polyout._pacing import Pacer, RequestPacer

__all__ = [
    "AutoPauseRules",
    "CallingWindow",
    "CampaignDefinition",
    "CampaignExists",
    "CampaignLogEntry",
    "CampaignNotFound",
    "CampaignPhase",
    "CampaignStore",
    "Clock",
    "Command",
    "ContactState",
    "ControlState",
    "Excluded",
    "MemoryRecord",
    "MemoryStore",
    "Pacer",
    "PhaseRefused",
    "Placer",
    "PlanRecord",
    "Planned",
    "Planner",
    "PostgresStore",
    "Preflight",
    "RequestPacer",
    "ResultsSummary",
    "SQLiteStore",
    "ScaledClock",
    "StaleTransition",
    "StoredCampaign",
    "SuppressionList",
    "SystemClock",
    "aiter_contacts",
    "check_contacts",
    "export_journal",
    "iter_contacts",
    "load_suppression_list",
    "read_csv",
    "read_jsonl",
    "state_from_raw",
    "summarize_results",
]
