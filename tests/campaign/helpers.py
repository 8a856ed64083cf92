"""Helpers for the campaign tests: numbers that choose their outcome, contacts, the rig.

Campaign tests run against the in-process sandbox on 127.0.0.1, on fast clocks.

The sandbox and the campaign share one time scale (simulated seconds per real second):
a one-minute call takes 60 ms, a two-hour retention 7.2 s. Rates stay real, because
they are about what the server counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from polyout import Client
from polyout._campaign._clock import ScaledClock
from polyout._campaign._contacts import Contact
from polyout._campaign._results import ContactResult, iter_results
from polyout._campaign._runner import Campaign
from polyout.sandbox import Sandbox

SCALE = 1000.0
AGENT_ID = "PROJECT-58RP822I"
ACCOUNT_ID = "ACCOUNT-1"
PROJECT_ID = "PROJECT-1"


def number(index: int, last_digit: int = 0) -> str:
    """A distinct valid New York number whose last digit picks the sandbox outcome.

    Under the last-digit rule 0-6 succeed, 7 is no answer, 8 busy, 9 a failure.
    """
    return f"+1212555{1000 + index * 10 + last_digit:04d}"


def contacts(count: int, last_digit: int = 0, *, start: int = 0, **fields: Any) -> list[Contact]:
    return [
        Contact(id=f"c{start + i}", phone=number(start + i, last_digit), **fields)
        for i in range(count)
    ]


@attrs.define
class Rig:
    """A sandbox, a client to it, a clock shared with it, and a journal path."""

    sandbox: Sandbox
    client: Client
    clock: ScaledClock
    journal: Path

    def campaign(self, source: Any, **options: Any) -> Campaign:
        settings: dict[str, Any] = {
            "journal": self.journal,
            "rate": 200.0,
            "concurrency": 50,
            "poll_interval": (20.0, 50.0),
            "poll_rate": 500.0,
            "retry_delay": 100.0,
            "stop_grace": 2000.0,
            "clock": self.clock,
        }
        settings.update(options)
        return Campaign(self.client, source, **settings)

    def resume(self, **options: Any) -> Campaign:
        settings: dict[str, Any] = {"clock": self.clock}
        settings.update(options)
        return Campaign.resume(self.client, self.journal, **settings)

    def results(self) -> dict[str, ContactResult]:
        return {str(result.contact_id): result for result in iter_results(self.journal)}

    def placements(self) -> dict[str, int]:
        return self.sandbox.ledger.placements_per_number()


def client_for(api: str, base_url: str) -> Client:
    ids: dict[str, str] = {
        "agents": {"agent_id": AGENT_ID},
        "platform": {},
        "connector": {"account_id": ACCOUNT_ID, "project_id": PROJECT_ID},
    }[api]
    return Client(api, api_key="test-key", base_url=base_url, **ids)  # type: ignore[arg-type]


def states(results: Iterable[ContactResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.state] = counts.get(result.state, 0) + 1
    return counts
