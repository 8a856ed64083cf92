"""``polyout campaign audit REF``: the audit receipts of a campaign's intents.

``--output FILE`` exports them as JSON Lines (full numbers: an audit file, like the
results); ``--verify`` checks the hash chain: exit 0 when it is whole, 1 and the first
broken link otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from polyout._campaign._addressing import StoreRef, opened_campaign
from polyout._campaign._policy_audit import export_receipts, verify_receipts
from polyout._cli import _interrupt
from polyout._cli._campaign_ref import ref_from_args
from polyout._cli._commands_campaign import check_store_file_exists
from polyout._cli._errors import CliError, ExitCode

__all__ = ["audit"]


def audit(args: argparse.Namespace) -> int:
    if args.verify == (args.output is not None):
        raise CliError("give --output FILE to export the receipts, or --verify", ExitCode.USAGE)
    ref = ref_from_args(args)
    check_store_file_exists(ref)
    if args.verify:
        return _interrupt.run(lambda _: _verify(ref))
    output = Path(args.output)
    if output.exists() and output.is_dir():
        raise CliError(f"--output {output} is a folder: name a file", ExitCode.USAGE)
    return _interrupt.run(lambda _: _export(ref, output))


async def _verify(ref: StoreRef) -> int:
    async with opened_campaign(ref, read_only=True) as (named, stored):
        check = await verify_receipts(stored)
    if check.broken is not None:
        print(f"{named.shown}: the receipt chain is broken at {check.broken}", flush=True)
        return ExitCode.ATTENTION
    print(f"{named.shown}: {check.receipts} receipts, the chain is whole", flush=True)
    return ExitCode.OK


async def _export(ref: StoreRef, output: Path) -> int:
    async with opened_campaign(ref, read_only=True) as (named, stored):
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                count = await export_receipts(stored, out)
            partial.replace(output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise CliError(
                f"cannot write {output}: {exc.strerror or exc}", ExitCode.STORAGE
            ) from None
    print(
        f"receipts: {output} ({count} from {named.shown}; full numbers: keep it safe)",
        file=sys.stderr,
        flush=True,
    )
    return ExitCode.OK
