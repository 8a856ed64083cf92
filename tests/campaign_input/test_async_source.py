"""aiter_contacts: any source, in order, without holding the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Generator

import pytest

from polyout._campaign import Contact, ContactFileError, ContactItem, RowError, aiter_contacts
from polyout._campaign._readers import _ThreadedBatches
from tests.campaign_input.conftest import WriteFile


async def collect(source: object) -> list[ContactItem]:
    return [item async for item in aiter_contacts(source)]  # type: ignore[arg-type]


def many_rows(count: int) -> str:
    return "phone,id\n" + "".join(f"+1212{2000000 + n:07d},c{n}\n" for n in range(count))


async def test_a_path_is_read_in_order(write: WriteFile) -> None:
    path = write("c.csv", many_rows(2500))
    items = await collect(path)
    assert [item.row for item in items] == list(range(2, 2502))
    assert await collect(str(path)) == items


async def test_iterables_and_async_iterables_pass_through_unchanged() -> None:
    given: list[ContactItem] = [Contact(id="a", phone="+1"), RowError(row=3, reason="bad")]

    async def produce() -> AsyncIterator[ContactItem]:
        for item in given:
            yield item

    assert await collect(given) == given
    assert await collect(iter(given)) == given
    assert await collect(produce()) == given


async def test_a_refused_file_raises_from_the_first_item(write: WriteFile) -> None:
    with pytest.raises(ContactFileError, match="no phone column"):
        await collect(write("c.csv", "name\nAnn\n"))


async def loop_turns_while(source: object) -> tuple[int, list[ContactItem]]:
    """How many turns another task got while ``source`` was read, and what was read."""
    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)  # let it start: only turns during the reading count
    turns = 0
    items = await collect(source)
    counter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await counter
    return turns, items


async def test_reading_a_file_leaves_the_event_loop_free(write: WriteFile) -> None:
    turns, items = await loop_turns_while(write("c.csv", many_rows(5000)))
    assert len(items) == 5000
    # The rows come in batches from a thread: the loop ran other tasks in between.
    assert turns >= 5


async def test_a_plain_iterable_lets_other_tasks_run_between_batches() -> None:
    turns, items = await loop_turns_while([Contact(id=str(n), phone="+1") for n in range(3000)])
    assert len(items) == 3000
    assert turns >= 3


def open_files() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_closing_early_closes_the_file(write: WriteFile) -> None:
    path = write("c.csv", many_rows(3000))
    items = aiter_contacts(path)
    first = await items.__anext__()
    assert first.row == 2
    assert str(path) in open_files()
    await items.aclose()  # type: ignore[attr-defined]
    assert str(path) not in open_files()
    with pytest.raises(StopAsyncIteration):
        await items.__anext__()


def test_closing_while_a_batch_is_read_in_the_thread_waits_for_the_batch() -> None:
    started, release = threading.Event(), threading.Event()
    closed = threading.Event()

    def slow_source() -> Generator[ContactItem, None, None]:
        try:
            started.set()
            release.wait(timeout=10)
            yield Contact(id="a", phone="+1")
        finally:
            closed.set()

    batches = _ThreadedBatches(slow_source())
    result: list[list[ContactItem]] = []
    reader = threading.Thread(target=lambda: result.append(batches.take(10)))
    reader.start()
    assert started.wait(timeout=10)
    batches.close()  # the consumer was cancelled: the thread still runs the generator
    assert not closed.is_set()
    release.set()
    reader.join(timeout=10)
    assert closed.is_set()  # the thread closed it when its batch was done
    assert [item.id for item in result[0] if isinstance(item, Contact)] == ["a"]
    assert batches.take(10) == []
