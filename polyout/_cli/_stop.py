"""Ctrl-C and SIGTERM around the whole command, from its first line to its exit.

From the moment ``main()`` starts, before the command's modules are even loaded,
:func:`stop_signals` owns both signals: SIGTERM means what Ctrl-C means (Python's
default would kill the process with no word), the first one raises
:class:`StopRequested`, a KeyboardInterrupt (``main()`` turns it into one line and exit
130), and every later one is ignored, because the process is already on its way out and
a second signal must not turn "interrupted" into a death by signal.

Handing a signal back and forth is done with both signals blocked: asyncio's
``remove_signal_handler()`` resets them to Python's defaults (SIGTERM's kills), and a
signal arriving between that and putting our handler back would find the default.

This module loads nothing of polyout but the signal mask: it runs before the rest.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from polyout._signal_mask import STOP_SIGNALS, signals_blocked

__all__ = ["StopRequested", "StopSignals", "stop_signals"]


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
    previous = _swap(dict.fromkeys(STOP_SIGNALS, stop.handle))
    try:
        yield stop
    finally:
        stop.decided()
        _swap(dict.fromkeys(STOP_SIGNALS, signal.SIG_IGN) if leaving_process else previous)


def _swap(handlers: dict[int, Any]) -> dict[int, Any]:
    """Install ``handlers`` with the signals blocked; the ones they replace."""
    with signals_blocked():
        return {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
