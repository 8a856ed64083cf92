"""The SQLite store's one thread: it owns the connection, and every statement runs there.

The event loop never waits on the disk: an ``async`` store method hands a job (a
function of the :class:`~polyout._campaign._journal.Journal`) to this thread and
awaits its result. Jobs run one at a time, in the order they were submitted, so a
durable write commits every batched write submitted before it (they share the
connection's one open transaction).

**Group commit.** Jobs that wait in the queue together run as one group: while more
jobs wait behind the one running, a durable write's commit is only noted as owed
(``Journal.defer_commits``), and the group's last job (or the writer, for it) commits
once, with one fsync, for all of them. No job of a group is answered before the
commit that covers it, so a durable write has still committed when it returns; if
that commit fails, every job of the group says so. Answers go back to the event loop
together, one wake-up per group. A group holds at most :data:`GROUP_JOBS` jobs, so a
steady stream of writes is still answered as it goes.

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

__all__ = ["BATCH_SECONDS", "BATCH_WRITES", "GROUP_JOBS", "Writer"]

#: The oldest batched write waits at most this long for its commit.
BATCH_SECONDS = 0.2
#: A batch this large is committed at once.
BATCH_WRITES = 2000
#: A group commit covers at most this many jobs before they are answered.
GROUP_JOBS = 64

T = TypeVar("T")
#: A job and where its outcome goes: an event loop's future, or (loop None) a thread's
#: future; None in the queue stops the thread.
_Item = tuple[Callable[[Journal], Any], "asyncio.AbstractEventLoop | None", Any]
#: A job's outcome, not yet handed back: (loop, future, ok, result or exception).
_Outcome = tuple["asyncio.AbstractEventLoop | None", Any, bool, Any]
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
        self._group: list[_Outcome] = []
        self._thread = threading.Thread(
            target=self._main, args=(opener,), name=f"polyout-store {name}", daemon=True
        )
        self._stopped = False
        self._last: Callable[[Journal], object] | None = None
        self._thread.start()

    async def ready(self) -> None:
        """Wait until the file is open (raising why it could not be).

        A cancelled wait leaves the opening alone (a bare ``wrap_future`` would cancel
        it): the thread goes on to its end, and ``aclose`` can wait for that."""
        await asyncio.shield(asyncio.wrap_future(self._opened))

    async def run(self, job: Callable[[Journal], T]) -> T:
        """Run ``job`` on the thread; its result (or its exception), once committed if
        it wrote durably."""
        if self._stopped:
            raise JournalError("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    def submit(self, job: Callable[[Journal], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._stopped:
            future.set_exception(JournalError("the store is closed"))
        else:
            self._jobs.put((job, None, future))
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
            journal = self._journal = opener()
        except BaseException as exc:  # every job fails with it, the thread ends
            self._opened.set_exception(exc)
            self._stopped = True
            self._fail_all(exc)
            return
        self._opened.set_result(journal)
        while True:
            item = self._next()
            if item is None:
                self._end_group()
                self._fail_all(JournalError("the store is closed"))
                return
            if item == _COMMIT:
                self._commit_batch()
                continue
            assert not isinstance(item, str)
            job, loop, future = item
            if job is self._last:
                self._end_group()  # closing or abandoning: what the group owes commits first
            grouped = self._run_job(journal, job, loop, future)
            if not grouped or len(self._group) >= GROUP_JOBS or journal.failed is not None:
                self._end_group()

    def _run_job(
        self, journal: Journal, job: Callable[[Journal], Any], loop: Any, future: Any
    ) -> bool:
        """Run one job; whether its group goes on (more jobs were waiting behind it)."""
        failure = journal.failed
        if failure is not None and job is not self._last:
            # A write the disk refused (a batch commit, whose writes are gone): every
            # later call says so, reads too, which would answer from the rolled-back
            # file as if the lost writes had never been asked for.
            self._group.append((loop, future, False, failure))
            return False
        # More jobs wait: a commit this job asks for is left to the group's end.
        grouped = journal.defer_commits = job is not self._last and not self._jobs.empty()
        try:
            outcome: _Outcome = (loop, future, True, job(journal))
        except BaseException as exc:
            outcome = (loop, future, False, exc)
        finally:
            journal.defer_commits = False
        self._group.append(outcome)
        return grouped

    def _end_group(self) -> None:
        """Commit what the group's jobs owe, then answer them all (the commit's error,
        if it failed: their writes are gone)."""
        journal = self._journal
        if journal is not None:
            with contextlib.suppress(JournalError):  # kept as journal.failed
                if journal.commit_owed:
                    journal.commit()
            failure = journal.failed
            if failure is not None:
                self._group = [
                    (loop, future, False, failure if ok else value)
                    for loop, future, ok, value in self._group
                ]
            self._after_group()
        self._deliver()

    def _deliver(self) -> None:
        """Hand the outcomes gathered so far back, one wake-up per event loop."""
        group, self._group = self._group, []
        outboxes: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in group:
            loop = outcome[0]
            if loop is None:
                _settle_thread_future(outcome)
            else:
                outboxes.setdefault(loop, []).append(outcome)
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

    def _after_group(self) -> None:
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
                _, loop, future = item
                self._group.append((loop, future, False, exc))
        self._deliver()


def _settle(outbox: list[_Outcome]) -> None:
    for _, future, ok, value in outbox:
        if future.done():  # its awaiter was cancelled
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _settle_thread_future(outcome: _Outcome) -> None:
    _, future, ok, value = outcome
    if not future.set_running_or_notify_cancel():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
