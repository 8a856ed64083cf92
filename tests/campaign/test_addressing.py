"""Addressing a campaign: ``--store URL --campaign NAME`` or ``--journal PATH`` (issue 16).

A reference parses once, shows itself without its password wherever it is printed, and
opens its store; what cannot work is a ConfigurationError naming the setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import polyout
from polyout import Campaign, Contact
from polyout._campaign._addressing import (
    StoreKind,
    opened_campaign,
    parse_store,
    redact_store_url,
    store_ref,
    store_url_secrets,
)
from polyout._campaign._sqlite_store import SQLiteStore
from polyout.campaign import CampaignDefinition, CampaignExists, CampaignNotFound, ContactState
from polyout.testing import LAST_DIGIT, FakePlacer, VirtualClock

PASSWORD = "pg-Pass%40word-9"  # percent-encoded "@": both spellings are secrets


@pytest.mark.parametrize(
    ("url", "kind", "target"),
    [
        ("postgresql://app:pw@db.internal:5432/calls", StoreKind.POSTGRES, None),
        ("postgres://app@127.0.0.1/calls?sslmode=require", StoreKind.POSTGRES, None),
        ("postgresql:///calls?host=/var/run/postgresql", StoreKind.POSTGRES, None),
        ("postgresql://app@host/?dbname=calls", StoreKind.POSTGRES, None),
        ("campaigns.db", StoreKind.SQLITE, "campaigns.db"),
        ("sub/dir/c.db", StoreKind.SQLITE, "sub/dir/c.db"),
        ("sqlite:///relative.db", StoreKind.SQLITE, "relative.db"),
        ("sqlite:////abs/c.db", StoreKind.SQLITE, "/abs/c.db"),
        ("SQLITE:///with%20space.db", StoreKind.SQLITE, "with space.db"),
    ],
)
def test_every_form_of_store_parses(url: str, kind: StoreKind, target: str | None) -> None:
    ref = parse_store(url, "spring")
    assert ref.kind is kind
    assert ref.campaign == "spring"
    assert ref.target == (target if target is not None else url)


@pytest.mark.parametrize(
    ("store", "campaign", "setting", "words"),
    [
        ("mysql://u:" + PASSWORD + "@h/db", "a", "store", "unknown store scheme 'mysql'"),
        ("postgresql://u:" + PASSWORD + "@h:5432", "a", "store", "names no database"),
        ("postgresql://u:" + PASSWORD + "@h:5432/", "a", "store", "names no database"),
        ("postgresql://u:" + PASSWORD + "@h:port/db", "a", "store", "not a valid URL"),
        ("sqlite://", "a", "store", "names no file"),
        ("sqlite:///:memory:", "a", "store", "not :memory:"),
        ("   ", "a", "store", "give a postgresql:// URL"),
        ("c.db", "", "campaign", "cannot name a campaign"),
        ("c.db", "spring sale", "campaign", "cannot name a campaign"),
        ("c.db", "-rm", "campaign", "cannot name a campaign"),
        ("c.db", "x" * 65, "campaign", "cannot name a campaign"),
    ],
)
def test_a_reference_that_cannot_work_names_its_setting_without_the_password(
    store: str, campaign: str, setting: str, words: str
) -> None:
    with pytest.raises(polyout.ConfigurationError) as caught:
        parse_store(store, campaign)
    assert caught.value.setting == setting
    assert words in caught.value.reason
    assert PASSWORD not in str(caught.value)


def test_the_flags_combine_one_way_only() -> None:
    assert store_ref() is None
    journal = store_ref(journal="j.db")
    assert journal is not None
    assert journal.journal
    assert journal.target == "j.db"
    for flags, setting in [
        ({"journal": "j.db", "store": "c.db", "campaign": "a"}, "store"),
        ({"store": "c.db"}, "store"),  # which campaign?
        ({"campaign": "a"}, "campaign"),  # in which store?
    ]:
        with pytest.raises(polyout.ConfigurationError) as caught:
            store_ref(**flags)
        assert caught.value.setting == setting


def test_a_reference_never_shows_its_password() -> None:
    url = f"postgresql://app:{PASSWORD}@db:5432/calls?sslmode=require&password={PASSWORD}"
    ref = parse_store(url, "spring")
    shown = "postgresql://app:***@db:5432/calls?sslmode=require&password=***"
    assert ref.shown == shown
    assert ref.flags() == ["--store", shown, "--campaign", "spring"]
    for text in (str(ref), repr(ref), repr([ref])):
        assert PASSWORD not in text
        assert "Pass@word" not in text
        assert shown in text
    assert ref.target == url  # what connects keeps it
    assert set(store_url_secrets(url)) == {PASSWORD, "pg-Pass@word-9"}
    assert store_url_secrets("postgresql://app@db/calls") == []  # a user is no secret
    assert redact_store_url("postgresql://app@db/calls") == "postgresql://app@db/calls"


async def test_a_store_file_holds_several_campaigns_and_a_journal_ref_names_its_only_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "campaigns.db"
    definition = CampaignDefinition(
        settings={"rate": 1.0}, connection={}, suppressed=frozenset(), created_at=0.0
    )
    store = SQLiteStore(path)
    await store.create("a", definition)
    await store.aclose()
    (journal,) = [r for r in [store_ref(journal=path)] if r is not None]
    async with opened_campaign(journal, read_only=True) as (named, stored):
        assert (named.campaign, stored.name) == ("a", "a")  # the file's only campaign
    store = SQLiteStore(path)
    await store.create("b", definition)
    await store.aclose()
    with pytest.raises(polyout.JournalError, match="holds 'a', 'b': name one with --store"):
        async with opened_campaign(journal, read_only=True):
            pass
    for name in ("a", "b"):
        async with opened_campaign(parse_store(f"sqlite:///{path}", name)) as (_, stored):
            assert stored.name == name
    with pytest.raises(polyout.JournalError, match="holds no campaign named 'c'"):
        async with opened_campaign(parse_store(path, "c"), read_only=True):
            pass


async def test_a_postgresql_store_without_psycopg_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.startswith(("psycopg", "polyout._campaign._pg"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
    ref = parse_store(f"postgresql://app:{PASSWORD}@127.0.0.1:9/calls", "a")
    with pytest.raises(polyout.ConfigurationError) as caught:
        async with opened_campaign(ref):
            pass
    assert "pip install 'polyout[postgres]'" in caught.value.reason
    assert PASSWORD not in str(caught.value)


def _people(count: int, digit: str) -> list[Contact]:
    return [Contact(f"p{n}", f"+1415555{n:03d}{digit}") for n in range(count)]


async def test_campaign_takes_a_store_url_holds_two_campaigns_and_closes_what_it_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "campaigns.db"
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=30.0)
        for name, url, digit in [("a", str(path), "0"), ("b", f"sqlite:///{path}", "1")]:
            campaign = Campaign(placer, _people(4, digit), store=url, name=name, clock=clock)
            assert str(path) in repr(campaign)
            stats = await campaign.run()
            assert stats.complete
        # Both runs let go of the file: a third opener takes its lock at once.
        store = SQLiteStore(path, create=False)
        try:
            assert await store.names() == ["a", "b"]
            a, b = await store.open("a"), await store.open("b")
            assert await a.counts() == {ContactState.SUCCESS: 4}
            assert await b.counts() == {ContactState.SUCCESS: 4}
        finally:
            await store.aclose()
        assert not placer.ledger.dialled_more_than_once()
        with pytest.raises(CampaignExists, match="already holds a campaign named 'a'"):
            await Campaign(placer, _people(1, "0"), store=path, name="a", clock=clock).run()
        with pytest.raises(CampaignNotFound, match="holds no campaign named 'c'"):
            await Campaign.resume(placer, store=path, name="c", clock=clock).run()


async def test_a_store_object_stays_the_callers_and_a_worker_joins_without_reading_contacts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "campaigns.db"
    async with VirtualClock() as clock:
        placer = FakePlacer(clock=clock, outcomes=LAST_DIGIT, duration=30.0)
        store = SQLiteStore(path)
        try:
            unfed = Campaign(placer, _people(3, "0"), store=store, name="unfed", clock=clock)
            unfed.stop()  # stops before its feed: no contact stored
            await unfed.run()
            # Nobody else can feed an SQLite store's campaign: only a resume reads the rest.
            with pytest.raises(polyout.JournalError, match="continue it with resume"):
                await Campaign.resume(placer, store=store, name="unfed", join=True).run()
            running: list[Campaign] = []

            def stop_once_fed(event: object) -> None:
                stats = running[0].stats()
                if stats.input_done and stats.placed >= 1:
                    running[0].stop()

            first = Campaign(
                placer,
                _people(6, "0"),
                store=store,
                name="spring",
                rate=0.5,
                clock=clock,
                on_event=stop_once_fed,
            )
            running.append(first)
            await first.run()
            assert 1 <= len(placer.ledger.placements) < 6
            assert await store.names() == ["spring", "unfed"]  # still open: the caller's
            joined = Campaign.resume(
                placer, store=store, name="spring", worker="w-2", join=True, clock=clock
            )
            assert "worker='w-2'" in repr(joined)
            assert (await joined.run()).complete
        finally:
            await store.aclose()
        assert sorted(placer.ledger.placements_per_number().values()) == [1] * 6
