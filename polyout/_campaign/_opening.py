"""Where a campaign lives, and opening it there when it runs.

A campaign lives in one of three places:

* a journal (``journal=PATH``): the SQLite file and its one campaign, created whole
  (the file appears with the campaign in it, or not at all);
* a store the campaign opens itself from a reference (``store="postgresql://…"``, an
  SQLite path or ``sqlite:///path``), under ``name``: opened for the run and closed
  after it;
* the caller's store object (``store=MemoryStore()``, an open ``SQLiteStore``...),
  under ``name``: left open, it is the caller's.

A new campaign is created whole there; an existing one is reopened and checked against
the placer that resumes it (``_resuming``). A worker that *joins* a campaign never
reads its contacts: the feed is the creator's. On a store only one process can hold
(SQLite), a feed left unfinished can only be finished by ``resume``, so joining it is
refused; elsewhere the worker dials what is stored while the creator stores the rest
(the engine follows the feed's position in the store).
"""

from __future__ import annotations

import os

import attrs

from polyout._campaign._addressing import StoreRef, checked_name, open_store, parse_store
from polyout._campaign._clock import Clock
from polyout._campaign._errors import JournalError
from polyout._campaign._placer import Placer
from polyout._campaign._resuming import Resume, checked
from polyout._campaign._sqlite_store import SQLiteStore
from polyout._campaign._store import (
    CampaignDefinition,
    CampaignExists,
    CampaignNotFound,
    CampaignStore,
    StoredCampaign,
)
from polyout._errors import ConfigurationError

__all__ = ["Opened", "Place"]


@attrs.frozen
class Opened:
    """A campaign open in its store; ``owned`` is the store when the campaign opened it."""

    stored: StoredCampaign
    owned: CampaignStore | None = None

    async def aclose(self) -> None:
        if self.owned is not None:
            await self.owned.aclose()


@attrs.frozen
class Place:
    """Where one campaign lives (see the module's docstring)."""

    name: str
    journal: str | None = None
    ref: StoreRef | None = None
    store: CampaignStore | None = None

    @classmethod
    def of(
        cls,
        journal: str | os.PathLike[str] | None,
        store: CampaignStore | str | os.PathLike[str] | None,
        name: str,
        *,
        new: bool,
    ) -> Place:
        """Where the campaign lives; a new one's journal must not hold one yet."""
        if (journal is None) == (store is None):
            raise ConfigurationError("journal", "give a journal path or a store (not both)")
        if journal is not None:
            path = os.fspath(journal)
            if new and os.path.exists(path) and os.path.getsize(path) > 0:
                raise JournalError(
                    f"{path} already holds a campaign: resume it with Campaign.resume(), "
                    "or choose another journal file"
                )
            return cls(name, journal=path)
        if isinstance(store, (str, os.PathLike)):
            return cls(name, ref=parse_store(store, name))
        return cls(checked_name(name, "name"), store=store)

    @property
    def label(self) -> str:
        """The campaign in log lines and messages: never a password."""
        if self.journal is not None:
            return self.journal
        return str(self.ref) if self.ref is not None else f"campaign {self.name!r}"

    @property
    def exclusive(self) -> bool:
        """One process at a time holds the store: what an earlier run left unsettled
        there was left by a process that is gone."""
        if self.journal is not None:
            return True
        if self.ref is not None:
            return self.ref.exclusive
        return isinstance(self.store, SQLiteStore)

    # -- opening ------------------------------------------------------------------------
    async def create(self, definition: CampaignDefinition) -> Opened:
        """The new campaign, created whole; CampaignExists when the name is taken."""
        if self.journal is not None:
            journal, created = await SQLiteStore.create_path(
                self.journal, definition, name=self.name
            )
            return Opened(created, journal)
        store, owned = await self._store(create=True)
        try:
            return Opened(await store.create(self.name, definition), owned)
        except CampaignExists:
            await _close(owned)
            raise CampaignExists(
                f"{self._where()} already holds a campaign named {self.name!r}: resume it, "
                "or join it as one more worker, or choose another name"
            ) from None
        except BaseException:
            await _close(owned)
            raise

    async def reopen(
        self, client: Placer, resume: Resume, clock: Clock
    ) -> tuple[Opened, Resume, frozenset[str]]:
        """The existing campaign, checked against ``client`` (a journal was checked when
        ``Campaign.resume`` was called); with its do-not-call list."""
        if self.journal is not None:
            journal, stored = await SQLiteStore.open_path(self.journal)
            opened = Opened(stored, journal)
        else:
            store, owned = await self._store(create=False)
            try:
                opened = Opened(await store.open(self.name), owned)
            except CampaignNotFound:
                await _close(owned)
                raise CampaignNotFound(
                    f"{self._where()} holds no campaign named {self.name!r}"
                ) from None
            except BaseException:
                await _close(owned)
                raise
        try:
            definition = await opened.stored.definition()
            if self.journal is None:
                resume = checked(
                    self.label,
                    definition.settings,
                    definition.connection,
                    (await opened.stored.feed_position()).done,
                    client,
                    resume,
                    exclusive=self.exclusive,
                )
            return opened, resume, definition.suppressed
        except BaseException:
            await opened.aclose()
            raise

    async def _store(self, *, create: bool) -> tuple[CampaignStore, CampaignStore | None]:
        """The store, and the same again when this campaign opened it (and closes it)."""
        if self.ref is None:
            assert self.store is not None
            return self.store, None
        store = await open_store(self.ref, create=create)
        return store, store

    def _where(self) -> str:
        return self.ref.shown if self.ref is not None else "the store"


async def _close(store: CampaignStore | None) -> None:
    if store is not None:
        await store.aclose()
