"""A campaign in a process of its own, for the crash test (not a test module).

    python crash_runner.py BASE_URL JOURNAL start CONTACTS.jsonl
    python crash_runner.py BASE_URL JOURNAL resume

The test kills the first with SIGKILL part-way and checks what the second makes of
the journal. The clock runs at the sandbox's time scale.
"""

from __future__ import annotations

import asyncio
import sys

from polyout import Client
from polyout._campaign import Campaign, ScaledClock

SCALE = 1000.0


async def run(base_url: str, journal: str, mode: str, contacts: str | None) -> None:
    async with Client(
        "connector",
        api_key="crash-test",
        base_url=base_url,
        account_id="ACCOUNT-1",
        project_id="PROJECT-1",
    ) as client:
        clock = ScaledClock(scale=SCALE)
        if mode == "start":
            assert contacts is not None
            campaign = Campaign(
                client,
                contacts,
                journal=journal,
                rate=60.0,
                concurrency=40,
                max_attempts=2,
                retry_delay=50.0,
                poll_interval=(20.0, 50.0),
                poll_rate=500.0,
                clock=clock,
            )
        else:
            campaign = Campaign.resume(client, journal, clock=clock)
        await campaign.run(handle_signals=True)


if __name__ == "__main__":
    base_url, journal, mode, *rest = sys.argv[1:]
    asyncio.run(run(base_url, journal, mode, rest[0] if rest else None))
