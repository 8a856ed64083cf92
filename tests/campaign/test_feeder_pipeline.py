"""The feeder plans the next batch while the previous one is being stored (issue 11, row 4).

A real SQLite store; its ``append`` is observed (and slowed, as a loaded disk would be)
to see what the feeder hands it: one append in flight at most, batches in order, each
with the feed position after it, planning going on meanwhile, and a store error stopping
the feed at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from polyout._campaign._clock import SystemClock
from polyout._campaign._contacts import Contact
from polyout._campaign._events import EventBus
from polyout._campaign._feeder import Feeder
from polyout._campaign._recorder import Progress, Recorder
from polyout._campaign._sqlite_campaign import SQLiteCampaign
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import CampaignDefinition, ContactEntry, FeedPosition

COUNT = 1500
STORE_DELAY = 0.03  # seconds each append takes on top of the disk's own time


class Observed:
    """The campaign's ``append``, slowed and recorded."""

    def __init__(self, stored: SQLiteCampaign, fail_at: int | None = None) -> None:
        self._append = stored.append
        self.fail_at = fail_at
        self.yielded = 0  # items the source has given so far
        self.in_flight = 0
        self.most_in_flight = 0
        self.batches: list[tuple[list[int], FeedPosition]] = []
        self.planned_meanwhile: list[int] = []

    def contacts(self) -> Iterator[Contact]:
        for n in range(COUNT):
            self.yielded += 1
            yield Contact(id=f"c{n}", phone=f"+4474{n:08d}")

    async def append(
        self, entries: Sequence[ContactEntry], position: FeedPosition, *, now: float
    ) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        before = self.yielded
        try:
            self.batches.append(([entry.seq for entry in entries], position))
            if len(self.batches) == self.fail_at:
                raise OSError("disk I/O error")
            await asyncio.sleep(STORE_DELAY)
            await self._append(entries, position, now=now)
        finally:
            self.planned_meanwhile.append(self.yielded - before)
            self.in_flight -= 1


async def new_store(path: Path) -> tuple[SQLiteStore, SQLiteCampaign]:
    definition = CampaignDefinition(
        settings={}, connection={}, suppressed=frozenset(), created_at=time.time()
    )
    return await SQLiteStore.create_path(path, definition)


def feeder_of(stored: SQLiteCampaign, source: Iterator[Contact], label: str) -> Feeder:
    """A feeder of ``source`` into ``stored``, with no window, defaults or suppressions."""
    return Feeder(
        Recorder(stored, SystemClock(), EventBus(), Progress({}, 0)),
        source,
        label=label,
        window=None,
        default_timezone=None,
        default_country=None,
        suppressed=frozenset(),
        stopping=lambda: False,
    )


async def feed(path: Path, fail_at: int | None = None) -> tuple[Observed, BaseException | None]:
    """Feed COUNT contacts into a new store at ``path``; what the store saw, and the error."""
    store, stored = await new_store(path)
    observed = Observed(stored, fail_at)
    stored.append = observed.append  # type: ignore[method-assign]
    feeder = feeder_of(stored, observed.contacts(), str(path))
    try:
        await feeder.run()
    except OSError as error:
        return observed, error
    finally:
        await store.aclose()
    return observed, None


async def stored_position(path: Path) -> FeedPosition:
    store, stored = await SQLiteStore.open_path(path)
    try:
        return await stored.feed_position()
    finally:
        await store.aclose()


async def test_the_next_batch_is_planned_while_one_append_is_in_flight(tmp_path: Path) -> None:
    observed, error = await feed(tmp_path / "j.db")

    assert error is None
    assert observed.most_in_flight == 1  # never two appends at once: order and memory kept
    seqs = [seq for batch, _ in observed.batches for seq in batch]
    assert seqs == list(range(COUNT))  # every item once, in order
    for batch, position in observed.batches:
        assert position.count == batch[-1] + 1  # the position goes with its contacts
    assert observed.batches[-1][1].done
    # The source was read on while appends were being stored (serial feeding reads
    # nothing meanwhile), and batches grew past the old 64 while the store was busy.
    assert sum(observed.planned_meanwhile) > 0
    assert max(len(batch) for batch, _ in observed.batches) > 64
    final = await stored_position(tmp_path / "j.db")
    assert (final.count, final.done) == (COUNT, True)


async def test_a_store_error_stops_the_feed_and_nothing_is_appended_after_it(
    tmp_path: Path,
) -> None:
    observed, error = await feed(tmp_path / "j.db", fail_at=2)

    assert isinstance(error, OSError)
    assert len(observed.batches) == 2  # the failed append was the last one issued
    first_batch, first_position = observed.batches[0]
    # On the file: the first batch and the position after it, nothing of the second.
    assert await stored_position(tmp_path / "j.db") == first_position
    assert first_position.count == len(first_batch) < COUNT


async def test_planning_gives_the_loop_a_turn_every_few_milliseconds(tmp_path: Path) -> None:
    # A trigger released by the pacer leaves a loop turn or two later: planning that holds
    # the loop meanwhile delays it without delaying the next release, and a server
    # counting a sliding second then sees R + 1 (a 429). Here each item costs 1 ms of
    # CPU, so a turn every 64 items would hold the loop for 64 ms at a time.
    def slow_contacts() -> Iterator[Contact]:
        for n in range(150):
            busy_until = time.perf_counter() + 0.001
            while time.perf_counter() < busy_until:
                pass
            yield Contact(id=f"c{n}", phone=f"+4474{n:08d}")

    store, stored = await new_store(tmp_path / "j.db")
    feeder = feeder_of(stored, slow_contacts(), "slow")
    gaps: list[float] = []

    async def watch() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0)
            gaps.append(time.perf_counter() - before)

    watcher = asyncio.ensure_future(watch())
    try:
        await feeder.run()
    finally:
        watcher.cancel()
        await store.aclose()
    assert (await stored_position(tmp_path / "j.db")).count == 150
    assert len(gaps) > 20
    assert max(gaps) < 0.03  # 2 ms a turn, and room for a slow machine; 64 items: 64 ms
