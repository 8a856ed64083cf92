"""Chaos: several ``polyout campaign work`` processes on one PostgreSQL campaign, broken on purpose.

The creator (``campaign run --store URL``) feeds the contacts and works; three more
workers join. Along the way random workers are killed with SIGKILL and started again,
and every database session is cut (``pg_terminate_backend``). The sandbox enforces a
strict rate limit of R triggers per sliding second. When every process has exited by
itself, the sandbox's ledger and the store must agree that:

* nobody was dialled twice;
* every contact has exactly one final result;
* no one-second window held more than R triggers, as the sandbox saw them (placed or
  refused alike: a refused one still went out);
* the contacts left ``unknown`` are no more than the kills and cuts could have left
  ambiguous (a trigger in the air per disruption, a few), and each of them was dialled at
  most once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polyout.campaign import ContactState, PostgresStore
from polyout.sandbox import FaultConfig
from tests.cli.conftest import SandboxThread, start_sandbox, subprocess_env
from tests.cli.contacts import answered, write_csv
from tests.multiworker.rate_checks import busiest_second
from tests.pg_cluster import PgServer

pytestmark = pytest.mark.reliability

RATE = 10  # the sandbox's limit and the campaign's rate
CONTACTS = 120
WORKERS = 3  # besides the creator
REAP_TIMEOUT = "4"  # seconds: dead workers are settled within the test
AMBIGUOUS_PER_DISRUPTION = 3  # triggers a killed or cut worker may have had in the air
BUDGET = 75.0  # seconds for the whole campaign


def _polyout(logs: Path, env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    """``polyout ARGV``, its stderr to a file of its own (a pipe nobody reads would fill)."""
    log = (logs / f"{time.monotonic_ns()}.log").open("w")
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "polyout", *argv],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )


def _worker(logs: Path, url: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return _polyout(
        logs,
        env,
        "campaign",
        "work",
        "--store",
        url,
        "--campaign",
        "chaos",
        "--progress-interval",
        "1h",
    )


def test_workers_killed_and_cut_dial_nobody_twice_and_never_exceed_the_rate(
    pg_server: PgServer, pg_database: str, tmp_path: Path
) -> None:
    sandbox: SandboxThread = start_sandbox(faults=FaultConfig(rate_limit=RATE), retention=86400.0)
    env = subprocess_env(sandbox.base_url)
    env["POLYOUT_REAP_TIMEOUT"] = REAP_TIMEOUT
    contacts = write_csv(tmp_path / "c.csv", answered(CONTACTS))
    logs = tmp_path / "logs"
    logs.mkdir()
    creator = _polyout(
        logs,
        env,
        *("campaign", "run", str(contacts), "--store", pg_database, "--campaign", "chaos"),
        *("--rate", str(RATE), "--poll-interval", "1s", "--progress-interval", "1h"),
    )
    chaos = random.Random(16)
    kills = cuts = 0
    workers: list[subprocess.Popen[str]] = []
    finished: list[subprocess.Popen[str]] = []
    try:
        began = time.monotonic()
        time.sleep(1.5)  # the campaign exists
        workers = [_worker(logs, pg_database, env) for _ in range(WORKERS)]
        deadline = time.monotonic() + BUDGET
        while not sandbox.sandbox.ledger.placements and time.monotonic() < began + 20:
            time.sleep(0.05)  # the campaign exists and dials before anything breaks
        if not sandbox.sandbox.ledger.placements:
            pytest.fail(f"nothing was dialled:\n{_said(logs)}")
        next_blow = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            running = [w for w in workers if w.poll() is None]
            if creator.poll() is not None and not running:
                took = time.monotonic() - began
                break
            if (
                time.monotonic() >= next_blow
                and len(sandbox.sandbox.ledger.placements) < CONTACTS - 10
            ):
                if chaos.random() < 0.7 and running:
                    victim = chaos.choice(running)
                    os.kill(victim.pid, signal.SIGKILL)
                    victim.wait()
                    kills += 1
                    workers.remove(victim)
                    finished.append(victim)
                    workers.append(_worker(logs, pg_database, env))
                else:
                    pg_server.terminate(pg_database)
                    cuts += 1
                next_blow = time.monotonic() + chaos.uniform(1.5, 3.0)
            # A running worker rides out a cut; one cut while it opened the store exits 3
            # (unreachable) and is started again.
            for done in [w for w in workers if w.poll() is not None]:
                if done.returncode == 3:
                    workers.remove(done)
                    finished.append(done)
                    workers.append(_worker(logs, pg_database, env))
            time.sleep(0.1)
        else:
            counts, _ = asyncio.run(_stored(pg_database))
            pytest.fail(f"the campaign did not finish in time: {counts}\n{_said(logs)}")
    finally:
        for process in [creator, *workers]:
            if process.poll() is None:
                process.kill()
                process.communicate()
        sandbox.stop()
    for log in logs.iterdir():
        assert "Traceback" not in log.read_text(), log.read_text()

    ledger = sandbox.sandbox.ledger
    assert not ledger.dialled_more_than_once()
    triggers = [p.wall_time for p in ledger.placements] + [
        r.wall_time for r in ledger.rejections if r.endpoint == "trigger"
    ]
    assert busiest_second(triggers) <= RATE

    counts, results = asyncio.run(_stored(pg_database))
    assert sum(counts.values()) == CONTACTS
    assert set(counts) <= {ContactState.SUCCESS, ContactState.UNKNOWN}, counts
    assert len({result.split(":")[0] for result in results}) == len(results) == CONTACTS
    unknown = counts.get(ContactState.UNKNOWN, 0)
    disruptions = kills + cuts * (WORKERS + 1)
    assert unknown <= disruptions * AMBIGUOUS_PER_DISRUPTION, (unknown, kills, cuts)
    print(
        f"chaos: {kills} kills, {cuts} cuts, {unknown} unknown, "
        f"{len(ledger.placements)} placed, busiest second {busiest_second(triggers)}/{RATE}, "
        f"{took:.1f} s"
    )


def _said(logs: Path) -> str:
    return "\n".join(log.read_text()[-1500:] for log in sorted(logs.iterdir()))


async def _stored(url: str) -> tuple[dict[ContactState, int], list[str]]:
    store = await PostgresStore.connect(url)
    try:
        stored = await store.open("chaos")
        counts = await stored.counts()
        results = [f"{record['contact_id']}:{record['state']}" async for record in stored.results()]
    finally:
        await store.aclose()
    return counts, results
