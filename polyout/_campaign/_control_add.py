"""Contacts added to a campaign that exists (``polyout campaign add``): clause C7.

Added contacts are planned exactly as a first load plans them (the campaign's stored
settings: window, default zone and country, contact policy, its do-not-call list as it
is now), and each number and id is judged a duplicate against every contact already in
the campaign (the store answers). They take the seqs after everything stored, and only
once the campaign's own source was read to its end: the creator's feed keeps its
positions (a resume after a crash re-reads it exactly), and an added batch can never
interleave with it. A batch is one append: it is stored whole or not at all. Two adds
racing for the same seqs: the second is refused by the store (clause 12) and planned
again after the first.

The campaign log gets one ``contacts_added`` line, which moves the control revision:
running workers pick the new contacts up within a poll, without a restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from polyout._campaign._config import CampaignConfig
from polyout._campaign._contacts import ContactItem
from polyout._campaign._feeder import _AskStore, _Record, entry_for
from polyout._campaign._planning import Planner
from polyout._campaign._policy_wiring import plan_policy
from polyout._campaign._readers import ContactSource, aiter_contacts
from polyout._campaign._states import ContactState
from polyout._campaign._store import ContactEntry, FeedPosition, StaleTransition, StoredCampaign
from polyout._campaign._store_control import FeedNotDone
from polyout._campaign._windows import parse_window

__all__ = ["BATCH", "add_contacts", "added_position"]

#: Contacts per append: one short transaction (beside a runner, it waits for this one).
BATCH = 256
_RACES = 5


def added_position(position: FeedPosition, added: int) -> FeedPosition:
    """The feed position after ``added`` contacts appended by ``campaign add`` (C7)."""
    if not position.done:
        raise FeedNotDone(
            "the campaign's contact file is still being loaded: add contacts once it is "
            "(polyout campaign status shows 'input_done')"
        )
    return FeedPosition(position.count + added, position.digest, True)


async def add_contacts(
    campaign: StoredCampaign, source: ContactSource, *, now: Callable[[], float], by: str
) -> Counter[ContactState]:
    """Plan and append every item of ``source``; how many ended in each state."""
    definition = await campaign.definition()
    config = CampaignConfig.from_json(definition.settings)
    added: Counter[ContactState] = Counter()
    added_position(await campaign.feed_position(), 0)  # refused before reading anything
    batch: list[ContactItem] = []
    async for item in aiter_contacts(source):
        batch.append(item)
        if len(batch) >= BATCH:
            added += await _store_batch(campaign, batch, definition.suppressed, config, now)
            batch = []
    if batch:
        added += await _store_batch(campaign, batch, definition.suppressed, config, now)
    detail = ", ".join(f"{state} {count}" for state, count in sorted(added.items()))
    await campaign.log_campaign_event("contacts_added", detail=detail or "none", by=by, now=now())
    await campaign.flush()
    return added


async def _store_batch(
    campaign: StoredCampaign,
    items: list[ContactItem],
    suppressed: frozenset[str],
    config: CampaignConfig,
    now: Callable[[], float],
) -> Counter[ContactState]:
    window = parse_window(config.window)
    for _ in range(_RACES):
        position = await campaign.feed_position()
        record = _Record()
        record.earlier = True  # every number already in the campaign counts
        planner = Planner(
            suppress=suppressed,
            window=window,
            default_timezone=config.default_timezone,
            default_country=config.default_country,
            record=record,
            policy=plan_policy(config.policy, config.window),
        )
        entries: list[ContactEntry] = []
        for offset, item in enumerate(items):
            while True:
                try:
                    plan = planner.plan(item)
                except _AskStore as ask:
                    await record.learn(campaign, ask)
                    continue
                record.forget()
                break
            entries.append(entry_for(position.count + offset, plan, window, now()))
        try:
            await campaign.append(entries, added_position(position, len(entries)), now=now())
        except StaleTransition:
            continue  # another add took these seqs first: plan again after it
        await campaign.flush()  # one short transaction each, durable
        return Counter(entry.state for entry in entries)
    raise StaleTransition("other contacts are being added at the same time: try again")
