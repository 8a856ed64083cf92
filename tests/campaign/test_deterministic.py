"""The engine on the doubles: 10,000 contacts, days of calling windows, a change of clocks
and a 429 storm, in seconds of wall time, with exact outcomes.

The in-memory store, ``polyout.testing.FakePlacer`` and a ``VirtualClock``: nothing here
waits for real, and every draw is seeded, so each count is exact. The calling window
is 09:00-17:00 in each callee's own zone (New York and Los Angeles), from a Friday
evening through the night the US clocks go forward (2026-03-08) into the Sunday;
a 429 storm hits every trigger for ten minutes on the Saturday, and every status read
an hour later.

What it proves: every contact ends in exactly the state its number's last digit
decides (the outcome retries included), every placement of the fake's ledger is one
intent the store recorded as placed (never two calls for one intent), and no call was
placed outside its callee's calling window, before or after the change of clocks.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from polyout import Campaign, Contact, RowError
from polyout._campaign._events import CampaignStats
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._store import StoredCampaign
from polyout.testing import LAST_DIGIT, FakePlacer, RateLimited, VirtualClock, rate_limit_storm

NEW_YORK, LOS_ANGELES = "America/New_York", "America/Los_Angeles"
START = datetime(2026, 3, 6, 22, 0, tzinfo=timezone.utc)  # Friday 17:00 in New York
STORM = (
    datetime(2026, 3, 7, 18, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 7, 18, 10, tzinfo=timezone.utc),
)
STORM_TIMES = tuple(moment.timestamp() for moment in STORM)
WINDOW = "09:00-17:00"
CONTACTS = 10_000
INVALID, DUPLICATE, SUPPRESSED = 100, 50, 50
OUTCOME_BY_DIGIT = {
    **{str(d): "success" for d in range(7)},
    "7": "no_answer",
    "8": "busy",
    "9": "failure",
}


def _people() -> tuple[list[Contact | RowError], frozenset[str]]:
    """10,000 items: dialable contacts in two zones, bad rows, repeats and suppressed ones."""
    dialable = CONTACTS - INVALID - DUPLICATE
    people = [
        Contact(f"c{n}", f"+1{area}55{n:05d}", timezone=zone)
        for n in range(dialable)
        for zone, area in [(NEW_YORK, "212") if n % 2 else (LOS_ANGELES, "415")]
    ]
    items: list[Contact | RowError] = [*people]
    for n in range(INVALID):
        items.append(RowError(row=dialable + n, reason="no phone number", contact_id=f"bad{n}"))
    for n in range(DUPLICATE):  # the numbers of earlier contacts, under new ids
        items.append(Contact(f"again{n}", people[n].phone, timezone=LOS_ANGELES))
    suppressed = frozenset(person.phone for person in people[100 : 100 + SUPPRESSED])
    return items, suppressed


async def _run(
    items: list[Contact | RowError], suppressed: frozenset[str]
) -> tuple[CampaignStats, FakePlacer, StoredCampaign, float]:
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(
            clock=clock,
            outcomes=LAST_DIGIT,
            duration=(40.0, 200.0),
            trigger_faults=rate_limit_storm(*STORM, retry_after=5.0),
            # Status reads meet their own storm an hour later: calls are seen to end late.
            status_faults=rate_limit_storm(*(t + 3600 for t in STORM_TIMES), retry_after=5.0),
        )
        store = MemoryStore()
        campaign = Campaign(
            placer,
            items,
            store=store,
            name="night",
            rate=0.25,
            concurrency=40,
            max_attempts=2,
            retry_delay=3 * 3600.0,
            window=WINDOW,
            poll_interval=(30.0, 120.0),
            max_not_placed=10,
            suppress=suppressed,
            seed=0,
            clock=clock,
        )
        started = time.process_time()
        stats = await campaign.run()
        return stats, placer, await store.open("night"), time.process_time() - started


async def test_ten_thousand_contacts_over_days_end_exactly() -> None:
    items, suppressed = _people()
    stats, placer, campaign, cpu = await _run(items, suppressed)

    # Exact outcomes: each dialable contact by its last digit; exclusions as planned.
    dialable = [
        item for item in items[: CONTACTS - INVALID - DUPLICATE] if isinstance(item, Contact)
    ]
    expected = Counter(
        OUTCOME_BY_DIGIT[contact.phone[-1]]
        for contact in dialable
        if contact.phone not in suppressed
    )
    expected.update(invalid=INVALID, duplicate=DUPLICATE, suppressed=SUPPRESSED)
    assert stats.states == dict(expected)
    assert stats.complete
    assert stats.total == CONTACTS
    assert {state.value: count for state, count in (await campaign.counts()).items()} == dict(
        expected
    )

    # Outcome retries: a retryable outcome is dialled exactly twice (max_attempts), the
    # rest once; suppressed and repeated numbers never beyond their first contact's calls.
    calls = placer.ledger.placements_per_number()
    for contact in dialable:
        wanted = 0 if contact.phone in suppressed else 2 if contact.phone[-1] in "789" else 1
        assert calls.get(contact.phone, 0) == wanted, contact
    assert sum(calls.values()) == stats.placed
    assert not placer.ledger.unanswered()

    # Every placement is one intent the store recorded as placed, with its own sid.
    placed_sids: Counter[str | None] = Counter()
    for seq in range(CONTACTS):
        for entry in await campaign.history(seq):
            if entry.event == "placed":
                placed_sids[entry.call_sid] += 1
    assert placed_sids == Counter(placement.sid for placement in placer.ledger.placements)

    # No call outside 09:00-17:00 in its callee's zone, before or after the change of clocks.
    zone_of = {contact.phone: ZoneInfo(contact.timezone or "") for contact in dialable}
    local_days: Counter[str] = Counter()
    for placement in placer.ledger.placements:
        local = datetime.fromtimestamp(placement.at, zone_of[placement.number])
        assert 9 <= local.hour < 17, (placement.sid, local)
        local_days[f"{local:%a} {local.tzname()}"] += 1
    # The campaign really crossed the change: calls on both sides of it, in both zones.
    assert {"Fri PST", "Sat EST", "Sat PST", "Sun EDT", "Sun PDT"} <= set(local_days), local_days

    # The storm was met, and slowed everyone without losing or doubling a call.
    assert stats.rate_limited > 0
    assert any(isinstance(send.fault, RateLimited) for send in placer.ledger.sends)
    assert stats.elapsed > 86400  # days of calling windows...
    # ...in seconds: CPU seconds, which a loaded machine does not inflate as it does wall
    # time (about 15 s on an idle core of this machine's, 2026).
    assert cpu < 60, f"{cpu:.1f} s of CPU"
