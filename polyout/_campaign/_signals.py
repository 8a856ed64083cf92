"""SIGINT/SIGTERM for a campaign run from a command line: first stop gracefully, then at once.

Only when asked (``run(handle_signals=True)``): a campaign embedded in an application
leaves the application's signals alone. When the run ends, the handlers that were
there before are put back: ``loop.remove_signal_handler()`` alone would reset SIGINT to
Python's default and take away, say, ``asyncio.run()``'s own Ctrl-C handling. The
handing back is done with both signals blocked: between ``remove_signal_handler()`` and
putting the old handler back, a SIGTERM would find the default, which kills.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

from polyout._log import logger
from polyout._signal_mask import STOP_SIGNALS, signals_blocked

__all__ = ["graceful_signals", "loop_signal_handlers", "stop_on_signals"]

_log = logger.getChild("campaign")


@contextlib.contextmanager
def stop_on_signals(
    loop: asyncio.AbstractEventLoop, *, first: Callable[[], None], again: Callable[[], None]
) -> Iterator[None]:
    """Call ``first`` on the first SIGINT or SIGTERM, ``again`` on every later one."""
    received = 0

    def on_signal() -> None:
        nonlocal received
        received += 1
        (first if received == 1 else again)()

    with loop_signal_handlers(loop, on_signal):
        yield


@contextlib.contextmanager
def loop_signal_handlers(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], None]
) -> Iterator[None]:
    """``callback`` on SIGINT and SIGTERM while inside; then the handlers that were there.

    Where the loop cannot take signal handlers (Windows, a thread other than the main
    one), nothing is installed: Ctrl-C then arrives as ``KeyboardInterrupt``.
    """
    previous: dict[int, Any] = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        try:
            loop.add_signal_handler(signum, callback)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        previous[signum] = handler
    try:
        yield
    finally:
        with signals_blocked():
            for installed, handler in previous.items():
                loop.remove_signal_handler(installed)
                signal.signal(installed, handler if handler is not None else signal.SIG_DFL)


def graceful_signals(
    enabled: bool, stop: Callable[[], None]
) -> contextlib.AbstractContextManager[None]:
    """A run's signal handling: the first Ctrl-C or SIGTERM calls ``stop`` (a graceful
    drain), the second cancels the current task (stop at once)."""
    if not enabled:
        return contextlib.nullcontext()
    task = asyncio.current_task()

    def first() -> None:
        _log.warning("signal received: stopping gracefully (again to stop at once)")
        stop()

    def again() -> None:
        if task is not None:
            task.cancel()

    return stop_on_signals(asyncio.get_running_loop(), first=first, again=again)
