"""``polyout campaign export``: move or back up a journal as one self-contained file.

A journal is a set of files (the database, its ``-wal`` and ``-shm``): copying the main
file alone can lose what only the ``-wal`` holds, and a resume of that copy would dial
those contacts again. The export is a consistent snapshot in one file (``VACUUM INTO``).
"""

from __future__ import annotations

import argparse
import sys

import attrs

from polyout._campaign._journal import export_journal
from polyout._cli._campaign_ref import campaign_command, ref_from_args
from polyout._cli._errors import CliError, ExitCode

__all__ = ["export"]


def export(args: argparse.Namespace) -> int:
    ref = ref_from_args(args)
    if not ref.exclusive:  # a database is backed up with its own tools
        raise CliError(f"{ref.shown} is a database: back it up with pg_dump", ExitCode.USAGE)
    destination = export_journal(ref.path, args.destination)
    resume = campaign_command("resume", attrs.evolve(ref, target=str(destination)))
    print(
        f"exported {ref.path} to {destination}: continue with '{resume}' there, "
        "and never resume both the copy and the original (each would dial the contacts left)",
        file=sys.stderr,
        flush=True,
    )
    return ExitCode.OK
