"""One runner per journal: an OS lock on the journal itself, released even by SIGKILL.

Two processes running the same journal would each dial the same scheduled contacts.
SQLite's own locks only serialise writes, so the runner holds an exclusive,
non-blocking lock for as long as the journal is open; the operating system drops it
when the process dies, however it dies.

The lock belongs to the file, not to the name it was opened by: a hard link or a
symlink to a running journal is the same file and is refused. On Linux it is a
``flock`` on the journal file itself (``flock`` and SQLite's ``fcntl`` byte-range locks
do not interact there). Elsewhere the two kinds of lock can collide, so the lock is a
``<journal>-lock`` file beside the journal's real path: symlinks are seen through, a
second hard link is not (a documented limit on those systems).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from polyout._campaign._errors import JournalError

__all__ = ["JournalLock"]

_LOCK_THE_FILE = sys.platform.startswith("linux")


class JournalLock:
    """Held from construction until :meth:`release`.

    ``journal`` is the file to lock; ``name`` is the journal's name in messages and,
    where a lock file is used, the name it is kept beside (a journal being created is
    locked through the file that will become it).
    """

    def __init__(self, journal: Path, *, name: Path | None = None) -> None:
        shown = name if name is not None else journal
        if _LOCK_THE_FILE:
            self.path = journal
            flags = os.O_RDONLY
        else:
            real = Path(os.path.realpath(shown))
            self.path = real.with_name(real.name + "-lock")
            flags = os.O_RDWR | os.O_CREAT
        try:
            self._fd: int | None = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileNotFoundError:
            raise JournalError(f"no campaign journal at {shown}") from None
        except OSError as exc:
            raise JournalError(f"cannot lock the journal {shown}: {exc.strerror or exc}") from None
        try:
            _lock(self._fd)
        except OSError:
            os.close(self._fd)
            self._fd = None
            raise JournalError(
                f"{shown} is in use by another running campaign (the same file, under "
                "this name or another): only one run at a time"
            ) from None

    @staticmethod
    def is_held(journal: Path) -> bool:
        """Whether a runner holds the journal now (taking the lock for a moment to see)."""
        try:
            JournalLock(journal).release()
        except JournalError as exc:
            return "in use" in str(exc)
        return False

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
