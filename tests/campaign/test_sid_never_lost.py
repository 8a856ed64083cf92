"""Issue 17 item 10: a call placed just as the store fails to write keeps its sid somewhere.

The store cannot record the sid (a full disk): the run stops, and the error itself, and
an ERROR log record, name the call's sid and the masked number, so an operator can follow
the call by hand. The contact is never dialled again.
"""

from __future__ import annotations

import logging

import pytest

from polyout import Campaign, Contact, JournalError, mask_number
from polyout._campaign._memory_store import MemoryCampaign, MemoryStore
from polyout.testing import LAST_DIGIT, FakePlacer, VirtualClock


class FullDiskCampaign(MemoryCampaign):
    """A campaign whose third sid write fails, as a full disk makes it fail."""

    sid_writes = 0

    async def record_placement(self, seq: int, intent: int, **fields: object) -> None:
        FullDiskCampaign.sid_writes += 1
        if FullDiskCampaign.sid_writes == 3:
            raise JournalError("cannot write the journal: database or disk is full")
        await super().record_placement(seq, intent, **fields)  # type: ignore[arg-type]


class FullDiskStore(MemoryStore):
    def _campaign(self, name: str) -> MemoryCampaign:
        return FullDiskCampaign(self, name)


async def test_a_sid_the_store_cannot_write_is_named_in_the_error_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = [Contact(f"p{n}", f"+1415555{n:03d}0") for n in range(6)]
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0)
        campaign = Campaign(placer, people, store=FullDiskStore(), rate=1.0, clock=clock)
        with caplog.at_level(logging.ERROR, logger="polyout"), pytest.raises(JournalError) as err:
            await campaign.run()
    placed = placer.ledger.placements
    lost = placed[2]  # the third placement: its sid never reached the store
    masked = mask_number(lost.number)
    assert f"call {lost.sid} to {masked} was placed and is not recorded" in str(err.value)
    assert any(lost.sid in record.getMessage() for record in caplog.records)
    assert "+14155550020" not in str(err.value) + caplog.text  # masked, never in full
    assert len({p.number for p in placed}) == len(placed)  # nobody dialled twice
