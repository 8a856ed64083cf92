"""The SQL of the SQLite store's policy capability (``_store_policy``, POLICY_TABLES).

Functions of a :class:`Journal`, run on the store's writer thread. A number is looked
up campaign by campaign (``campaign IN (SELECT id FROM campaigns)``), through the index
every store has on (campaign, number): no index of its own to slow down every load. ``seal_receipt``
writes inside the caller's transaction (the intent's): the intent's commit makes the
receipt durable with it, and a rollback takes both away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polyout._campaign._journal import Journal
from polyout._campaign._store_policy import (
    IntentPolicy,
    NumberHistory,
    Receipt,
    body_of,
    canonical,
    cap_counts,
    receipt_body,
    seal,
)

__all__ = [
    "cap_check",
    "number_history",
    "receipt_head",
    "receipts_page",
    "recently_called",
    "seal_receipt",
    "unseal_receipt",
]

_DIALS = """
SELECT a.started_at, g.name FROM contacts c
JOIN attempts a ON a.campaign = c.campaign AND a.contact = c.seq
JOIN campaigns g ON g.id = c.campaign
WHERE c.campaign IN (SELECT id FROM campaigns) AND c.to_number = ? AND c.dialable = 1
  AND a.started_at > ?
  AND (a.outcome IS NULL OR a.outcome != 'not_placed')
ORDER BY a.started_at
"""


def _number_of(journal: Journal, seq: int) -> str | None:
    row = journal.connection.execute(
        "SELECT to_number FROM contacts WHERE campaign = ? AND seq = ?", (journal.campaign, seq)
    ).fetchone()
    return None if row is None else row[0]


def cap_check(journal: Journal, seq: int, policy: IntentPolicy, now: float) -> list[dict[str, Any]]:
    """Each cap's count for the contact's number, or CapReached (P1); reads only."""
    number = _number_of(journal, seq)
    if number is None or not policy.caps:
        return []
    since = now - max(cap.window for cap in policy.caps)
    times = [at for at, _ in journal.connection.execute(_DIALS, (number, since))]
    return cap_counts(policy.caps, times, now)


def seal_receipt(
    journal: Journal,
    campaign: str,
    seq: int,
    intent: int,
    now: float,
    policy: IntentPolicy,
    counts: list[dict[str, Any]],
) -> int:
    """Append the intent's receipt to the campaign's chain (P2), in the open transaction."""
    with journal.atomic():
        head = receipt_head(journal)
        n, previous = (head[0] + 1, head[1]) if head else (1, "")
        body = receipt_body(
            campaign=campaign, n=n, seq=seq, intent=intent, at=now, policy=policy, counts=counts
        )
        digest = seal(previous, body)
        db = journal.connection
        db.execute(
            "INSERT INTO receipts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (journal.campaign, n, seq, intent, canonical(body), previous, digest),
        )
        db.execute(
            "INSERT OR REPLACE INTO receipt_heads VALUES (?, ?, ?)", (journal.campaign, n, digest)
        )
    return n


def unseal_receipt(journal: Journal, n: int, previous: tuple[int, str] | None) -> None:
    """Undo :func:`seal_receipt` when the intent it was for could not be opened."""
    with journal.atomic():
        db = journal.connection
        db.execute("DELETE FROM receipts WHERE campaign = ? AND n = ?", (journal.campaign, n))
        if previous is None:
            db.execute("DELETE FROM receipt_heads WHERE campaign = ?", (journal.campaign,))
        else:
            db.execute(
                "INSERT OR REPLACE INTO receipt_heads VALUES (?, ?, ?)",
                (journal.campaign, *previous),
            )


def receipt_head(journal: Journal) -> tuple[int, str] | None:
    row = journal.connection.execute(
        "SELECT n, hash FROM receipt_heads WHERE campaign = ?", (journal.campaign,)
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def receipts_page(journal: Journal, *, after: int, limit: int = 500) -> list[Receipt]:
    rows = journal.connection.execute(
        "SELECT n, body, previous, hash FROM receipts WHERE campaign = ? AND n > ?"
        " ORDER BY n LIMIT ?",
        (journal.campaign, after, limit),
    ).fetchall()
    return [Receipt(int(n), body_of(body), previous, digest) for n, body, previous, digest in rows]


def number_history(journal: Journal, e164: str, since: float) -> NumberHistory:
    db = journal.connection
    dials = tuple((float(at), str(name)) for at, name in db.execute(_DIALS, (e164, since)))
    failures = db.execute(
        "SELECT count(*) FROM contacts c JOIN attempts a"
        " ON a.campaign = c.campaign AND a.contact = c.seq"
        " WHERE c.campaign IN (SELECT id FROM campaigns) AND c.to_number = ?"
        " AND c.dialable = 1 AND a.outcome = 'failure'",
        (e164,),
    ).fetchone()[0]
    refusals = db.execute(
        "SELECT count(*) FROM contacts WHERE campaign IN (SELECT id FROM campaigns)"
        " AND to_number = ? AND dialable = 1 AND state = 'invalid' AND tries > 0",
        (e164,),
    ).fetchone()[0]
    return NumberHistory(dials, int(failures), int(refusals))


def recently_called(journal: Journal, numbers: Sequence[str], since: float) -> dict[str, int]:
    found: dict[str, int] = {}
    for number in set(numbers):
        rows = journal.connection.execute(_DIALS, (number, since)).fetchall()
        for name in {str(name) for _, name in rows}:
            found[name] = found.get(name, 0) + 1
    return found
