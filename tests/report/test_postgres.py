"""The report reads a PostgreSQL store as it reads SQLite: through the store's reads.

The same campaign (``large.fill``: five countries, retries, answers lost) is written
through the store API into a real PostgreSQL database (``tests/pg_cluster``: skipped
without PostgreSQL, failing under CI) and into an SQLite file; the reports' numbers
are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from polyout._campaign._pg_store import PostgresStore
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import StoredCampaign
from polyout._report._data import gather

from .large import DEFINITION, START, fill

CONTACTS = 200
SAME = (
    "states",
    "total",
    "placements",
    "possibly_placed",
    "placements_by_minute",
    "by_local_hour",
    "by_country",
    "attempts",
    "time_to_final",
    "attention_counts",
    "attention",
    "first_placement",
    "last_activity",
    "settings",
    "connection",
)


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    return {key: data[key] for key in SAME}


async def test_a_postgresql_campaign_reports_as_an_sqlite_one(
    pg_database: str, tmp_path: Path
) -> None:
    store = await PostgresStore.connect(pg_database)
    try:
        # Typed as the contract: the PostgreSQL store lacks capabilities the report does
        # not read (tests/store/conftest.py says which).
        campaign = cast(StoredCampaign, await store.create("spring", DEFINITION))
        await fill(campaign, CONTACTS)
        on_postgres = (await gather(campaign, now=START)).to_json()
    finally:
        await store.aclose()
    sqlite, in_file = await SQLiteStore.create_path(tmp_path / "s.db", DEFINITION)
    try:
        await fill(in_file, CONTACTS)
        on_sqlite = (await gather(in_file, now=START)).to_json()
    finally:
        await sqlite.aclose()
    assert _numbers(on_postgres) == _numbers(on_sqlite)
    assert on_postgres["states"] == {"success": 148, "no_answer": 50, "unknown": 2}
    assert on_postgres["placements"] == 148 + 2 * 50
