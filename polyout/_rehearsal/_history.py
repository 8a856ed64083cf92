"""The rehearsal store's memory of a past campaign (``--like``), as a real store's would be.

Learned retry timing reads the store's history across its campaigns (the answers
capability). A campaign run like a past one would most often run in the same store, so
the rehearsal's in-memory store holds the past campaign's calls too, as a campaign of
its own: its contacts, one intent each, with their outcomes. Its times are moved by whole
days to end just before the rehearsal starts, so that they fall within the history the
learner reads and keep their local hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from polyout._campaign._memory_backing import (
    CampaignData,
    ContactRecord,
    IntentRecord,
    MemoryBacking,
)
from polyout._campaign._retry_timing import PastCall
from polyout._campaign._store import CampaignDefinition, ContactEntry, FeedPosition

__all__ = ["PAST_CAMPAIGN", "backing_with"]

#: The past campaign's name in the rehearsal's store.
PAST_CAMPAIGN = "like"
_DAY = 86400.0


def backing_with(calls: Sequence[PastCall], start: float) -> MemoryBacking:
    """A store's backing holding ``calls`` as a finished campaign, ended before ``start``."""
    backing = MemoryBacking()
    if not calls:
        return backing
    shift = math.floor((start - max(call.ended_at for call in calls)) / _DAY) * _DAY
    contacts = {}
    for seq, call in enumerate(calls):
        entry = ContactEntry(
            seq=seq,
            contact_id=None,
            row=None,
            to_number=call.to_number,
            state=call.outcome,
            zones=call.zones,
        )
        intent = IntentRecord(
            1,
            call.placed_at + shift,
            call.outcome.value,
            f"PAST-{seq}",
            None,
            call.ended_at + shift,
        )
        contacts[seq] = ContactRecord(entry, call.outcome, None, [intent], attempts=1)
    definition = CampaignDefinition({}, {}, frozenset(), start + shift)
    backing.campaigns[PAST_CAMPAIGN] = CampaignData(
        definition, FeedPosition(len(calls), None, True), contacts
    )
    return backing
