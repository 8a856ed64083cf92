"""Where a campaign lives: ``--store URL --campaign NAME`` (or ``--journal PATH``), opened.

A :class:`StoreRef` names a store and, in it, a campaign:

* ``postgresql://user@host:5432/db`` (or ``postgres://``) is a PostgreSQL database; it
  needs the ``polyout[postgres]`` extra, imported only when such a store is opened;
* a file path, or ``sqlite:///path`` (relative) / ``sqlite:////abs/path`` (absolute,
  as SQLAlchemy spells it), is an SQLite file that may hold several campaigns;
* ``--journal PATH`` is the SQLite shorthand: the file's one campaign (``campaign`` is
  None until it is opened).

The password of a URL (its userinfo, or a ``password=`` parameter) is kept in the
reference to connect with, and never shown: ``str``, ``repr``, :attr:`StoreRef.shown`
and every message here print ``postgresql://user:***@host:5432/db``. A reference that
cannot work (an unknown scheme, no database name, a malformed campaign name) raises
:class:`polyout.ConfigurationError` naming the setting (``store``, ``campaign``).
"""

from __future__ import annotations

import contextlib
import enum
import importlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs

from polyout._campaign._errors import JournalError
from polyout._campaign._store import CampaignNotFound, CampaignStore, StoredCampaign
from polyout._campaign._store_urls import SCHEME, redact_store_url, store_url_secrets
from polyout._errors import ConfigurationError

__all__ = [
    "POSTGRES_EXTRA",
    "StoreKind",
    "StoreRef",
    "checked_name",
    "journal_ref",
    "open_store",
    "opened_campaign",
    "parse_store",
    "redact_store_url",
    "store_ref",
    "store_url_secrets",
]

#: What to install for PostgreSQL stores.
POSTGRES_EXTRA = "pip install 'polyout[postgres]'"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SQLITE_SCHEME = "sqlite"
# A name that reads the same in a shell, a URL, a file name and a log line.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


class StoreKind(enum.Enum):
    SQLITE = "sqlite"
    POSTGRES = "postgresql"


@attrs.frozen(repr=False)
class StoreRef:
    """A store and the campaign in it; shows itself without a password."""

    kind: StoreKind
    target: str
    """The SQLite file's path, or the PostgreSQL URL (with its password: never shown)."""
    campaign: str | None
    """The campaign's name; None: the one campaign of a ``--journal`` file."""

    @property
    def shown(self) -> str:
        """The store as it may be printed: the path, or the URL with ``***`` for its password."""
        return self.target if self.kind is StoreKind.SQLITE else redact_store_url(self.target)

    @property
    def journal(self) -> bool:
        """The ``--journal PATH`` form: a file and its one campaign."""
        return self.campaign is None

    @property
    def exclusive(self) -> bool:
        """One process at a time holds the store (SQLite): whatever an earlier run left
        unsettled there was left by a process that is gone."""
        return self.kind is StoreKind.SQLITE

    @property
    def path(self) -> Path:
        if self.kind is not StoreKind.SQLITE:
            raise ValueError(f"{self.shown} is not a file")
        return Path(self.target)

    def flags(self) -> list[str]:
        """The command-line words that name this campaign again (password as ``***``)."""
        if self.campaign is None:
            return [self.target]
        return ["--store", self.shown, "--campaign", self.campaign]

    def named(self, campaign: str) -> StoreRef:
        return attrs.evolve(self, campaign=campaign)

    def __str__(self) -> str:
        return (
            self.shown if self.campaign is None else f"campaign {self.campaign!r} in {self.shown}"
        )

    def __repr__(self) -> str:
        return f"<StoreRef {self}>"


def checked_name(name: object, setting: str = "campaign") -> str:
    """``name`` if it can name a campaign (letters, digits, ``.``, ``_``, ``-``; 64 at most)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            setting,
            f"{name!r} cannot name a campaign: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return name


def journal_ref(path: str | os.PathLike[str]) -> StoreRef:
    """``--journal PATH``: the SQLite file and its one campaign."""
    text = os.fspath(path)
    if not text:
        raise ConfigurationError("journal", "give the journal's path")
    return StoreRef(StoreKind.SQLITE, text, None)


def parse_store(url: str | os.PathLike[str], campaign: str, *, setting: str = "store") -> StoreRef:
    """``--store URL --campaign NAME``: a PostgreSQL URL, an SQLite path or sqlite:/// URL."""
    name = checked_name(campaign)
    text = os.fspath(url)
    if not isinstance(text, str) or not text.strip():
        raise ConfigurationError(setting, "give a postgresql:// URL or an SQLite file's path")
    scheme = SCHEME.match(text)
    if scheme is None:
        return StoreRef(StoreKind.SQLITE, text, name)
    kind = scheme["scheme"].lower()
    if kind in _POSTGRES_SCHEMES:
        _check_postgres(text, setting)
        return StoreRef(StoreKind.POSTGRES, text, name)
    if kind == _SQLITE_SCHEME:
        return StoreRef(StoreKind.SQLITE, _sqlite_path(text, setting), name)
    raise ConfigurationError(
        setting,
        f"unknown store scheme {scheme['scheme']!r}: use postgresql://user@host/database, "
        "an SQLite file's path, or sqlite:///path",
    )


def store_ref(
    *,
    store: str | os.PathLike[str] | None = None,
    campaign: str | None = None,
    journal: str | os.PathLike[str] | None = None,
) -> StoreRef | None:
    """The campaign the flags name (None when they name none): ``journal`` alone, or
    ``store`` with ``campaign``."""
    if journal is not None and (store is not None or campaign is not None):
        raise ConfigurationError(
            "store", "name the campaign once: a journal path, or --store URL --campaign NAME"
        )
    if journal is not None:
        return journal_ref(journal)
    if store is None and campaign is None:
        return None
    if store is None:
        raise ConfigurationError("campaign", "say which store holds it: --store URL")
    if campaign is None:
        raise ConfigurationError("store", "say which campaign of the store: --campaign NAME")
    return parse_store(store, campaign)


def _check_postgres(url: str, setting: str) -> None:
    shown = redact_store_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise ConfigurationError(setting, f"{shown} is not a valid URL ({exc})") from None
    query = dict(parse_qsl(parts.query))
    if not unquote(parts.path.lstrip("/")) and not query.get("dbname"):
        raise ConfigurationError(
            setting, f"{shown} names no database: add it, postgresql://user@host:5432/DATABASE"
        )


def _sqlite_path(url: str, setting: str) -> str:
    rest = url[len(_SQLITE_SCHEME) + 3 :]  # after sqlite://
    if not rest.startswith("/") or len(rest) < 2:
        raise ConfigurationError(
            setting, f"{url} names no file: sqlite:///relative.db or sqlite:////absolute.db"
        )
    path = unquote(rest[1:].split("?", 1)[0])
    if path == ":memory:":
        raise ConfigurationError(setting, "a campaign store must be a file, not :memory:")
    return path


# -- opening ----------------------------------------------------------------------------------
async def open_store(
    ref: StoreRef, *, create: bool = False, read_only: bool = False
) -> CampaignStore:
    """The store ``ref`` names, open (close it with ``aclose``).

    SQLite: ``create`` makes an empty store file when there is none; ``read_only``
    takes no lock and writes nothing (a report, while a campaign may run). PostgreSQL:
    the schema is made on first use, whatever the flags.
    """
    if ref.kind is StoreKind.POSTGRES:
        return await _postgres_store().connect(ref.target)
    # Imported here: the command line parses references before it needs a store.
    from polyout._campaign._sqlite_reader import SQLiteReader
    from polyout._campaign._sqlite_store import SQLiteStore

    store: SQLiteStore = (
        SQLiteReader(ref.target) if read_only else SQLiteStore(ref.target, create=create)
    )
    try:
        await store.ready()
    except BaseException:
        await store.aclose()
        raise
    return store


@contextlib.asynccontextmanager
async def opened_campaign(
    ref: StoreRef, *, read_only: bool = False
) -> AsyncIterator[tuple[StoreRef, StoredCampaign]]:
    """The campaign ``ref`` names, in its store opened for the ``async with`` body; the
    reference comes back named (a journal's one campaign)."""
    store = await open_store(ref, read_only=read_only)
    try:
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
            stored = await store.open(name)
        except CampaignNotFound:
            raise CampaignNotFound(f"{ref.shown} holds no campaign named {name!r}") from None
        yield (ref if ref.campaign is not None else ref.named(name)), stored
    finally:
        await store.aclose()


class _Connecting(Protocol):
    async def connect(self, url: str) -> CampaignStore: ...


def _postgres_store() -> _Connecting:
    # Imported here: psycopg is an extra, and only a PostgreSQL store needs it.
    for extra in ("psycopg", "psycopg_pool"):
        try:
            importlib.import_module(extra)
        except ImportError:
            raise ConfigurationError(
                "store",
                f"a PostgreSQL store needs {extra}, which is not installed: {POSTGRES_EXTRA}",
            ) from None
    module = importlib.import_module("polyout._campaign._pg_store")
    store_class: _Connecting = module.PostgresStore
    return store_class
