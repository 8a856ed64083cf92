"""The campaign a control command steers, opened for it: REF, and who is working on it.

REF is a journal path or ``--store URL --campaign NAME`` (``_addressing``). An SQLite
store is opened through its command door (``_sqlite_control_door``): beside a runner
that holds it, or holding it for the command's few milliseconds when none does. A
PostgreSQL store is opened as any process opens it; its live workers are those that
heartbeat. A missing, foreign or damaged store is refused (exit 2) before anything is
written.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import socket
from collections.abc import AsyncIterator

import attrs

from polyout._campaign._addressing import StoreKind, StoreRef, open_store, store_ref
from polyout._campaign._errors import JournalError
from polyout._campaign._sqlite_control_door import SQLiteControlDoor
from polyout._campaign._states import ACTIVE, ContactState
from polyout._campaign._store import CampaignNotFound, CampaignStore, StoredCampaign
from polyout._cli._errors import CliError, ExitCode

__all__ = ["Target", "control_target", "operator", "ref_of"]

S = ContactState


@attrs.define
class Target:
    ref: StoreRef
    campaign: StoredCampaign
    workers_alive: int
    """Workers running the campaign now (an SQLite runner holding the file counts one)."""

    async def finished(self) -> bool:
        """Every contact final and the whole source read: nothing left to steer."""
        counts = await self.campaign.counts()
        pending = counts.get(S.SCHEDULED, 0) + sum(counts.get(state, 0) for state in ACTIVE)
        return not pending and (await self.campaign.feed_position()).done


def ref_of(args: argparse.Namespace) -> StoreRef:
    ref = store_ref(store=args.store, campaign=args.campaign, journal=args.journal)
    if ref is None:
        raise CliError("name the campaign: JOURNAL, or --store URL --campaign NAME")
    return ref


def operator(command: str) -> str:
    """Who asked, for the campaign log: the command and the user at the host."""
    with contextlib.suppress(Exception):
        return f"{command} ({getpass.getuser()}@{socket.gethostname()})"
    return command


@contextlib.asynccontextmanager
async def control_target(ref: StoreRef) -> AsyncIterator[Target]:
    if ref.kind is StoreKind.SQLITE and not ref.path.is_file():
        raise CliError(f"no campaign journal at {ref.shown}: nothing was changed")
    store: CampaignStore
    if ref.kind is StoreKind.SQLITE:
        door = SQLiteControlDoor(ref.path)
        store = door
        try:
            await door.ready()
        except BaseException:
            await door.aclose()
            raise
    else:
        store = await open_store(ref)
    try:
        campaign = await _campaign(store, ref)
        if ref.kind is StoreKind.SQLITE:
            alive = int(door.runner_alive)
        else:
            alive = sum(1 for worker in await campaign.workers() if worker.live)
        yield Target(ref, campaign, alive)
    finally:
        await store.aclose()


async def _campaign(store: CampaignStore, ref: StoreRef) -> StoredCampaign:
    name = ref.campaign
    if name is None:
        names = await store.names()
        if len(names) != 1:
            held = ", ".join(map(repr, names)) or "no campaign"
            raise JournalError(
                f"{ref.shown} holds {held}: name one with --store {ref.shown} --campaign NAME"
            )
        name = names[0]
    try:
        return await store.open(name)
    except CampaignNotFound:
        raise CampaignNotFound(f"{ref.shown} holds no campaign named {name!r}") from None


def refuse(message: str) -> CliError:
    """A command that cannot apply: said, nothing changed (exit 2)."""
    return CliError(f"{message}: nothing was changed", ExitCode.USAGE)
