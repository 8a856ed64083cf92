"""Watching the parts of a run: a part that dies stops the run at once.

A run is a few tasks: the feeder, the trigger workers and the poller. Each depends on
the others: workers wait for slots that only the poller frees. So when one of them
ends unexpectedly (an exception, or the poller returning before it was told it could),
the others must not carry on as if nothing happened: they would dial up to the
concurrency limit and then wait for ever. :func:`watch` raises :class:`PartDied` the
moment that happens, naming the part and the cause, and the campaign stops, its
journal resumable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

__all__ = ["PartDied", "watch"]


class PartDied(Exception):
    """A part of the run ended when it should not have; ``__cause__`` says why, if known."""

    def __init__(self, task: asyncio.Task[None], cause: BaseException | None) -> None:
        name = task.get_name().removeprefix("polyout-")
        why = f"{type(cause).__name__}: {cause}" if cause is not None else "it ended early"
        super().__init__(f"the campaign's {name} stopped ({why})")
        self.task = task
        self.__cause__ = cause

    def with_cause(self, cause: BaseException | None) -> PartDied:
        """The same death, explained by ``cause`` (a part may record why it stopped)."""
        return PartDied(self.task, cause) if cause is not None else self


async def watch(
    tasks: Collection[asyncio.Task[None]],
    *,
    until_done: Collection[asyncio.Task[None]],
    vital: Collection[asyncio.Task[None]] = (),
) -> None:
    """Wait until every task of ``until_done`` ends.

    Re-raises at once the exception of any task that fails, and raises
    :class:`PartDied` if a ``vital`` task ends at all (it must outlive this wait).
    """
    while not all(task.done() for task in until_done):
        pending = [task for task in tasks if not task.done()]
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if not task.done() or task.cancelled():
                continue
            failure = task.exception()
            if failure is not None:
                raise failure
            if task in vital:
                raise PartDied(task, None)
