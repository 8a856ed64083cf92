"""``polyout campaign export``: move or back up a journal as one self-contained file.

A journal is a set of files (the database, its ``-wal`` and ``-shm``): copying the main
file alone can lose what only the ``-wal`` holds, and a resume of that copy would dial
those contacts again. The export is a consistent snapshot in one file (``VACUUM INTO``).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from polyout._campaign._journal import export_journal
from polyout._cli._errors import ExitCode

__all__ = ["export"]


def export(args: argparse.Namespace) -> int:
    destination = export_journal(args.journal, args.destination)
    resume = shlex.join(["polyout", "campaign", "resume", str(destination)])
    print(
        f"exported {args.journal} to {destination}: continue with '{resume}' there, "
        "and never resume both the copy and the original (each would dial the contacts left)",
        file=sys.stderr,
        flush=True,
    )
    return ExitCode.OK
