"""Webhooks and the pre-dial hook through the ``polyout`` command, against the sandbox and
a real receiver on 127.0.0.1: a SIGKILL and a resume lose no event, nothing secret is
ever printed or stored."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path

import attrs

from tests.cli.conftest import SandboxThread, subprocess_env
from tests.cli.contacts import answered, number, write_csv
from tests.webhooks.receiver import OK, Answer, Receiver, Request, receiving

SECRET = "whsec-cli-0b5f1c2d3e4f5a6b"
FAST = ["--rate", "20", "--poll-interval", "0.05s", "--progress-interval", "0s"]


@attrs.frozen
class Ran:
    code: int
    out: str
    err: str


def env(base_url: str, *, secret: str | None = SECRET) -> dict[str, str]:
    environment = subprocess_env(base_url)
    if secret is not None:
        environment["POLYOUT_WEBHOOK_SECRET"] = secret
    return environment


async def spawn(
    base_url: str, *argv: str, secret: str | None = SECRET
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "polyout",
        *argv,
        env=env(base_url, secret=secret),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def polyout(base_url: str, *argv: str, secret: str | None = SECRET) -> Ran:
    process = await spawn(base_url, *argv, secret=secret)
    talking = asyncio.ensure_future(process.communicate())
    try:
        out, err = await asyncio.wait_for(asyncio.shield(talking), 60)
    except TimeoutError:  # a hang: the test fails saying what the command printed
        process.kill()
        out, err = await talking
        raise AssertionError(f"polyout {' '.join(argv)} hung:\n{err.decode()[-3000:]}") from None
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def results(journal: Path) -> dict[str, dict[str, object]]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT contact_id, state, to_number, attempts FROM contacts").fetchall()
    return {row[0]: {"state": row[1], "to_number": row[2], "attempts": row[3]} for row in rows}


def final_events(receiver: Receiver) -> dict[str, Request]:
    """Each contact's last delivered ``contact.finished``."""
    return {
        request.json["data"]["contact_id"]: request
        for request in receiver.delivered()
        if request.json["type"] == "contact.finished"
    }


def files_in(folder: Path) -> list[bytes]:
    """Every file's bytes: the journal, its -wal, the contacts, the run log."""
    return [path.read_bytes() for path in folder.iterdir() if path.is_file()]


def secret_free(*texts: str | bytes) -> bool:
    return all(
        SECRET not in (text.decode("latin-1") if isinstance(text, bytes) else text)
        for text in texts
    )


async def test_a_sigkilled_run_and_its_resume_deliver_every_final_state(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", answered(40))  # no retry days later
    journal = tmp_path / "contacts.polyout.db"

    def flaky(request: Request, n: int) -> Answer:  # fails, hangs, is slow, drops
        return [OK, Answer(status=500), OK, Answer(delay=0.05), Answer(drop=True), OK][n % 6]

    async with receiving(flaky) as receiver:
        first = await spawn(
            sandbox.base_url,
            "campaign", "run", str(contacts), "--journal", str(journal),
            "--webhook", receiver.url, "--rate", "8", "--poll-interval", "0.05s",
        )  # fmt: skip
        for _ in range(400):  # until some contacts' final events went out (at most 20 s)
            await asyncio.sleep(0.05)
            if len(final_events(receiver)) >= 5 or first.returncode is not None:
                break
        assert first.returncode is None, "the run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        out1, err1 = await first.communicate()
        assert first.returncode == -signal.SIGKILL
        delivered_before = len(final_events(receiver))
        assert delivered_before < 40

        resumed = await polyout(sandbox.base_url, "-v", "campaign", "resume", str(journal))
        if "not delivered yet" in resumed.err:
            # Retries back off exponentially: on a busy machine the drain (30 s) may end
            # before the last ones. They are kept, and the command it names sends them.
            assert "polyout campaign deliver" in resumed.err
            sent = await polyout(sandbox.base_url, "campaign", "deliver", str(journal))
            assert sent.code == 0, sent.err
    assert resumed.code in (0, 1), resumed.err
    final = results(journal)
    assert len(final) == 40
    events = final_events(receiver)
    assert set(events) == set(final)  # every contact, at least once
    for contact_id, request in events.items():
        assert request.verified(SECRET)
        assert request.json["data"]["state"] == final[contact_id]["state"]
        assert request.json["data"]["to_number"] == final[contact_id]["to_number"]
    types = [request.json["type"] for request in receiver.delivered()]
    assert "campaign.finished" in types
    with sqlite3.connect(journal) as db:
        assert (
            db.execute("SELECT count(*) FROM outbox WHERE status != 'delivered'").fetchone()[0] == 0
        )
    assert secret_free(out1, err1, resumed.out, resumed.err, *files_in(tmp_path))


async def test_an_undelivered_outbox_is_named_and_deliver_sends_it(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", range(3))
    journal = tmp_path / "contacts.polyout.db"
    async with receiving() as closed:
        url = closed.url  # nobody listens there any more
    ran = await polyout(
        sandbox.base_url,
        "campaign", "run", str(contacts), "--journal", str(journal), "--webhook", url,
        "--webhook-drain", "0.5s", *FAST,
    )  # fmt: skip
    assert ran.code == 0, ran.err
    assert "not delivered yet" in ran.err
    assert f"polyout campaign deliver {journal}" in ran.err

    async with receiving() as receiver:
        sent = await polyout(
            sandbox.base_url, "campaign", "deliver", str(journal), "--webhook", receiver.url
        )
    assert sent.code == 0, sent.err
    assert "0 pending, 0 dead" in sent.out
    # status and report show the outbox; the JSON says where it goes and what is left.
    status = await polyout(sandbox.base_url, "campaign", "status", str(journal), "--json")
    webhooks = json.loads(status.out)["webhooks"]
    assert (webhooks["endpoint"], webhooks["pending"], webhooks["dead"]) == (receiver.url, 0, 0)
    assert webhooks["delivered"] >= 3
    report = await polyout(sandbox.base_url, "campaign", "report", str(journal))
    assert f"webhooks to {receiver.url}: {webhooks['delivered']} delivered, 0 pending" in report.out
    assert {request.json["data"].get("contact_id") for request in receiver.delivered()} >= {
        "c0",
        "c1",
        "c2",
    }
    assert all(request.verified(SECRET) for request in receiver.delivered())
    assert secret_free(ran.out, ran.err, sent.out, sent.err)


async def test_a_webhook_needs_its_secret_in_one_line(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", range(2))
    journal = tmp_path / "contacts.polyout.db"
    ran = await polyout(
        sandbox.base_url,
        "campaign", "run", str(contacts), "--journal", str(journal),
        "--webhook", "http://127.0.0.1:9/hooks", secret=None,
    )  # fmt: skip
    assert ran.code == 2
    assert ran.err.strip().splitlines() == [
        "polyout: error: --webhook: a webhook needs a secret to sign with: set "
        "POLYOUT_WEBHOOK_SECRET"
    ]
    assert sandbox.placements() == 0
    assert not journal.exists()  # refused before anything was made
    bad = await polyout(
        sandbox.base_url,
        "campaign", "run", str(contacts), "--journal", str(journal), "--webhook", "ftp://x",
    )  # fmt: skip
    assert bad.code == 2
    assert "--webhook" in bad.err
    assert len(bad.err.strip().splitlines()) == 1


async def test_resuming_a_campaign_with_a_webhook_asks_for_its_secret(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", range(2))
    journal = tmp_path / "contacts.polyout.db"
    async with receiving() as receiver:
        first = await spawn(
            sandbox.base_url,
            "campaign", "run", str(contacts), "--journal", str(journal),
            "--webhook", receiver.url, "--rate", "0.5",
        )  # fmt: skip
        for _ in range(200):
            await asyncio.sleep(0.05)
            if receiver.requests:
                break
        first.send_signal(signal.SIGKILL)
        await first.communicate()
    ran = await polyout(sandbox.base_url, "campaign", "resume", str(journal), secret=None)
    assert ran.code == 2, ran.err
    assert "POLYOUT_WEBHOOK_SECRET" in ran.err
    assert receiver.url in ran.err
    (error,) = [line for line in ran.err.splitlines() if line.startswith("polyout: error")]
    assert "POLYOUT_WEBHOOK_SECRET" in error
    assert "Traceback" not in ran.err


async def test_the_pre_dial_url_allows_denies_and_fails_closed(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    contacts = write_csv(tmp_path / "contacts.csv", range(3))
    journal = tmp_path / "contacts.polyout.db"

    def decide(request: Request, n: int) -> Answer:
        phone = request.json["to_number"]
        if phone == number(1):
            return Answer(body=json.dumps({"allow": False, "reason": "opted out"}).encode())
        if phone == number(2):
            return Answer(status=503)  # fails closed: deferred, never dialled
        return Answer(body=b'{"allow": true}')

    async with receiving(decide) as hook:
        run = await spawn(
            sandbox.base_url,
            "campaign", "run", str(contacts), "--journal", str(journal),
            "--before-dial-url", hook.url, *FAST, "--stop-grace", "0s",
        )  # fmt: skip
        for _ in range(400):  # c2's answer failed: it waits a minute to be asked again
            await asyncio.sleep(0.05)
            settled = journal.exists() and results(journal).get("c0", {}).get("state")
            if settled == "success" and any(r.json["contact_id"] == "c2" for r in hook.requests):
                break
        run.send_signal(signal.SIGINT)  # a graceful stop: c2 stays scheduled, undialled
        out, err = await asyncio.wait_for(run.communicate(), 30)
        ran = Ran(run.returncode or 0, out.decode(), err.decode())
    final = results(journal)
    assert final["c0"]["state"] == "success"
    assert final["c1"]["state"] == "suppressed"
    assert final["c2"]["state"] == "scheduled"  # deferred: tried again a minute later
    ledger = sandbox.sandbox.ledger.placements
    assert {placement.number for placement in ledger} == {number(0)}
    assert all(request.verified(SECRET) for request in hook.requests)
    assert {request.json["contact_id"] for request in hook.requests} >= {"c0", "c1", "c2"}
    with sqlite3.connect(journal) as db:
        reason = db.execute("SELECT reason FROM contacts WHERE contact_id = 'c1'").fetchone()[0]
    assert reason == "pre-dial hook: opted out"
    assert secret_free(ran.out, ran.err)
