"""A disk that really fills: a tmpfs mounted small, for the tests of issue 17 item 10.

SQLite and the results file then get ENOSPC (or EROFS, remounted read-only) from the
kernel, as on a production host. Mounting needs root: where it is refused the tests
skip, saying so, except in CI (``CI=true``), which runs as root and must run them.
Import ``small_disk_fixture`` into a test module to use the ``small_disk`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

__all__ = ["SmallDisk", "small_disk_fixture"]

_FILLER = "filler"


@attrs.frozen
class SmallDisk:
    """A tmpfs of a chosen size: a disk that really fills."""

    path: Path

    def resize(self, size: str) -> None:
        """Grow (or shrink) the disk; what it holds stays."""
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30
        )

    def read_only(self, read_only: bool) -> None:
        mode = "ro" if read_only else "rw"
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True, timeout=30)

    def fill(self) -> None:
        """Take every free byte, with a file that :meth:`free` deletes."""
        fd = os.open(self.path / _FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            with contextlib.suppress(OSError):  # ENOSPC: full
                while os.write(fd, bytes(65536)):
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        (self.path / _FILLER).unlink(missing_ok=True)

    def files(self) -> list[str]:
        """What the campaign left on the disk."""
        return sorted(name for name in os.listdir(self.path) if name != _FILLER)


@pytest.fixture(name="small_disk")
def small_disk_fixture(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 200 KB disk (``resize`` changes it), unmounted after the test."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        refused = mounted.stderr.strip() if mounted.returncode else None
    except OSError as exc:  # no mount command at all
        refused = str(exc)
    if refused is not None:
        reason = (
            f"a real full disk is a small tmpfs; mounting one was refused (not root?): {refused}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI runs as root and must run these tests")
        pytest.skip(reason)
    try:
        yield SmallDisk(folder)
    finally:
        if subprocess.run(["umount", str(folder)], timeout=30).returncode:
            subprocess.run(["umount", "--lazy", str(folder)], check=True, timeout=30)
