"""Async ``on_event`` callbacks: awaited in order, with backpressure, never unbounded.

Each async callback gets a queue of its own and one task that awaits it for each event
in turn, so a slow one never delays the calls' bookkeeping (the recorder emits without
waiting) and never sees its events out of order. When a queue holds ``high`` events,
:meth:`AsyncCallbacks.room` makes the dispatcher wait before it dials anyone new (the
backpressure: the campaign slows to the callback's pace). Events of calls already in
flight still arrive meanwhile; past ``limit`` the oldest is dropped and counted
(``CampaignStats.events_dropped``), so memory stays bounded whatever the callback does.
A callback that raises is logged and called again for the next event.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from polyout._log import logger

__all__ = ["AsyncCallbacks", "is_async_callback"]

_log = logger.getChild("campaign")


def is_async_callback(callback: Callable[..., object]) -> bool:
    """An ``async def`` function, or an object whose ``__call__`` is one."""
    return inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(
        getattr(callback, "__call__", None)  # noqa: B004 (a callable object's method)
    )


class _Consumer:
    def __init__(self, callback: Callable[[Any], Awaitable[object]]) -> None:
        self.callback = callback
        self.queue: collections.deque[Any] = collections.deque()
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.closed = False


class AsyncCallbacks:
    """The async callbacks of one campaign (see the module docstring)."""

    def __init__(
        self, callbacks: tuple[Callable[[Any], Awaitable[object]], ...], *, high: int, limit: int
    ) -> None:
        self._consumers = [_Consumer(callback) for callback in callbacks]
        self._high = high
        self._limit = max(limit, high)
        self._room = asyncio.Event()
        self._room.set()
        self.dropped = 0

    def __bool__(self) -> bool:
        return bool(self._consumers)

    def offer(self, event: Any) -> None:
        for consumer in self._consumers:
            if consumer.closed:
                continue
            if len(consumer.queue) >= self._limit:
                consumer.queue.popleft()
                self.dropped += 1
            consumer.queue.append(event)
            consumer.ready.set()
            if consumer.task is None:
                consumer.task = asyncio.get_running_loop().create_task(self._consume(consumer))
            if len(consumer.queue) >= self._high:
                self._room.clear()

    async def room(self) -> None:
        """Wait while any callback has ``high`` events or more waiting for it."""
        while not self._room.is_set():
            await self._room.wait()

    def close(self) -> None:
        """No more events: each callback gets those already queued, then its task ends."""
        for consumer in self._consumers:
            consumer.closed = True
            consumer.ready.set()

    async def settled(self) -> None:
        """Wait until every queued event was handed to its callback (after ``close``)."""
        tasks = [consumer.task for consumer in self._consumers if consumer.task is not None]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _consume(self, consumer: _Consumer) -> None:
        while True:
            while consumer.queue:
                event = consumer.queue.popleft()
                try:
                    await consumer.callback(event)
                except Exception:  # a broken consumer must not stop the calls
                    _log.exception("campaign event callback %r failed", consumer.callback)
                self._update_room()
            if consumer.closed:
                return
            consumer.ready.clear()
            await consumer.ready.wait()

    def _update_room(self) -> None:
        if all(len(consumer.queue) < self._high for consumer in self._consumers):
            self._room.set()
