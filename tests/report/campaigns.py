"""Campaigns with known outcomes for the report tests, run on the public doubles.

``known_campaign`` dials ten London numbers and ten San Francisco numbers (the
sandbox's last-digit rule: 0-6 answered, 7 no answer, 8 busy, 9 failure), one
invalid row, and loses the answer to one London trigger (its call was placed: the
contact ends ``unknown``). Two attempts at most, ten minutes apart, calls of a minute,
one trigger a second, from 09:00 UTC on a Monday in March (09:00 in London, 01:00 in
San Francisco).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, cast

import polyout
from polyout.campaign import MemoryStore, StoredCampaign
from polyout.testing import LAST_DIGIT, AnswerLost, FakePlacer, VirtualClock, by_number

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NAME = "spring-renewals"
LONDON = [f"+44207946{n:04d}" for n in range(10)]
SAN_FRANCISCO = [f"+1415555{n:04d}" for n in range(10)]
LOST = LONDON[3]  # placed, its answer lost: unknown
INVALID = "12"


async def known_campaign() -> StoredCampaign:
    contacts = [
        polyout.Contact(id=f"c{n}", phone=phone)
        for n, phone in enumerate([*LONDON, *SAN_FRANCISCO, INVALID])
    ]
    store = MemoryStore()
    async with VirtualClock(start=START) as clock:
        placer = FakePlacer(
            clock=clock,
            outcomes=LAST_DIGIT,
            duration=60.0,
            trigger_faults=by_number({LOST: [AnswerLost(placed=True)]}),
        )
        campaign = polyout.Campaign(
            cast(polyout.Client, placer),
            contacts,
            store=store,
            name=NAME,
            rate=1.0,
            max_attempts=2,
            retry_delay=600.0,
            clock=clock,
        )
        await campaign.run()
    return await store.open(NAME)


_DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def page_data(page: str) -> dict[str, Any]:
    """The numbers a report page carries as its data."""
    found = _DATA.findall(page)
    assert len(found) == 1, "the page holds its data exactly once"
    return cast(dict[str, Any], json.loads(found[0]))
