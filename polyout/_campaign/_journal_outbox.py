"""The SQL of the SQLite store's webhook outbox (``_store_outbox`` is the contract).

Events are written by the triggers of ``OUTBOX_TABLES`` (``_journal_tables_v3``), in the
transaction of the transition they describe; these functions are the rest: the
endpoint, a campaign's own events, and the delivery's bookkeeping. Each runs on the
store's writer thread with ``journal.campaign`` set; a write is one step and commits.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from polyout._campaign._journal import Journal
from polyout._campaign._store_outbox import FINISHED, OutboxEvent, WebhookEndpoint, event_id

__all__ = [
    "add_event",
    "disable_webhook",
    "mark_dead",
    "mark_delivered",
    "mark_failed",
    "outbox_counts",
    "pending_events",
    "set_webhook",
    "webhook",
]


def _write(journal: Journal, sql: str, params: tuple[Any, ...]) -> int:
    with journal.atomic():
        rowcount = journal.connection.execute(sql, params).rowcount
    journal.commit()
    return int(rowcount)


def set_webhook(journal: Journal, url: str | None, now: float) -> None:
    if url is None:
        _write(journal, "DELETE FROM outbox_endpoints WHERE campaign = ?", (journal.campaign,))
        return
    _write(
        journal,
        "INSERT INTO outbox_endpoints (campaign, url, disabled, set_at) VALUES (?, ?, NULL, ?)"
        " ON CONFLICT (campaign) DO UPDATE SET url = excluded.url, disabled = NULL,"
        " set_at = excluded.set_at",
        (journal.campaign, url, now),
    )


def webhook(journal: Journal) -> WebhookEndpoint | None:
    row = journal.connection.execute(
        "SELECT url, disabled FROM outbox_endpoints WHERE campaign = ?", (journal.campaign,)
    ).fetchone()
    return None if row is None else WebhookEndpoint(str(row[0]), row[1])


def disable_webhook(journal: Journal, reason: str) -> None:
    _write(
        journal,
        "UPDATE outbox_endpoints SET disabled = ? WHERE campaign = ?",
        (reason, journal.campaign),
    )


def add_event(journal: Journal, type: str, data: Mapping[str, Any], now: float) -> str | None:
    id = event_id(secrets.token_hex(12))
    campaign = journal.campaign
    written = _write(
        journal,
        "INSERT INTO outbox (campaign, event_id, contact, type, created, data)"
        " SELECT ?, ?, NULL, ?, ?, ? WHERE EXISTS"
        " (SELECT 1 FROM outbox_endpoints WHERE campaign = ?)"
        " AND (? != ? OR NOT EXISTS (SELECT 1 FROM outbox f WHERE f.campaign = ?"
        "   AND f.type = ? AND f.id > (SELECT coalesce(max(c.id), 0) FROM outbox c"
        "   WHERE c.campaign = ? AND c.contact IS NOT NULL)))",
        (
            campaign,
            id,
            type,
            now,
            json.dumps(dict(data)),
            campaign,
            type,
            FINISHED,
            campaign,
            FINISHED,
            campaign,
        ),
    )
    return id if written else None


def pending_events(journal: Journal, limit: int, now: float) -> list[OutboxEvent]:
    """The undelivered events due at ``now``: of each contact only its earliest one."""
    rows = journal.connection.execute(
        "SELECT o.event_id, o.type, o.created, o.contact, o.data, o.attempts FROM outbox o"
        " WHERE o.campaign = ? AND o.status = 'pending'"
        " AND (o.next_at IS NULL OR o.next_at <= ?)"
        " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.campaign = o.campaign"
        "   AND e.contact IS o.contact AND e.status = 'pending' AND e.id < o.id)"
        " ORDER BY o.id LIMIT ?",
        (journal.campaign, now, limit),
    ).fetchall()
    return [
        OutboxEvent(str(id), str(type), float(created), contact, json.loads(data), int(attempts))
        for id, type, created, contact, data, attempts in rows
    ]


def mark_delivered(journal: Journal, ids: Sequence[str], now: float) -> None:
    with journal.atomic():
        journal.connection.executemany(
            "UPDATE outbox SET status = 'delivered', ended_at = ?, error = NULL"
            " WHERE campaign = ? AND event_id = ? AND status = 'pending'",
            [(now, journal.campaign, id) for id in ids],
        )
    journal.commit()


def mark_failed(journal: Journal, id: str, attempt: int, next_at: float, error: str) -> None:
    _write(
        journal,
        "UPDATE outbox SET attempts = ?, next_at = ?, error = ?"
        " WHERE campaign = ? AND event_id = ? AND status = 'pending'",
        (attempt, next_at, error, journal.campaign, id),
    )


def mark_dead(journal: Journal, id: str, response: str, now: float) -> None:
    _write(
        journal,
        "UPDATE outbox SET status = 'dead', response = ?, ended_at = ?"
        " WHERE campaign = ? AND event_id = ? AND status = 'pending'",
        (response, now, journal.campaign, id),
    )


def outbox_counts(journal: Journal) -> dict[str, int]:
    counts = {"pending": 0, "delivered": 0, "dead": 0}
    rows = journal.connection.execute(
        "SELECT status, count(*) FROM outbox WHERE campaign = ? GROUP BY status",
        (journal.campaign,),
    ).fetchall()
    counts.update({str(status): int(count) for status, count in rows})
    return counts
