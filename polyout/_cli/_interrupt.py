"""Ctrl-C and SIGTERM inside a command: a graceful stop first, then at once.

Around the whole command, :func:`polyout._cli._stop.stop_signals` owns both signals
(the first raises a KeyboardInterrupt, later ones are ignored). Inside that, a command
runs as one asyncio task through :func:`run`. Until it registers a graceful stop (a
campaign does: stop dialling, follow the calls in flight, journal), the first signal
cancels the task; once registered, the first signal calls it and the second cancels
the task. A cancelled command surfaces as :class:`Interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from polyout._campaign._signals import loop_signal_handlers

__all__ = ["Interrupted", "Interrupts", "run"]

T = TypeVar("T")


class Interrupted(Exception):
    """The command was stopped by a signal before it finished."""


class Interrupts:
    """Counts the stop signals received and decides what each one does."""

    def __init__(self) -> None:
        self.count = 0
        self._graceful: Callable[[], None] | None = None
        self._task: asyncio.Task[object] | None = None
        self._on_signal: Callable[[int], None] | None = None

    def on_first(self, graceful: Callable[[], None]) -> None:
        """Call ``graceful`` on the first signal instead of cancelling the command."""
        self._graceful = graceful

    def notify(self, callback: Callable[[int], None]) -> None:
        """Tell ``callback`` each time a signal arrives (with the count so far)."""
        self._on_signal = callback

    def _handle(self) -> None:
        self.count += 1
        if self._on_signal is not None:
            self._on_signal(self.count)
        if self.count == 1 and self._graceful is not None:
            self._graceful()
        elif self._task is not None:
            self._task.cancel()

    @contextlib.contextmanager
    def _installed(self, task: asyncio.Task[object]) -> Iterator[None]:
        self._task = task
        # Back to the handler that was there afterwards (stop_signals()'s, or the
        # caller's), never through Python's default in between.
        with loop_signal_handlers(asyncio.get_running_loop(), self._handle):
            yield


def run(command: Callable[[Interrupts], Awaitable[T]]) -> T:
    """Run ``command`` in a fresh event loop, with stop signals handled as described above."""
    interrupts = Interrupts()

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        with interrupts._installed(task):
            return await command(interrupts)

    try:
        return asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise Interrupted from None
