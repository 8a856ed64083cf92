"""SIGINT and SIGTERM held back while signal handlers change hands.

Its own small module: the command's first lines need it before anything heavy is loaded.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["STOP_SIGNALS", "signals_blocked"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM sent meanwhile wait, then go to whatever handler is there after."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: nothing to block, nothing to reset
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
