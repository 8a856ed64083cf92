"""REF on the command line: a journal path, or ``--store URL --campaign NAME``.

Every campaign command names its campaign this way (``_flag_groups.store_flags`` and a
``JOURNAL`` positional). This module turns the flags into a
:class:`~polyout._campaign._addressing.StoreRef`, names the process among a campaign's
workers, and writes the commands the CLI suggests (resume, work, report) with the
store's password as ``***``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import socket
from pathlib import Path

from polyout._campaign._addressing import StoreRef, opened_campaign, store_ref
from polyout._campaign._journal_tables import DEFAULT_CAMPAIGN
from polyout._campaign._store import CampaignNotFound
from polyout._cli._errors import CliError, ExitCode

__all__ = ["campaign_command", "campaign_exists", "ref_from_args", "runs_anchor", "worker_name"]


def ref_from_args(args: argparse.Namespace, *, default_journal: Path | None = None) -> StoreRef:
    """The campaign the command names (``default_journal`` when it names none)."""
    ref = store_ref(
        store=getattr(args, "store", None),
        campaign=getattr(args, "campaign", None),
        journal=getattr(args, "journal", None),
    )
    if ref is not None:
        return ref
    if default_journal is not None:
        return store_ref(journal=default_journal) or _no_ref()
    return _no_ref()


def _no_ref() -> StoreRef:
    raise CliError(
        "name the campaign: a journal path, or --store URL --campaign NAME", ExitCode.USAGE
    )


def campaign_command(verb: str, ref: StoreRef, *extra: str) -> str:
    """``polyout campaign VERB REF EXTRA...``, safe to print: the password is ``***``."""
    return shlex.join(["polyout", "campaign", verb, *ref.flags(), *extra])


def worker_name() -> str:
    """This process among the campaign's workers: host, pid and a short random suffix (a
    restarted pod may get the pid a dead one had)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


async def campaign_exists(ref: StoreRef) -> bool:
    """Whether the store already holds the campaign ``ref`` names (nothing is created)."""
    if ref.exclusive and not ref.path.exists():
        return False
    try:
        async with opened_campaign(ref, read_only=True):
            return True
    except CampaignNotFound:
        return False


def runs_anchor(ref: StoreRef) -> Path | None:
    """Where the CLI's per-run figures are kept (``_runlog``): beside an SQLite file,
    one file per campaign of it; none for a database."""
    if not ref.exclusive:
        return None
    if ref.campaign is None or ref.campaign == DEFAULT_CAMPAIGN:
        return ref.path
    return ref.path.with_name(f"{ref.path.name}.{ref.campaign}")
