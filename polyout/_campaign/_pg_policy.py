"""The PostgreSQL store's policy capability (the contract: ``_store_policy``).

A number is looked up campaign by campaign (``campaign = ANY(ARRAY(SELECT id ...))``)
through ``polyout_contacts_dialable_number``: no index of its own to slow every load.
Several workers on several machines open intents at once, so the cap is counted under
a transaction-scoped advisory lock on the number (``pg_advisory_xact_lock``, keys
``CAP_LOCK`` and ``hashtext(number)``), taken in the intent's own transaction: a second
worker's count waits until the first one's intent is committed (or rolled back), and
then sees it. Two workers can never both pass one cap. The receipt chain's head row is
read ``FOR UPDATE`` in the same transaction, so two intents of one campaign never seal
onto the same previous receipt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from polyout._campaign._pg_steps import PgCampaignSteps
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

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = ["CAP_LOCK", "RECENTLY_CALLED", "PgPolicy", "pg_recently_called"]

#: The first key of the cap's advisory locks ("poca"): apart from the store's own locks
#: (``LIFE_LOCK``), whose second keys a number's hash could otherwise meet.
CAP_LOCK = 0x706F6361
_PAGE = 500

_DIALS = """
SELECT i.started_at, g.name FROM polyout_contacts c
JOIN polyout_intents i ON i.campaign = c.campaign AND i.seq = c.seq
JOIN polyout_campaigns g ON g.id = c.campaign
WHERE c.campaign = ANY(ARRAY(SELECT id FROM polyout_campaigns)) AND c.to_number = %(n)s
  AND c.entry_state = 'scheduled' AND i.started_at > %(since)s
  AND (i.outcome IS NULL OR i.outcome <> 'not_placed')
ORDER BY i.started_at
"""


class PgPolicy(PgCampaignSteps):
    """The policy methods of a ``PostgresCampaign`` (mixed into it)."""

    async def _seal_receipt(
        self,
        conn: AsyncConnection[Any],
        seq: int,
        intent: int,
        now: float,
        policy: IntentPolicy | None,
    ) -> None:
        """Check the caps and seal the receipt (P1, P2), in the intent's transaction."""
        if policy is None:
            return
        counts: list[dict[str, Any]] = []
        if policy.caps:
            row = await self._one(
                conn,
                "SELECT to_number FROM polyout_contacts WHERE campaign = %(c)s AND seq = %(q)s",
                {"q": seq},
            )
            number = row[0] if row else None
            if number is not None:
                await self._all(
                    conn,
                    "SELECT pg_advisory_xact_lock(%(k)s, hashtext(%(n)s))",
                    {"k": CAP_LOCK, "n": number},
                )
                since = now - max(cap.window for cap in policy.caps)
                dials = await self._all(conn, _DIALS, {"n": number, "since": since})
                counts = cap_counts(policy.caps, [float(at) for at, _ in dials], now)
        await self._all(
            conn,
            "INSERT INTO polyout_receipt_heads (campaign, n, hash) VALUES (%(c)s, 0, '')"
            " ON CONFLICT (campaign) DO NOTHING",
        )
        head = await self._one(
            conn, "SELECT n, hash FROM polyout_receipt_heads WHERE campaign = %(c)s FOR UPDATE"
        )
        n, previous = int(head[0]) + 1, str(head[1])
        body = receipt_body(
            campaign=self.name, n=n, seq=seq, intent=intent, at=now, policy=policy, counts=counts
        )
        digest = seal(previous, body)
        await self._all(
            conn,
            "INSERT INTO polyout_receipts VALUES (%(c)s, %(n)s, %(q)s, %(i)s, %(b)s, %(p)s, %(h)s)",
            {"n": n, "q": seq, "i": intent, "b": canonical(body), "p": previous, "h": digest},
        )
        await self._all(
            conn,
            "UPDATE polyout_receipt_heads SET n = %(n)s, hash = %(h)s WHERE campaign = %(c)s",
            {"n": n, "h": digest},
        )

    async def receipts(self) -> AsyncIterator[Receipt]:
        after = 0
        while True:
            rows = await self._rows(
                "SELECT n, body, previous, hash FROM polyout_receipts"
                " WHERE campaign = %(c)s AND n > %(a)s ORDER BY n LIMIT %(l)s",
                {"a": after, "l": _PAGE},
            )
            if not rows:
                return
            for n, body, previous, digest in rows:
                yield Receipt(int(n), body_of(body), previous, digest)
            after = int(rows[-1][0])

    async def receipt_head(self) -> tuple[int, str] | None:
        rows = await self._rows(
            "SELECT n, hash FROM polyout_receipt_heads WHERE campaign = %(c)s AND n > 0"
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def number_history(self, e164: str, since: float) -> NumberHistory:
        dials = await self._rows(_DIALS, {"n": e164, "since": since})
        [(failures, refusals)] = await self._rows(
            "SELECT (SELECT count(*) FROM polyout_contacts c JOIN polyout_intents i"
            "  ON i.campaign = c.campaign AND i.seq = c.seq WHERE c.to_number = %(n)s"
            "  AND c.campaign = ANY(ARRAY(SELECT id FROM polyout_campaigns))"
            "  AND c.entry_state = 'scheduled' AND i.outcome = 'failure'),"
            " (SELECT count(*) FROM polyout_contacts WHERE to_number = %(n)s"
            "  AND campaign = ANY(ARRAY(SELECT id FROM polyout_campaigns))"
            "  AND entry_state = 'scheduled' AND state = 'invalid' AND intents > 0)",
            {"n": e164},
        )
        return NumberHistory(
            tuple((float(at), str(name)) for at, name in dials), int(failures), int(refusals)
        )


def pg_recently_called(rows: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Numbers per campaign, from (number, campaign) rows (P5)."""
    found: dict[str, set[str]] = {}
    for number, name in rows:
        found.setdefault(str(name), set()).add(str(number))
    return {name: len(numbers) for name, numbers in found.items()}


#: The store-wide read behind ``PostgresStore.recently_called``.
RECENTLY_CALLED = """
SELECT DISTINCT c.to_number, g.name FROM polyout_contacts c
JOIN polyout_intents i ON i.campaign = c.campaign AND i.seq = c.seq
JOIN polyout_campaigns g ON g.id = c.campaign
WHERE c.campaign = ANY(ARRAY(SELECT id FROM polyout_campaigns)) AND c.to_number = ANY(%s)
  AND c.entry_state = 'scheduled' AND i.started_at > %s
  AND (i.outcome IS NULL OR i.outcome <> 'not_placed')
"""
