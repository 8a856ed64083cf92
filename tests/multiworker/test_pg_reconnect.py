"""A worker whose database connections are cut reconnects and finishes, on a real PostgreSQL.

Every session of the campaign's database is cut (``pg_terminate_backend``) while triggers
are in the air, twice: the worker's campaign connection, its rate row's and its life lock's
alike. The run does not stop: it pauses sending while it cannot write, reconnects, settles
itself and finishes. The fake placer's ledger and the store agree that everybody was called
once and every call was followed to its end.
"""

from __future__ import annotations

import asyncio

from polyout import CallState, Campaign, Contact
from polyout.campaign import PostgresStore
from polyout.testing import FakePlacer, Send
from tests.pg_cluster import PgServer

CONTACTS = 12
CUT_AT = (4, 9)  # the triggers during which every session is cut


async def test_cut_sessions_are_reconnected_and_the_campaign_finishes(
    pg_server: PgServer, pg_database: str
) -> None:
    cuts: list[int] = []

    def cut_sessions(send: Send) -> None:
        if send.index in CUT_AT and send.retry == 0:
            cuts.append(pg_server.terminate(pg_database))

    people = [Contact(f"p{n}", f"+1415555{n:04d}") for n in range(CONTACTS)]
    placer = FakePlacer(
        outcomes={CallState.SUCCESS: 1.0}, duration=1.5, trigger_faults=cut_sessions
    )
    campaign = Campaign(
        placer, people, store=pg_database, name="cut", rate=8.0, poll_interval=(0.3, 0.5)
    )
    stats = await asyncio.wait_for(campaign.run(), timeout=60)

    assert len(cuts) == len(CUT_AT)
    assert all(cut >= 1 for cut in cuts)  # the worker's sessions were there to cut
    assert stats.finished == CONTACTS
    numbers = sorted(placement.number for placement in placer.ledger.placements)
    assert numbers == sorted(person.phone for person in people)
    store = await PostgresStore.connect(pg_database)
    try:
        stored = await store.open("cut")
        results = [record async for record in stored.results()]
    finally:
        await store.aclose()
    sids = {placement.number: placement.sid for placement in placer.ledger.placements}
    assert [record["state"] for record in results] == ["success"] * CONTACTS
    assert all(record["call_sid"] == sids[record["to_number"]] for record in results)
