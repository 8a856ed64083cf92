"""What a fresh interpreter prints: for tests of what importing loads (this one has long
loaded everything)."""

from __future__ import annotations

import subprocess
import sys

__all__ = ["printed_by"]


def printed_by(probe: str) -> str:
    """The standard output of ``python -c probe``; a failure raises with its stderr."""
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    if completed.returncode != 0:
        raise AssertionError(f"the probe exited {completed.returncode}:\n{completed.stderr}")
    return completed.stdout
