"""Ctrl-C and SIGTERM: the first asks the command to stop gracefully, the second stops it now.

From the moment ``main()`` starts, :func:`stop_signals` owns both signals for the whole
command: SIGTERM means what Ctrl-C means (Python's default would kill the process with
no word), the first one raises :class:`StopRequested`, a KeyboardInterrupt (``main()``
turns it into one line and exit 130), and every later one is ignored, because the
process is already on its way out and a second signal must not turn "interrupted" into
a death by signal.

Inside that, a command runs as one asyncio task through :func:`run`. Until it registers
a graceful stop (a campaign does: stop dialling, follow the calls in flight, journal),
the first signal cancels the task; once registered, the first signal calls it and the
second cancels the task. A cancelled command surfaces as :class:`Interrupted`.

Handing a signal back and forth is done with both signals blocked: asyncio's
``remove_signal_handler()`` resets them to Python's defaults (SIGTERM's kills), and a
signal arriving between that and putting our handler back would find the default.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any, TypeVar

from polyout._campaign._signals import loop_signal_handlers, signals_blocked

__all__ = ["Interrupted", "Interrupts", "run", "stop_signals"]

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The command was stopped by a signal before it finished."""


class StopRequested(KeyboardInterrupt):
    """The first SIGINT or SIGTERM, raised wherever ``main()`` happens to be.

    A subclass on purpose: CPython remembers a bare KeyboardInterrupt that leaves code
    run by ``exec()`` of a string (dataclasses and attrs build their methods that way,
    so any lazy import may be in one), and a process so marked ends by killing itself
    with SIGINT even after ``main()`` caught it and said "interrupted" (exit 130). It
    checks the exact type, so this one is not remembered.
    """


class StopSignals:
    """The process's own handler for SIGINT and SIGTERM while ``main()`` runs."""

    def __init__(self) -> None:
        self.received = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.received == 1:
            raise StopRequested

    def decided(self) -> None:
        """The command's outcome is known (it failed, or was interrupted): only leave now."""
        self.received = max(self.received, 1)


@contextlib.contextmanager
def stop_signals(*, leaving_process: bool) -> Iterator[StopSignals]:
    """Own SIGINT and SIGTERM while the ``with`` body runs (see the module's docstring).

    ``leaving_process``: ``main()`` runs as the process itself and returns only to exit.
    The signals then stay ignored: Python's finalization resets every handler it
    installed to the kernel's default (death by signal) but leaves an ignored one alone.
    Otherwise (``main()`` called from Python) the previous handlers are put back.
    """
    stop = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # only the main thread can take signals: leave them to the caller
        return
    previous = _swap(dict.fromkeys(_SIGNALS, stop.handle))
    try:
        yield stop
    finally:
        stop.decided()
        _swap(dict.fromkeys(_SIGNALS, signal.SIG_IGN) if leaving_process else previous)


def _swap(handlers: dict[int, Any]) -> dict[int, Any]:
    """Install ``handlers`` with the signals blocked; the ones they replace."""
    with signals_blocked():
        return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}


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
