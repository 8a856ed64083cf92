"""Small steps the conformance tests are written in: a campaign of a few contacts, and a
contact taken through the usual moves by one worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyout._campaign._states import ContactState
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignStore,
    ContactEntry,
    FeedPosition,
    StoredCampaign,
)

S = ContactState
WORKER = "worker-1"
OTHER = "worker-2"
NAME = "spring"
DEFINITION = CampaignDefinition(
    settings={"rate": 2.0, "max_attempts": 3},
    connection={"api": "agents", "base_url": "https://api.example.test", "agent_id": "ag"},
    suppressed=frozenset({"+14155550999"}),
    created_at=1000.0,
)


def number(seq: int) -> str:
    return f"+1415555{seq:04d}"


def entry(
    seq: int,
    *,
    due: float = 0.0,
    to_number: str | None = None,
    state: ContactState = S.SCHEDULED,
    reason: str | None = None,
) -> ContactEntry:
    return ContactEntry(
        seq=seq,
        contact_id=f"c{seq}",
        row=seq + 2,
        to_number=number(seq) if to_number is None else to_number,
        state=state,
        due=due if state is S.SCHEDULED else None,
        request={"metadata": {"first_name": f"N{seq}"}, "encryption": None, "variant_id": None},
        zones=("America/Los_Angeles",),
        reason=reason,
    )


async def campaign_of(
    store: CampaignStore, contacts: int = 3, *, name: str = NAME, flush: bool = True
) -> StoredCampaign:
    """A new campaign with ``contacts`` scheduled contacts due at 0, committed."""
    campaign = await store.create(name, DEFINITION)
    entries = [entry(seq) for seq in range(contacts)]
    await campaign.append(entries, FeedPosition(contacts, f"digest-{contacts}", False), now=1.0)
    if flush:
        await campaign.flush()
    return campaign


async def claim(campaign: StoredCampaign, seq: int, worker: str = WORKER, now: float = 10.0) -> int:
    """Claim contact ``seq`` alone (others claimed on the way are released); its intents."""
    due = await campaign.claim_due(worker, now, 10_000)
    others = [contact.seq for contact in due if contact.seq != seq]
    await campaign.release(worker, others)
    mine = [contact for contact in due if contact.seq == seq]
    assert mine, f"contact #{seq} was not claimable by {worker}"
    return mine[0].intents


async def dial(campaign: StoredCampaign, seq: int, worker: str = WORKER, now: float = 10.0) -> int:
    """Claim ``seq`` and open its next intent; the intent's number."""
    after = await claim(campaign, seq, worker, now)
    return await campaign.open_intent(worker, seq, after=after, now=now)


async def place(
    campaign: StoredCampaign,
    seq: int,
    sid: str,
    worker: str = WORKER,
    now: float = 10.0,
) -> int:
    """Dial ``seq`` and record its call ``sid`` placed; the intent's number."""
    intent = await dial(campaign, seq, worker, now)
    await campaign.record_placement(
        seq,
        intent,
        call_sid=sid,
        call_status="queued",
        correlation_id=f"corr-{sid}",
        deadline=now + 3600,
        now=now,
    )
    return intent


async def results(campaign: StoredCampaign) -> list[Mapping[str, Any]]:
    return [record async for record in campaign.results()]


async def result(campaign: StoredCampaign, seq: int) -> Mapping[str, Any]:
    return (await results(campaign))[seq]


async def state(campaign: StoredCampaign, seq: int) -> str:
    return str((await result(campaign, seq))["state"])


async def reopened(store: CampaignStore, name: str = NAME) -> StoredCampaign:
    return await store.open(name)
