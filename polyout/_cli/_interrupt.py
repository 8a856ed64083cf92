"""Ctrl-C and SIGTERM: the first asks the command to stop gracefully, the second stops it now.

A command runs as one asyncio task through :func:`run`. Until it registers a graceful
stop (a campaign does: stop dialling, follow the calls in flight, journal), the first
signal cancels the task; once registered, the first signal calls it and the second
cancels the task. A cancelled command surfaces as :class:`Interrupted`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["Interrupted", "Interrupts", "run"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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

    def _install(self, task: asyncio.Task[object]) -> list[int]:
        self._task = task
        loop = asyncio.get_running_loop()
        installed: list[int] = []
        for signum in _SIGNALS:
            # Windows and threads other than the main one cannot take loop signal
            # handlers: Ctrl-C then arrives as KeyboardInterrupt, handled by run().
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._handle)
                installed.append(signum)
        return installed


def run(command: Callable[[Interrupts], Awaitable[T]]) -> T:
    """Run ``command`` in a fresh event loop, with stop signals handled as described above."""
    interrupts = Interrupts()

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        installed = interrupts._install(task)
        try:
            return await command(interrupts)
        finally:
            loop = asyncio.get_running_loop()
            for signum in installed:
                loop.remove_signal_handler(signum)

    try:
        return asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise Interrupted from None
