"""The contact policy in a running campaign, on the public doubles: a VirtualClock, the
FakePlacer and its ledger (when each call was placed), the in-memory and SQLite stores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from polyout import Allow, Campaign, Contact, ContactPolicy, EventKind, PendingDial
from polyout._campaign._memory_store import MemoryStore
from polyout._campaign._policy_audit import verify_receipts
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import CampaignStore
from polyout.testing import LAST_DIGIT, FakePlacer, Refused, VirtualClock, by_number

START = datetime(
    2026, 3, 7, 12, 0, tzinfo=timezone.utc
)  # a Saturday; NY springs forward on the 8th
NY_PHONE = "+12125551000"
LONDON_PHONE = "+442079460000"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def at(posix: float) -> datetime:
    return datetime.fromtimestamp(posix, tz=timezone.utc)


async def run(
    people: list[Contact],
    *,
    store: CampaignStore | None = None,
    name: str = "default",
    start: datetime = START,
    placer: FakePlacer | None = None,
    clock: VirtualClock | None = None,
    **options: Any,
) -> tuple[FakePlacer, dict[str, dict[str, Any]], CampaignStore]:
    settings: dict[str, Any] = {"rate": 10.0, "poll_interval": (30.0, 30.0), "seed": 0}
    settings.update(options)
    store = store if store is not None else MemoryStore()

    async def go(clock: VirtualClock) -> FakePlacer:
        fake = placer or FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0)
        await Campaign(fake, people, store=store, name=name, clock=clock, **settings).run()
        return fake

    if clock is None:
        async with VirtualClock(start=start) as own:
            fake = await go(own)
    else:
        fake = await go(clock)
    stored = await store.open(name)
    results = {str(r["contact_id"]): dict(r) async for r in stored.results()}
    return fake, results, store


async def test_no_trigger_before_the_start_and_the_deadline_cancels_the_rest() -> None:
    people = [Contact(id=f"c{i}", phone=f"+1212555{1000 + i * 10:04d}") for i in range(10)]
    begin = START + timedelta(hours=2)
    policy = ContactPolicy(
        start_at=iso(begin), end_by=iso(begin + timedelta(minutes=4, seconds=30))
    )
    fake, results, _ = await run(people, rate=1 / 60, policy=policy)
    placed = sorted(at(p.at) for p in fake.ledger.placements)
    assert placed[0] >= begin
    assert len(placed) == 5  # one a minute from the start, none at or after the deadline
    assert placed[-1] < begin + timedelta(minutes=4, seconds=30)
    cancelled = [r for r in results.values() if r["state"] == "cancelled"]
    assert len(cancelled) == 5
    assert {r["reason"] for r in cancelled} == {"deadline"}
    assert {r["state"] for r in results.values()} == {"success", "cancelled"}


async def test_not_before_lands_on_the_window_after_the_dst_change_and_not_after_cancels() -> None:
    people = [
        # 21:00 EST on the 7th; New York's clocks jump at 02:00 on the 8th: 09:00 EDT is 13:00 UTC.
        Contact(id="ny", phone=NY_PHONE, not_before="2026-03-07T21:00:00-05:00"),
        # London's window today has passed (12:00 UTC is inside; not_after is before 09:00
        # tomorrow): it may only be rung in the next 30 minutes, which it is.
        Contact(id="uk", phone=LONDON_PHONE, not_after="2026-03-07T12:30:00Z"),
        Contact(id="late", phone="+442079460010", not_before="2026-03-07T20:30:00+00:00",
                not_after="2026-03-08T08:00:00Z"),
    ]  # fmt: skip
    fake, results, _ = await run(people, window="09:00-20:00", policy=ContactPolicy())
    assert [at(p.at) for p in fake.ledger.placements_to(NY_PHONE)] == [
        datetime(2026, 3, 8, 13, 0, tzinfo=timezone.utc)
    ]
    assert len(fake.ledger.placements_to(LONDON_PHONE)) == 1
    assert results["late"]["state"] == "cancelled"
    assert str(results["late"]["reason"]).startswith("not_after")
    assert fake.ledger.placements_to("+442079460010") == []


async def test_a_bad_not_before_makes_the_row_invalid_naming_the_column() -> None:
    people = [Contact(id="x", phone=NY_PHONE, not_before="2026-03-07 21:00")]
    _, results, _ = await run(people)
    assert results["x"]["state"] == "invalid"
    assert str(results["x"]["reason"]).startswith("not_before: ")


async def test_a_holiday_moves_the_call_to_the_next_working_day() -> None:
    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=timezone.utc)  # 10:00 in New York
    people = [Contact(id="ny", phone=NY_PHONE), Contact(id="uk", phone=LONDON_PHONE)]
    policy = ContactPolicy(skip_holidays=True)
    fake, _, _ = await run(people, start=christmas, window="Mon-Fri 09:00-17:00", policy=policy)
    # Boxing Day is a Saturday in 2026: the UK's substitute day is Monday the 28th.
    assert [at(p.at) for p in fake.ledger.placements_to(NY_PHONE)] == [
        datetime(2026, 12, 28, 14, 0, tzinfo=timezone.utc)
    ]
    assert [at(p.at) for p in fake.ledger.placements_to(LONDON_PHONE)] == [
        datetime(2026, 12, 29, 9, 0, tzinfo=timezone.utc)
    ]


async def test_a_rules_file_tightens_one_region(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[regions.US-FL]\nwindow = "10:00-18:00"\n')
    start = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # 09:00 in New York and Miami
    people = [
        Contact(id="fl", phone="+13055550100", subdivision="FL"),
        Contact(id="ny", phone=NY_PHONE, subdivision="US-NY"),
    ]
    fake, _, _ = await run(
        people, start=start, window="09:00-20:00", policy=ContactPolicy(rules=rules)
    )
    assert [at(p.at) for p in fake.ledger.placements_to(NY_PHONE)] == [start]
    assert [at(p.at) for p in fake.ledger.placements_to("+13055550100")] == [
        start + timedelta(hours=1)
    ]


async def test_a_cap_across_two_campaigns_of_one_sqlite_store(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    try:
        # The store answers from its own thread: time jumps once the loop is idle a moment.
        async with VirtualClock(start=START, autojump_threshold=0.005) as clock:
            first = Contact(id="a", phone=NY_PHONE)
            await run([first], store=store, name="spring", clock=clock, policy=ContactPolicy())
            cap = ContactPolicy(frequency_cap="1/24h")
            fake, results, _ = await run(
                [Contact(id="b", phone=NY_PHONE)], store=store, name="summer", clock=clock,
                policy=cap,
            )  # fmt: skip
        assert fake.ledger.placements == []
        assert results["b"]["state"] == "suppressed"
        assert "frequency cap 1/24h" in str(results["b"]["reason"])
        assert "2026-03-08T12:00:00+00:00" in str(results["b"]["reason"])
        check = await verify_receipts(await store.open("spring"))
        assert (check.receipts, check.broken) == (1, None)
    finally:
        await store.aclose()


async def test_with_a_deadline_after_it_a_capped_contact_waits_for_its_moment() -> None:
    store = MemoryStore()
    async with VirtualClock(start=START) as clock:
        await run([Contact(id="a", phone=NY_PHONE)], store=store, name="spring", clock=clock)
        waiting = ContactPolicy(frequency_cap="1/24h", end_by="2026-03-09T00:00:00Z")
        fake, results, _ = await run(
            [Contact(id="c", phone=NY_PHONE)], store=store, name="autumn", clock=clock,
            policy=waiting,
        )  # fmt: skip
    assert [at(p.at) for p in fake.ledger.placements] == [
        datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)
    ]
    assert results["c"]["state"] == "success"


async def test_numbers_refused_or_failing_are_quarantined_in_later_campaigns() -> None:
    store = MemoryStore()
    refused, failing = "+12125551010", "+12125551019"  # last digit 9: the call ends failure
    async with VirtualClock(start=START) as clock:
        fake = FakePlacer(
            clock=clock, outcomes=LAST_DIGIT, duration=60.0,
            trigger_faults=by_number({refused: [Refused("invalid number")] * 2}),
        )  # fmt: skip
        people = [Contact(id="r", phone=refused), Contact(id="f", phone=failing)]
        await run(people, store=store, name="spring", clock=clock, placer=fake, max_attempts=1)
        policy = ContactPolicy(quarantine_failures=1)
        later, results, _ = await run(
            people, store=store, name="summer", clock=clock, policy=policy
        )
        off = ContactPolicy(quarantine_failures=None, quarantine_refused=False)
        again, _, _ = await run(people, store=store, name="autumn", clock=clock, policy=off)
    assert later.ledger.placements == []
    assert results["r"]["state"] == results["f"]["state"] == "suppressed"
    assert "refused this number as invalid" in str(results["r"]["reason"])
    assert "1 calls to this number ended failure" in str(results["f"]["reason"])
    assert {p.number for p in again.ledger.placements} == {refused, failing}  # switched off


async def test_every_intent_has_a_receipt_saying_why() -> None:
    people = [Contact(id="ny", phone=NY_PHONE, subdivision="NY")]
    policy = ContactPolicy(frequency_cap="3/24h")
    _, _, store = await run(people, window="09:00-20:00", policy=policy, suppress=["+12125550000"])
    campaign = await store.open("default")
    [receipt] = [r async for r in campaign.receipts()]
    noted = receipt.body["policy"]
    assert noted["zones"] == ["America/New_York"]
    assert noted["zone_source"] == "number"
    assert noted["region"] == "US-NY"
    assert noted["local_time"].startswith("2026-03-07T09:00:00-05:00")
    assert noted["windows"] == ["campaign: 09:00-20:00"]
    assert noted["phase"] == "running"
    assert len(noted["suppression_fingerprint"]) == 64
    assert receipt.body["caps"] == [{"rule": "3/24h", "count": 0, "limit": 3}]
    assert (await verify_receipts(campaign)).broken is None


async def test_across_a_stop_the_policy_is_stored_and_a_resume_after_the_deadline_cancels() -> None:
    people = [Contact(id=f"c{i}", phone=f"+1212555{1000 + i * 10:04d}") for i in range(4)]
    store = MemoryStore()
    end_by = START + timedelta(hours=1)
    async with VirtualClock(start=START) as clock:
        fake = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=60.0)
        campaign = Campaign(
            fake, people, store=store, clock=clock, rate=1 / 60, poll_interval=(30.0, 30.0),
            policy=ContactPolicy(end_by=iso(end_by), frequency_cap="5/24h"),
            on_event=lambda event: campaign.stop() if event.kind == EventKind.PLACED else None,
        )  # fmt: skip
        await campaign.run()
        assert len(fake.ledger.placements) == 1
        await clock.sleep(2 * 3600)  # the process was down past the deadline
        resumed = Campaign.resume(fake, store=store, clock=clock)
        await resumed.run()
    stored = await store.open("default")
    results = [r async for r in stored.results()]
    assert len(fake.ledger.placements) == 1  # nothing dialled after the deadline
    assert [r["state"] for r in results] == ["success", "cancelled", "cancelled", "cancelled"]
    assert {r["reason"] for r in results[1:]} == {"deadline"}


async def test_the_pre_dial_hooks_decision_is_in_the_receipt() -> None:
    async def hook(pending: PendingDial) -> Allow:
        return Allow(note="consent on file")

    _, _, store = await run(
        [Contact(id="ny", phone=NY_PHONE)], policy=ContactPolicy(), before_dial=hook
    )
    campaign = await store.open("default")
    [receipt] = [r async for r in campaign.receipts()]
    assert receipt.body["before_dial"] == {"allowed": True, "note": "consent on file"}
    assert "policy" in receipt.body
    assert (await verify_receipts(campaign)).broken is None
