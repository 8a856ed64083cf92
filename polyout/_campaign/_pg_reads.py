"""A PostgreSQL campaign's reads: its definition, feed position, counts, history, results.

Each is one statement through ``_rows`` (``_pg_base``): with no batched write pending it
runs on its own (autocommit: nothing is held open after it), else inside the open
transaction, so a worker reads its own batched writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from polyout._campaign._pg_base import PgCampaignBase
from polyout._campaign._pg_rows import RESULT_COLUMNS, UNHELD, log_entry, result_record
from polyout._campaign._states import ContactState
from polyout._campaign._store import CampaignDefinition, FeedPosition, LogEntry, readable_time

__all__ = ["PgReads"]

_PAGE = 1000


class PgReads(PgCampaignBase):
    async def definition(self) -> CampaignDefinition:
        [(settings, connection, created_at)] = await self._rows(
            "SELECT settings, connection, created_at FROM polyout_campaigns WHERE id = %(c)s"
        )
        numbers = await self._rows("SELECT number FROM polyout_suppressed WHERE campaign = %(c)s")
        return CampaignDefinition(
            settings=settings,
            connection=connection,
            suppressed=frozenset(number for (number,) in numbers),
            created_at=created_at,
        )

    async def feed_position(self) -> FeedPosition:
        [(count, digest, done)] = await self._rows(
            "SELECT feed_count, feed_digest, feed_done FROM polyout_campaigns WHERE id = %(c)s"
        )
        return FeedPosition(int(count), digest, bool(done))

    async def has_number(self, e164: str) -> bool:
        # One probe per partial index (dialable, suppressed): see the schema.
        [(taken,)] = await self._rows(
            "SELECT EXISTS (SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s"
            " AND to_number = %(v)s AND entry_state = 'scheduled')"
            " OR EXISTS (SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s"
            " AND to_number = %(v)s AND entry_state = 'suppressed')",
            {"v": e164},
        )
        return bool(taken)

    async def has_contact_id(self, contact_id: str) -> bool:
        rows = await self._rows(
            "SELECT 1 FROM polyout_contacts WHERE campaign = %(c)s AND contact_id = %(v)s"
            " AND entry_state IN ('scheduled', 'suppressed') LIMIT 1",
            {"v": contact_id},
        )
        return bool(rows)

    async def next_due(self) -> float | None:
        rows = await self._rows(
            "SELECT due FROM polyout_contacts WHERE campaign = %(c)s AND state = 'scheduled'"
            f" AND {UNHELD} ORDER BY due, seq LIMIT 1"
        )
        return readable_time(rows[0][0]) if rows else None

    async def counts(self) -> dict[ContactState, int]:
        rows = await self._rows(
            "SELECT state, count(*) FROM polyout_contacts WHERE campaign = %(c)s GROUP BY state"
        )
        return {ContactState(state): int(count) for state, count in rows}

    async def history(self, seq: int) -> list[LogEntry]:
        rows = await self._rows(
            "SELECT at, event, intent, call_sid, status, detail FROM polyout_log"
            " WHERE campaign = %(c)s AND seq = %(q)s ORDER BY id",
            {"q": seq},
        )
        return [log_entry(row) for row in rows]

    async def results(self) -> AsyncIterator[Mapping[str, Any]]:
        after = -1
        while True:
            page = await self._rows(
                f"SELECT {RESULT_COLUMNS} FROM polyout_contacts WHERE campaign = %(c)s"
                " AND seq > %(after)s ORDER BY seq LIMIT %(page)s",
                {"after": after, "page": _PAGE},
            )
            for row in page:
                yield result_record(row)
            if len(page) < _PAGE:
                return
            after = int(page[-1][0])
