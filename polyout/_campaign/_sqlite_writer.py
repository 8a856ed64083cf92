"""The SQLite store's one thread: it owns the connection, and every statement runs there.

The event loop never waits on the disk: an ``async`` store method hands a job (a
function of the :class:`~polyout._campaign._journal.Journal`) to this thread and
awaits its result. Jobs run one at a time, in the order they were submitted, so a
durable write commits every batched write submitted before it (they share the
connection's one open transaction).

Batched writes are committed here, without anyone asking, once the oldest of them
is :data:`BATCH_SECONDS` old or :data:`BATCH_WRITES` are pending: a crash loses at
most that much, and never half a write (each job is one savepoint).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import Journal

__all__ = ["BATCH_SECONDS", "BATCH_WRITES", "Writer"]

#: The oldest batched write waits at most this long for its commit.
BATCH_SECONDS = 0.2
#: A batch this large is committed at once.
BATCH_WRITES = 2000

T = TypeVar("T")
#: What a job's outcome is handed to, on the thread: (True, result) or (False, exception).
_Sink = Callable[[bool, Any], None]
#: A job and where its outcome goes; None in the queue stops the thread.
_Item = tuple[Callable[[Journal], Any], _Sink]
#: Outcomes handed to an event loop together, in one wake-up.
_Outbox = list[tuple["asyncio.Future[Any]", bool, Any]]
_COMMIT = "commit"


class Writer:
    """The thread owning one store file's connection.

    ``opener`` runs first, on the thread, and returns the journal all later jobs get;
    if it fails, every job fails with its error.
    """

    def __init__(self, opener: Callable[[], Journal], name: str) -> None:
        self._jobs: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._opened: concurrent.futures.Future[Journal] = concurrent.futures.Future()
        self._journal: Journal | None = None
        self._dirty_since: float | None = None
        self._outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
        self._thread = threading.Thread(
            target=self._main, args=(opener,), name=f"polyout-store {name}", daemon=True
        )
        self._stopped = False
        self._last: Callable[[Journal], object] | None = None
        self._thread.start()

    async def ready(self) -> None:
        """Wait until the file is open (raising why it could not be)."""
        await asyncio.wrap_future(self._opened)

    async def run(self, job: Callable[[Journal], T]) -> T:
        """Run ``job`` on the thread; its result (or its exception).

        Outcomes go back to the loop in batches (one wake-up for every job the thread
        ran back to back): with many writes in flight, the loop is not woken per write.
        """
        if self._stopped:
            raise JournalError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def sink(ok: bool, value: Any) -> None:
            self._outboxes.setdefault(loop, []).append((future, ok, value))

        self._jobs.put((job, sink))
        return await future

    def submit(self, job: Callable[[Journal], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._stopped:
            future.set_exception(JournalError("the store is closed"))
            return future

        def sink(ok: bool, value: Any) -> None:
            if not future.set_running_or_notify_cancel():
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        self._jobs.put((job, sink))
        return future

    def stop(self, last: Callable[[Journal], object]) -> concurrent.futures.Future[object]:
        """Run ``last`` (closing or abandoning the file), then end the thread."""
        self._last = last  # runs even after a failure: it lets go of the file
        future = self.submit(last)
        self._stopped = True
        self._jobs.put(None)
        return future

    def join(self) -> None:
        self._thread.join()

    # -- on the thread ----------------------------------------------------------------
    def _main(self, opener: Callable[[], Journal]) -> None:
        try:
            self._journal = opener()
        except BaseException as exc:  # every job fails with it, the thread ends
            self._opened.set_exception(exc)
            self._stopped = True
            self._fail_all(exc)
            return
        self._opened.set_result(self._journal)
        while True:
            item = self._next()
            if item is None:
                self._fail_all(JournalError("the store is closed"))
                return
            if item == _COMMIT:
                self._commit_batch()
                continue
            assert not isinstance(item, str)
            job, sink = item
            failure = self._journal.failed
            if failure is not None and job is not self._last:
                # A write the disk refused (a batch commit, whose writes are gone): every
                # later call says so, reads too, which would answer from the rolled-back
                # file as if the lost writes had never been asked for.
                sink(False, failure)
                self._deliver_if_idle()
                continue
            try:
                result = job(self._journal)
            except BaseException as exc:
                sink(False, exc)
            else:
                sink(True, result)
            self._after_job()
            self._deliver_if_idle()

    def _deliver_if_idle(self) -> None:
        if self._jobs.empty():
            self._deliver()

    def _deliver(self) -> None:
        """Hand the outcomes gathered so far to their loops, one wake-up per loop."""
        outboxes, self._outboxes = self._outboxes, {}
        for loop, outbox in outboxes.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, outbox)

    def _next(self) -> _Item | str | None:
        """The next job (None: stop), or :data:`_COMMIT` when the oldest batched write
        is due for its commit."""
        if self._dirty_since is None:
            return self._jobs.get()
        wait = self._dirty_since + BATCH_SECONDS - time.monotonic()
        if wait <= 0:
            return _COMMIT
        try:
            return self._jobs.get(timeout=wait)
        except queue.Empty:
            return _COMMIT

    def _after_job(self) -> None:
        journal = self._journal
        assert journal is not None
        if not journal.in_transaction:
            self._dirty_since = None
        elif journal.pending_writes >= BATCH_WRITES:
            self._commit_batch()
        elif self._dirty_since is None:
            self._dirty_since = time.monotonic()

    def _commit_batch(self) -> None:
        journal = self._journal
        assert journal is not None
        self._dirty_since = None
        with contextlib.suppress(JournalError):  # kept as journal.failed: every job raises it
            journal.commit()

    def _fail_all(self, exc: BaseException) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _, sink = item
                sink(False, exc)
        self._deliver()


def _settle(outbox: _Outbox) -> None:
    for future, ok, value in outbox:
        if future.done():  # its awaiter was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
