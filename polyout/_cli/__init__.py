"""The ``polyout`` command.

``main(argv)`` returns the exit status and never lets a traceback reach the operator.
It takes SIGINT and SIGTERM first, and only then loads the command (the parser, the
library, aiohttp: about half a second), so that a Ctrl-C even then is one line and exit
130. Hence this module loads nothing heavy itself: the work is in ``_main``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from polyout._cli._stop import stop_signals

__all__ = ["main"]

#: ``ExitCode.INTERRUPTED``, for a stop that comes before that enum is loaded.
_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``polyout`` with ``argv`` (default: the process's arguments); return the exit status."""
    # Called without argv, main() is the process itself: it returns only to exit.
    with stop_signals(leaving_process=argv is None) as signals:
        try:
            from polyout._cli._main import run_command
        except KeyboardInterrupt:
            signals.decided()
            print("polyout: error: interrupted", file=sys.stderr, flush=True)
            return _INTERRUPTED
        return run_command(argv, signals)
