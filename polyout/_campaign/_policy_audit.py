"""Audit receipts read back: the chain checked link by link, and exported as JSON Lines.

A receipt is whole when its hash is the seal of the previous receipt's hash and its own
body, its number follows the previous one, and the campaign's head names the last one:
an edited body, a receipt removed from the middle and a tail cut off are each the first
broken link, named by its number.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any, TextIO

import attrs

from polyout._campaign._store import StoredCampaign
from polyout._campaign._store_policy import Receipt, seal

__all__ = ["BrokenLink", "ChainCheck", "export_receipts", "verify_receipts"]


@attrs.frozen
class BrokenLink:
    n: int
    why: str

    def __str__(self) -> str:
        return f"receipt {self.n}: {self.why}"


@attrs.frozen
class ChainCheck:
    receipts: int
    broken: BrokenLink | None


async def verify_receipts(campaign: StoredCampaign) -> ChainCheck:
    """Check the campaign's whole chain; the first broken link, if any."""
    count, previous = 0, ""
    async for receipt in campaign.receipts():
        broken = _broken(receipt, count + 1, previous)
        if broken is not None:
            return ChainCheck(count, broken)
        count, previous = receipt.n, receipt.hash
    head = await campaign.receipt_head()
    if head is None and count:
        return ChainCheck(count, BrokenLink(count, "the campaign's chain head is missing"))
    if head is not None and head != (count, previous):
        if head[0] > count:
            why = f"missing: the chain ends at {count} but its head names {head[0]}"
            return ChainCheck(count, BrokenLink(count + 1, why))
        return ChainCheck(count, BrokenLink(head[0], "does not match the campaign's chain head"))
    return ChainCheck(count, None)


def _broken(receipt: Receipt, expected: int, previous: str) -> BrokenLink | None:
    if receipt.n != expected:
        return BrokenLink(expected, f"missing (the next stored is {receipt.n})")
    if receipt.previous != previous:
        return BrokenLink(receipt.n, f"does not carry the hash of receipt {expected - 1}")
    if receipt.body.get("n") != receipt.n or seal(receipt.previous, receipt.body) != receipt.hash:
        return BrokenLink(receipt.n, "its content does not match its hash (edited)")
    return None


async def export_receipts(campaign: StoredCampaign, out: TextIO) -> int:
    """Write one JSON object a line (the body, its times in ISO 8601, and the hashes)."""
    written = 0
    async for line in _lines(campaign):
        out.write(line + "\n")
        written += 1
    return written


async def _lines(campaign: StoredCampaign) -> AsyncIterator[str]:
    async for receipt in campaign.receipts():
        record: dict[str, Any] = dict(receipt.body)
        at = record.get("at")
        if isinstance(at, (int, float)):
            record["at"] = dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat()
        record["previous"] = receipt.previous
        record["hash"] = receipt.hash
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)
