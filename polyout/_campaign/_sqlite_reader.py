"""An SQLite store opened to read only: reports and results, while a campaign may run.

A reader takes no lock and writes nothing (a read-only connection never rewrites the
file), so ``campaign report`` works beside the process running the campaign, and on a
read-only disk. It keeps the checks every opening makes: a main file copied without
its ``-wal`` is refused (it would report, as a resume would dial, from before its
calls), so are damage and a newer schema.
"""

from __future__ import annotations

import os
from pathlib import Path

from polyout._campaign._errors import JournalError
from polyout._campaign._journal import Journal
from polyout._campaign._sqlite_store import SQLiteCampaign, SQLiteStore
from polyout._campaign._sqlite_writer import Writer
from polyout._campaign._store import CampaignDefinition

__all__ = ["SQLiteReader"]


class SQLiteReader(SQLiteStore):
    """The SQLite store at ``path``, to read: its campaigns' definitions, counts,
    histories and results. Every write is refused."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Not SQLiteStore.__init__: that opener takes the runner's lock.
        self.path = target = Path(path)

        def opener() -> Journal:
            if not target.is_file():
                raise JournalError(f"no campaign journal at {target}")
            return Journal._opened(target, None, store=True)

        self._writer = Writer(opener, target.name)
        self._campaigns: dict[str, SQLiteCampaign] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<SQLiteReader {str(self.path)!r}>"

    async def create(self, name: str, definition: CampaignDefinition) -> SQLiteCampaign:
        raise JournalError(f"{self.path} is open to read only")
