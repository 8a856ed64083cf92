"""One runner per journal: an OS lock on a file next to it, released even by SIGKILL.

Two processes running the same journal would each dial the same scheduled contacts.
SQLite's own locks only serialise writes, so the runner holds an exclusive,
non-blocking lock on ``<journal>-lock`` for as long as the journal is open; the
operating system drops it when the process dies, however it dies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from polyout._campaign._errors import JournalError

__all__ = ["JournalLock"]


class JournalLock:
    """Held from construction until :meth:`release`."""

    def __init__(self, journal: Path) -> None:
        self.path = journal.with_name(journal.name + "-lock")
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(self._fd)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise JournalError(
                f"{journal} is in use by another running campaign (lock {self.path})"
            ) from None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            _unlock(fd)
            os.close(fd)

    def __repr__(self) -> str:
        return f"<JournalLock {str(self.path)!r} {'held' if self._fd is not None else 'released'}>"


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
