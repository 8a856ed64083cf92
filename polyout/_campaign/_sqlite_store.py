"""The SQLite campaign store: the embedded default, one file holding named campaigns.

It keeps every promise of the journal file (see ``_journal``): created whole, locked by
the file itself while open (one writing process at a time), refused when copied
without its ``-wal``, damage and newer schemas refused on open, a 0.1.0 journal
migrated on open (``_journal_migrate``), a failed write poisoning every later one.
And the store contract (``_store``): one writer thread does all the I/O
(``_sqlite_writer``), durable methods return after their commit (shared by the durable
writes queued together: group commit), batched ones are committed every
:data:`~polyout._campaign._sqlite_writer.BATCH_SECONDS`.

``--journal PATH`` is :meth:`SQLiteStore.create_path` (a new file with its one
campaign, :data:`DEFAULT_CAMPAIGN`) or :meth:`SQLiteStore.open_path` (an existing one).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import Journal
from polyout._campaign._journal_schema import DEFAULT_CAMPAIGN, NewCampaign, base_meta
from polyout._campaign._lock import JournalLock
from polyout._campaign._sqlite_campaign import SQLiteCampaign
from polyout._campaign._sqlite_policy import SQLitePolicyStore
from polyout._campaign._sqlite_writer import Writer
from polyout._campaign._store import CampaignDefinition, CampaignExists, CampaignNotFound

__all__ = ["DEFAULT_CAMPAIGN", "SQLiteCampaign", "SQLiteStore"]


class SQLiteStore(SQLitePolicyStore):
    """A :class:`~polyout._campaign._store.CampaignStore` in one SQLite file.

    ``SQLiteStore(path)`` opens the store at ``path``, creating an empty one (whole)
    when ``create`` is true and nothing is there. The file is opened on the store's
    thread: the first awaited call raises why it could not be (or await
    :meth:`ready`). Close it with :meth:`aclose`.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        target = self.path

        def opener() -> Journal:
            if create and not (target.exists() and target.stat().st_size > 0):
                return Journal.create_store(target)
            if not target.is_file():
                raise JournalError(f"no campaign store at {target}")
            return Journal._opened(target, JournalLock(target), store=True)

        self._writer = Writer(opener, target.name)
        self._campaigns: dict[str, SQLiteCampaign] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"

    # -- the --journal PATH helpers --------------------------------------------------------
    @classmethod
    async def create_path(
        cls,
        path: str | os.PathLike[str],
        definition: CampaignDefinition,
        *,
        name: str = DEFAULT_CAMPAIGN,
    ) -> tuple[SQLiteStore, SQLiteCampaign]:
        """A new store file at ``path`` holding one campaign, created whole or not at all
        (refused when ``path`` holds a campaign already)."""
        target = Path(path)
        campaign = _new_campaign(name, definition)

        def opener() -> Journal:
            return Journal._created(target, campaign)

        store = cls.__new__(cls)
        store.path, store._campaigns, store._closed = target, {}, False
        store._writer = Writer(opener, target.name)
        try:
            # The file is written on the store's thread, which a cancel cannot stop: then
            # aclose() waits for it and closes it, so that the file is whole (or absent)
            # when the caller hears of the cancel, never put in place after.
            await store.ready()
            return store, await store.open(name)
        except BaseException:
            await store.aclose()
            raise

    @classmethod
    async def open_path(
        cls, path: str | os.PathLike[str], *, name: str | None = None
    ) -> tuple[SQLiteStore, SQLiteCampaign]:
        """The existing store at ``path`` and its campaign ``name`` (by default, its
        only one), checked as the journal always was; a 0.1.0 journal is migrated."""
        store = cls(path, create=False)
        try:
            await store.ready()
            if name is None:
                names = await store.names()
                if len(names) != 1:
                    shown = ", ".join(map(repr, names)) or "none"
                    raise JournalError(f"{store.path} holds campaigns {shown}: name one")
                name = names[0]
            return store, await store.open(name)
        except BaseException:
            await store.aclose()
            raise

    async def ready(self) -> None:
        """Wait until the file is open; raises why it could not be."""
        await self._writer.ready()

    # -- the contract ------------------------------------------------------------------------
    async def create(self, name: str, definition: CampaignDefinition) -> SQLiteCampaign:
        if not isinstance(name, str) or not name:
            raise ValueError("a campaign's name must be a non-empty string")
        campaign = _new_campaign(name, definition)

        def job(journal: Journal) -> int:
            journal.commit()  # what was batched before goes first
            try:
                with journal.atomic():
                    campaign_id = campaign.insert(journal.connection)
            except sqlite3.IntegrityError:
                raise CampaignExists(f"the store already holds a campaign named {name!r}") from None
            journal.commit()
            return campaign_id

        campaign_id = await self._writer.run(job)
        return self._campaign(name, campaign_id)

    async def open(self, name: str) -> SQLiteCampaign:
        known = self._campaigns.get(name)
        if known is not None:
            await self.ready()
            return known

        def job(journal: Journal) -> int | None:
            rows = journal.rows("SELECT id FROM campaigns WHERE name = ?", (name,))
            return int(rows[0][0]) if rows else None

        campaign_id = await self._writer.run(job)
        if campaign_id is None:
            raise CampaignNotFound(f"the store holds no campaign named {name!r}")
        return self._campaign(name, campaign_id)

    async def names(self) -> list[str]:
        rows = await self._writer.run(
            lambda journal: journal.rows("SELECT name FROM campaigns ORDER BY name")
        )
        return [str(row[0]) for row in rows]

    async def aclose(self) -> None:
        """Commit what is pending, record a clean close, let go of the file. Safe twice."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._writer.ready()
        except BaseException:
            return  # never opened: nothing to close
        try:
            await asyncio.wrap_future(self._writer.stop(lambda journal: journal.close()))
        finally:
            self._writer.join()

    def abandon(self) -> None:
        """Let go of the file as a killed process would (batched writes lost, no clean
        close recorded); blocks until the thread is gone. For crash tests."""
        if self._closed:
            return
        self._closed = True
        self._writer.stop(lambda journal: journal.abandon())
        self._writer.join()

    def _campaign(self, name: str, campaign_id: int) -> SQLiteCampaign:
        campaign = self._campaigns.get(name)
        if campaign is None:
            campaign = self._campaigns[name] = SQLiteCampaign(self._writer, name, campaign_id)
        return campaign


def _new_campaign(name: str, definition: CampaignDefinition) -> NewCampaign:
    meta = base_meta(definition.settings, definition.created_at, dict(definition.connection))
    return NewCampaign(name, definition.created_at, meta, tuple(sorted(definition.suppressed)))
