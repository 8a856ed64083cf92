"""``polyout campaign work REF``: one more worker on a campaign, until it is complete.

The worker joins a campaign that ``run`` created (on PostgreSQL, beside other workers
on other machines; on SQLite, after the process that held the file let go). It never
reads a contacts file: the feed is the creator's, and a worker that joins before every
contact is stored waits for them. It settles only its own share of what a crash left
(the other workers are alive), except on SQLite, which one process holds at a time.
It exits 0 once the campaign is complete, 1 if contacts need attention.
"""

from __future__ import annotations

import argparse

from polyout._campaign._runner import Campaign
from polyout._cli._campaign_ref import ref_from_args, worker_name
from polyout._cli._commands_campaign import _note, check_store_file_exists, run_campaign
from polyout._cli._commands_deliver import hook_options
from polyout._cli._control_args import control_options
from polyout._client import Client

__all__ = ["work"]


def work(args: argparse.Namespace) -> int:
    ref = ref_from_args(args)
    check_store_file_exists(ref)
    worker = worker_name()
    hooks = {**hook_options(args), **control_options(args)}  # hooks, auto-pause

    def start(client: Client) -> Campaign:
        if ref.journal:
            return Campaign.resume(
                client,
                ref.target,
                concurrency=args.concurrency,
                stop_grace=args.stop_grace,
                worker=worker,
                join=True,
                **hooks,
            )
        return Campaign.resume(
            client,
            store=ref.target,
            name=str(ref.campaign),
            concurrency=args.concurrency,
            stop_grace=args.stop_grace,
            worker=worker,
            join=True,
            **hooks,
        )

    _note(f"worker {worker} joins {ref}")
    return run_campaign(args, ref, None, "work", start)
