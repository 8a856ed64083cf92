"""Campaigns with a default country for national numbers (issue 17, item 25).

The country is part of what defines a campaign: a resume reads the rest of the list the
same way, and refuses to read it another way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import polyout
import polyout.campaign
from polyout import Campaign, Contact
from polyout.sandbox import Sandbox, SandboxConfig
from tests.campaign.helpers import SCALE, client_for
from tests.campaign_input.conftest import WriteFile
from tests.campaign_input.test_default_country import E164, NATIONAL, US_EXPORT


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    config = SandboxConfig(outcomes="last-digit", time_scale=SCALE)
    async with Sandbox(config) as running:
        yield running


def campaign(client: polyout.Client, source: object, journal: Path, **options: object) -> Campaign:
    clock = polyout.campaign.ScaledClock(scale=SCALE)
    settings: dict[str, object] = {
        "journal": journal,
        "rate": 200.0,
        "poll_interval": (20.0, 50.0),
        "poll_rate": 500.0,
        "clock": clock,
    }
    settings.update(options)
    return Campaign(client, source, **settings)  # type: ignore[arg-type]


async def test_a_campaign_dials_a_us_export_with_the_default_country(
    sandbox: Sandbox, write: WriteFile, tmp_path: Path
) -> None:
    path = write("export.csv", US_EXPORT)
    async with client_for("agents", sandbox.base_url) as client:
        summary = await campaign(client, path, tmp_path / "j.db", default_country="US").run()
    assert summary.complete
    assert summary.states == {"success": len(NATIONAL)}
    assert sandbox.ledger.placements_per_number() == dict.fromkeys(E164, 1)


async def test_a_bad_default_country_refuses_the_campaign_before_its_journal(
    sandbox: Sandbox, write: WriteFile, tmp_path: Path
) -> None:
    path = write("export.csv", US_EXPORT)
    journal = tmp_path / "j.db"
    async with client_for("agents", sandbox.base_url) as client:
        with pytest.raises(polyout.ConfigurationError, match="default_country"):
            campaign(client, path, journal, default_country="America")
    assert not journal.exists()
    assert sandbox.ledger.placements == []


async def test_a_resume_reads_the_rest_in_the_same_default_country(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    people = [Contact(id=f"c{i}", phone=number) for i, number in enumerate(NATIONAL)]
    journal = tmp_path / "j.db"
    holder: list[Campaign] = []

    async def slow_source() -> AsyncIterator[Contact]:
        for index, person in enumerate(people):
            if index == 2:
                holder[0].stop()
            yield person
            await asyncio.sleep(0.01)

    async with client_for("agents", sandbox.base_url) as client:
        first = campaign(client, slow_source(), journal, default_country="US")
        holder.append(first)
        summary = await first.run()
        assert not summary.input_done
        clock = polyout.campaign.ScaledClock(scale=SCALE)
        resumed = await Campaign.resume(client, journal, contacts=people, clock=clock).run()
    assert resumed.complete
    assert resumed.states == {"success": len(NATIONAL)}
    assert sandbox.ledger.placements_per_number() == dict.fromkeys(E164, 1)


async def test_resume_refuses_another_default_country(sandbox: Sandbox, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    people = [Contact(id="c0", phone=NATIONAL[0])]
    async with client_for("agents", sandbox.base_url) as client:
        await campaign(client, people, journal, default_country="US").run()
        assert Campaign.resume(client, journal, default_country="us") is not None
        # The rows already planned were read as US numbers: the same list is never read
        # two ways within one campaign.
        with pytest.raises(polyout.JournalError, match=r"'US'.*'CA'"):
            Campaign.resume(client, journal, default_country="CA")
