"""The in-memory store's policy capability (the contract: ``_store_policy``).

Every dial is remembered by number, beside the backing's data (it outlives a store
instance, as a file would): an intent is committed as soon as it is opened, so the
list of dials never holds one the data lost. Whether a dial still counts (not closed
as not placed), and how it ended, is read from the contact's intents themselves.

The cap is checked and the receipt sealed with no ``await`` between them and the
intent's commit: on one event loop, nothing can interleave, which is what one
transaction gives a database.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Sequence

import attrs

from polyout._campaign._memory_backing import NOT_PLACED, IntentRecord, MemoryBacking
from polyout._campaign._memory_campaign import MemoryCampaignWrites
from polyout._campaign._states import ContactState
from polyout._campaign._store_policy import (
    IntentPolicy,
    NumberHistory,
    Receipt,
    cap_counts,
    receipt_body,
    seal,
)

__all__ = ["MemoryPolicy", "MemoryPolicyStore"]

_FAILURE = ContactState.FAILURE.value


@attrs.define
class _PolicyData:
    dials: dict[str, list[tuple[str, int, int]]] = attrs.field(factory=dict)
    """By number: (campaign, seq, intent) of every intent opened."""
    receipts: dict[str, list[Receipt]] = attrs.field(factory=dict)


_POLICIES: weakref.WeakKeyDictionary[MemoryBacking, _PolicyData] = weakref.WeakKeyDictionary()


def _policy_data(backing: MemoryBacking) -> _PolicyData:
    return _POLICIES.setdefault(backing, _PolicyData())


def _intents_of(backing: MemoryBacking, e164: str) -> list[tuple[str, IntentRecord]]:
    found = []
    for name, seq, number in _policy_data(backing).dials.get(e164, ()):
        record = backing.campaigns[name].contacts.get(seq)
        if record is not None and len(record.intents) >= number:
            found.append((name, record.intents[number - 1]))
    return found


def _history(backing: MemoryBacking, e164: str, since: float) -> NumberHistory:
    intents = _intents_of(backing, e164)
    dials = sorted(
        (intent.started_at, name)
        for name, intent in intents
        if intent.outcome != NOT_PLACED and intent.started_at > since
    )
    refusals = 0
    for name, seq, _ in _policy_data(backing).dials.get(e164, ()):
        record = backing.campaigns[name].contacts.get(seq)
        refusals += record is not None and record.state is ContactState.INVALID
    return NumberHistory(
        dials=tuple(dials),
        failures=sum(intent.outcome == _FAILURE for _, intent in intents),
        refusals=refusals,
    )


class MemoryPolicy(MemoryCampaignWrites):
    """The policy capability of a campaign of a ``MemoryStore``."""

    async def open_intent(
        self, worker: str, seq: int, *, after: int, now: float, policy: IntentPolicy | None = None
    ) -> int:
        if policy is None:
            intent = await super().open_intent(worker, seq, after=after, now=now)
            self._remember(seq, intent)
            return intent
        self._check()
        record = self._data.contacts.get(seq)
        number = record.entry.to_number if record is not None else None
        counts: list[dict[str, object]] = []
        if number is not None and policy.caps:
            longest = max(cap.window for cap in policy.caps)
            history = _history(self._backing, number, now - longest)
            counts = cap_counts(policy.caps, [at for at, _ in history.dials], now)
        # No await from the cap's count to the receipt: nothing else runs in between.
        intent = await super().open_intent(worker, seq, after=after, now=now)
        self._remember(seq, intent)
        chain = _policy_data(self._backing).receipts.setdefault(self.name, [])
        previous = chain[-1].hash if chain else ""
        body = receipt_body(
            campaign=self.name,
            n=len(chain) + 1,
            seq=seq,
            intent=intent,
            at=now,
            policy=policy,
            counts=counts,
        )
        chain.append(Receipt(len(chain) + 1, body, previous, seal(previous, body)))
        return intent

    def _remember(self, seq: int, intent: int) -> None:
        number = self._data.contacts[seq].entry.to_number
        if number is not None:
            _policy_data(self._backing).dials.setdefault(number, []).append(
                (self.name, seq, intent)
            )

    async def receipts(self) -> AsyncIterator[Receipt]:
        self._check()
        for receipt in list(_policy_data(self._backing).receipts.get(self.name, ())):
            yield receipt

    async def receipt_head(self) -> tuple[int, str] | None:
        self._check()
        chain = _policy_data(self._backing).receipts.get(self.name)
        return (len(chain), chain[-1].hash) if chain else None

    async def number_history(self, e164: str, since: float) -> NumberHistory:
        self._check()
        return _history(self._backing, e164, since)


class MemoryPolicyStore:
    """The store-wide half of the capability (mixed into ``MemoryStore``)."""

    backing: MemoryBacking

    def check_usable(self) -> None:
        raise NotImplementedError  # pragma: no cover (MemoryStore's own)

    async def recently_called(self, numbers: Sequence[str], since: float) -> dict[str, int]:
        self.check_usable()
        per_campaign: dict[str, int] = {}
        for number in set(numbers):
            for name in {name for _, name in _history(self.backing, number, since).dials}:
                per_campaign[name] = per_campaign.get(name, 0) + 1
        return per_campaign
