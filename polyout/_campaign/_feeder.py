"""The feeder: contact source -> Planner -> store, with the feed position and fingerprint.

Each item of the source is planned in order and stored at the next ``seq``: a contact
to dial becomes ``scheduled`` (due when its calling window next opens), an exclusion
(invalid, duplicate, suppressed) is final at once. Items go to the store in small
batches, each with the feed position after it (how many items, the fingerprint of the
source so far), in one transaction: after a crash the position and the contacts agree,
and a resumed feed skips exactly the items stored, after checking by their fingerprint
that the source still starts with them (:mod:`._fingerprint`).

Planning runs on the event loop and storing on the store's thread, so they overlap: one
batch's ``append`` is in flight while the next batch is planned. Never more than one:
the next append is issued only once the previous one returned (batches are stored in
order, a store error stops the feed within one batch, and memory holds two batches at
most). A batch grows while the previous one is being stored, so a fast source hands the
store few, big jobs; a slow one is stored as it comes (:data:`BATCH_WAIT`).

Duplicates are judged by the Planner, which asks synchronously whether a number or an
id is taken. The numbers this run planned are kept in memory (about 32 bytes each);
those an earlier run stored are asked of the store, which is async: the record raises
:class:`_AskStore` for a number it has not seen, the feeder asks the store, and plans
the item again (planning is pure apart from taking the number, which comes last).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable

from polyout._campaign._contacts import ContactItem
from polyout._campaign._fingerprint import EMPTY_DIGEST, chain, check_same_source
from polyout._campaign._planning import Excluded, MemoryRecord, Planned, Planner
from polyout._campaign._policy_planning import PlanPolicy
from polyout._campaign._readers import ContactSource, aiter_contacts
from polyout._campaign._recorder import Recorder
from polyout._campaign._schedule import CallingWindow
from polyout._campaign._states import ContactState
from polyout._campaign._store import ContactEntry, FeedPosition, StoredCampaign
from polyout._campaign._windows import window_opening
from polyout._log import logger

__all__ = ["Feeder", "entry_for"]

_log = logger.getChild("campaign")
#: Items stored per transaction at most: a fast source costs the store few hand-offs,
#: yet the dispatcher's writes (an intent before each send), queued on the same thread
#: behind the append in flight, never wait for more than this many rows. A store whose
#: campaign has a ``feed_batch`` attribute says its own (PostgreSQL: a round trip each).
BATCH = 256
#: ...and a batch waits no longer than this (loop seconds) for more items, unless the
#: previous batch is still being stored: a slow source (a generator fed by a queue, a
#: paced producer) is dialled as it comes.
BATCH_WAIT = 0.05
#: Planning is CPU on the event loop: it gives the loop a turn after this many items, or
#: sooner, after this many seconds of it. A send released by the pacer leaves a loop turn
#: or two later, and any slice of planning run in between delays its arrival but not the
#: next release. Slices of 64 items (4-42 ms, measured, while the first sends went out)
#: brought R + 1 triggers into one second at a server counting a sliding window: a 429.
TURN = 64
TURN_SECONDS = 0.002


class Feeder:
    """Reads ``source`` into the campaign's store until it ends or ``stopping()``."""

    def __init__(
        self,
        recorder: Recorder,
        source: ContactSource,
        *,
        label: str,
        window: CallingWindow | None,
        default_timezone: str | None,
        default_country: str | None,
        suppressed: frozenset[str],
        stopping: Callable[[], bool],
        policy: PlanPolicy | None = None,
    ) -> None:
        self._recorder = recorder
        self._store: StoredCampaign = recorder.store
        self._source = source
        self._label = label  # names the campaign in a refusal of a changed source
        self._window = window
        self._record = _Record()
        self._planner = Planner(
            suppress=suppressed,
            window=window,
            default_timezone=default_timezone,
            default_country=default_country,
            record=self._record,
            policy=policy,
        )
        self._stopping = stopping
        self._in_flight: asyncio.Future[None] | None = None  # at most one append
        self._batch: int = getattr(self._store, "feed_batch", BATCH)
        self._unstored = False  # items planned and not yet handed to the store

    async def run(self) -> None:
        stored = await self._store.feed_position()
        if stored.done:
            return
        try:
            await self._feed(stored)
        finally:
            # Cancelled or failed: the append in flight is abandoned as a whole (the
            # store keeps it or not, in one transaction), so a crash loses a suffix.
            in_flight = self._in_flight
            if in_flight is not None and not in_flight.done():
                in_flight.cancel()
            elif in_flight is not None and not in_flight.cancelled():
                in_flight.exception()  # retrieved: the error that ended the feed wins

    async def _feed(self, stored: FeedPosition) -> None:
        skip = stored.count
        self._record.earlier = skip > 0  # an earlier run took numbers: ask the store
        digest = EMPTY_DIGEST
        position = 0
        batch: list[ContactEntry] = []
        loop = asyncio.get_running_loop()
        batch_started = loop.time()
        # The real clock: a virtual loop clock stands still while planning runs.
        turn_ends = time.perf_counter() + TURN_SECONDS
        async for item in self._timely():
            if item is None:  # a slow source is quiet: store what waits now
                if batch and not self._storing():
                    await self._hand_over(batch, FeedPosition(position, digest, False))
                    batch = []
                continue
            if position < skip:  # stored by an earlier run: it must be the same item
                digest = chain(digest, item)
                position += 1
                if position == skip:
                    check_same_source(self._label, stored.digest, digest, skip)
                continue
            if self._stopping():
                break
            if not batch:
                batch_started = loop.time()
            batch.append(await self._entry(position, item))
            self._unstored = True
            digest = chain(digest, item)
            position += 1
            if len(batch) >= self._batch or (
                loop.time() - batch_started >= BATCH_WAIT and not self._storing()
            ):
                await self._hand_over(batch, FeedPosition(position, digest, False))
                batch = []
            elif len(batch) % TURN == 0 or time.perf_counter() >= turn_ends:
                await asyncio.sleep(0)
                turn_ends = time.perf_counter() + TURN_SECONDS
                if self._in_flight is not None and self._in_flight.done():
                    await self._settled()  # a store error stops the feed now
        else:
            if position < skip:
                check_same_source(self._label, stored.digest, None, skip)
            await self._hand_over(batch, FeedPosition(position, digest, True))
            await self._settled()
            _log.info("all %d contacts read", position)
            return
        if batch:  # stopped: what was planned is stored, and a resume reads on from it
            await self._hand_over(batch, FeedPosition(position, digest, False))
        await self._settled()

    async def _timely(self) -> AsyncIterator[ContactItem | None]:
        """The source's items; None when an async source stays quiet for BATCH_WAIT while
        planned items wait to be stored: they are stored then, not when the next item
        comes, which may be hours later. A file or a list never keeps anyone waiting."""
        items = aiter_contacts(self._source)
        if not isinstance(self._source, AsyncIterable):
            async for item in items:
                yield item
            return
        pending: asyncio.Future[ContactItem | None] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(items, None))
                if self._unstored:
                    done, _ = await asyncio.wait({pending}, timeout=BATCH_WAIT)
                    if not done:
                        yield None
                        continue
                got, pending = await pending, None
                if got is None:
                    return
                yield got
        finally:
            if pending is not None:
                pending.cancel()

    def _storing(self) -> bool:
        # While an append is in flight the next batch could not be stored sooner, so it
        # keeps growing (up to BATCH): a fast source costs few hand-offs.
        return self._in_flight is not None and not self._in_flight.done()

    async def _hand_over(self, batch: list[ContactEntry], position: FeedPosition) -> None:
        """Store ``batch`` once the previous append returned, without waiting for it."""
        await self._settled()
        self._unstored = False
        self._in_flight = asyncio.ensure_future(self._recorder.appended(batch, position))
        await asyncio.sleep(0)  # the append reaches the store's thread now

    async def _settled(self) -> None:
        """The append in flight has returned (or raised its error here)."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            await in_flight

    async def _entry(self, seq: int, item: ContactItem) -> ContactEntry:
        while True:
            try:
                plan = self._planner.plan(item)
            except _AskStore as ask:
                await self._record.learn(self._store, ask)
                continue
            self._record.forget()  # the answers were about this item only
            return entry_for(seq, plan, self._window, self._recorder.now())


def entry_for(
    seq: int, plan: Planned | Excluded, window: CallingWindow | None, now: float
) -> ContactEntry:
    """What the store keeps of one planned item."""
    if isinstance(plan, Excluded):
        return ContactEntry(
            seq=seq,
            contact_id=plan.contact_id,
            row=plan.row,
            to_number=plan.to_number,
            state=plan.state,
            reason=plan.reason,
        )
    request = plan.request
    return ContactEntry(
        seq=seq,
        contact_id=plan.contact.id,
        row=plan.contact.row,
        to_number=request.to_number,
        state=ContactState.SCHEDULED,
        due=window_opening(window, plan.zones, now),
        request={
            "metadata": dict(request.metadata),
            "encryption": request.encryption.value if request.encryption else None,
            "variant_id": request.variant_id,
            **({"policy": dict(plan.policy)} if plan.policy else {}),
        },
        zones=plan.zones,
    )


class _AskStore(Exception):
    """The record cannot answer without the store (raised inside ``Planner.plan``)."""

    def __init__(self, number: str | None, contact_id: str | None) -> None:
        self.number = number
        self.contact_id = contact_id


class _Record:
    """The Planner's record: this run's numbers in memory, earlier runs' in the store."""

    def __init__(self) -> None:
        self._mine = MemoryRecord()
        self.earlier = False
        self._known: dict[tuple[str, str], bool] = {}  # the store's answers for one item

    def has_number(self, e164: str) -> bool:
        return self._mine.has_number(e164) or self._earlier(("number", e164))

    def has_id(self, contact_id: str) -> bool:
        return self._mine.has_id(contact_id) or self._earlier(("id", contact_id))

    def take(self, e164: str, contact_id: str) -> None:
        self._mine.take(e164, contact_id)

    def forget(self) -> None:
        self._known.clear()

    def _earlier(self, key: tuple[str, str]) -> bool:
        if not self.earlier:
            return False
        known = self._known.get(key)
        if known is None:
            kind, value = key
            raise _AskStore(value if kind == "number" else None, value if kind == "id" else None)
        return known

    async def learn(self, store: StoredCampaign, ask: _AskStore) -> None:
        if ask.number is not None:
            self._known[("number", ask.number)] = await store.has_number(ask.number)
        if ask.contact_id is not None:
            self._known[("id", ask.contact_id)] = await store.has_contact_id(ask.contact_id)
