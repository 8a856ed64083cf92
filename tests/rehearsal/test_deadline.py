"""The campaign's deadline (``end_by``) is rehearsed: who is not reached by then."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import polyout
from polyout._models import CallState
from polyout._rehearsal import CallModel, rehearse

from .helpers import MORNING, write_contacts


def test_contacts_not_reached_by_the_deadline_are_counted(tmp_path: Path) -> None:
    start = datetime.fromisoformat(MORNING)
    contacts = write_contacts(tmp_path / "contacts.csv", 100)
    forecast = asyncio.run(
        rehearse(
            contacts,
            options={
                "rate": 0.01,  # one call every 101 s: 18 in the half hour
                "policy": polyout.ContactPolicy(end_by=start + timedelta(minutes=30)),
            },
            model=CallModel.fixed({CallState.SUCCESS: 1.0}, 60.0),
            start=start.timestamp(),
        )
    )
    assert forecast.not_reached_by_deadline == forecast.states["cancelled"]
    assert forecast.states["success"] + forecast.states["cancelled"] == 100
    assert 17 <= forecast.states["success"] <= 19
    assert forecast.to_json()["not_reached_by_deadline"] == forecast.states["cancelled"]
