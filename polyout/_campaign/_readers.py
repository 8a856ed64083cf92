"""Streaming contact sources: a CSV or JSON Lines file, or any (async) iterable of contacts.

Every data row of a file yields exactly one :class:`Contact` or :class:`RowError`, in file
order; blank lines are skipped but still counted, so row numbers stay the file's line
numbers. A file that cannot be read at all raises :class:`ContactFileError` from the first
``next()``, before any row. Memory stays flat whatever the size of the file.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable
from typing import Literal, TypeAlias

from polyout._campaign._contacts import ContactFileError, ContactItem
from polyout._campaign._csv_reader import read_csv
from polyout._campaign._jsonl_reader import read_jsonl

__all__ = [
    "ContactFormat",
    "ContactSource",
    "aiter_contacts",
    "format_of",
    "iter_contacts",
    "read_csv",
    "read_jsonl",
]

ContactSource: TypeAlias = (
    Iterable[ContactItem] | AsyncIterable[ContactItem] | str | os.PathLike[str]
)
ContactFormat: TypeAlias = Literal["csv", "jsonl"]

_EXTENSIONS: dict[str, ContactFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
    ".json-lines": "jsonl",
}
# Rows read per trip to the worker thread: large enough to amortise the hop, small
# enough that the event loop is never held for more than a few milliseconds.
_BATCH_SIZE = 1000


def format_of(path: str | os.PathLike[str]) -> ContactFormat:
    """The format a file's extension names, or ContactFileError."""
    name = os.fspath(path)
    extension = os.path.splitext(name)[1].lower()
    if extension not in _EXTENSIONS:
        known = ", ".join(_EXTENSIONS)
        raise ContactFileError(
            f"{name}: cannot tell the format from the extension {extension!r} "
            f"(known: {known}); name the format explicitly"
        )
    return _EXTENSIONS[extension]


def iter_contacts(
    path: str | os.PathLike[str], *, format: ContactFormat | None = None
) -> Generator[ContactItem, None, None]:
    """Stream the contacts of a CSV or JSON Lines file (format from the extension if None)."""
    chosen = format_of(path) if format is None else format
    if chosen == "csv":
        return read_csv(path)
    if chosen == "jsonl":
        return read_jsonl(path)
    raise ValueError(f"format must be 'csv' or 'jsonl', not {format!r}")


# -- Any source, without blocking the event loop -----------------------------------------


async def aiter_contacts(source: ContactSource) -> AsyncIterator[ContactItem]:
    """The contacts of a file path, an async iterable, or a plain iterable, asynchronously.

    A file is read in a worker thread, a batch of rows at a time. A plain iterable is
    iterated in place (it may be bound to this thread, like a database cursor), giving
    the event loop a turn after every batch.
    """
    if isinstance(source, (str, os.PathLike)):
        batches = _ThreadedBatches(iter_contacts(source))
        try:
            while batch := await asyncio.to_thread(batches.take, _BATCH_SIZE):
                for item in batch:
                    yield item
        finally:
            batches.close()
    elif isinstance(source, AsyncIterable):
        async for item in source:
            yield item
    else:
        for count, item in enumerate(source, start=1):
            yield item
            if count % _BATCH_SIZE == 0:
                await asyncio.sleep(0)


class _ThreadedBatches:
    """A generator advanced in worker threads, one batch at a time, closable at any moment.

    When the consumer is cancelled while a batch is being read, closing the generator
    from the event loop would collide with the thread still running it; instead the
    thread closes it as soon as its batch is done.
    """

    def __init__(self, items: Generator[ContactItem, None, None]) -> None:
        self._items = items
        self._lock = threading.Lock()
        self._closing = False

    def take(self, size: int) -> list[ContactItem]:
        with self._lock:
            batch = [] if self._closing else list(itertools.islice(self._items, size))
        if self._closing:
            self._close_now()
        return batch

    def close(self) -> None:
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._items.close()
            finally:
                self._lock.release()

    def _close_now(self) -> None:
        with self._lock:
            self._items.close()
