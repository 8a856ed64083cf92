"""The PostgreSQL campaign store: many campaigns, many workers, one database.

``await PostgresStore.connect(url)`` opens a pool of connections (psycopg 3,
``psycopg_pool``; the optional extra ``polyout[postgres]``), creates or brings forward
the schema (``_pg_schema``), and takes this instance's *life lock*: a session-level
advisory lock on a connection of its own, held for as long as the process lives. Holds
taken through this instance name it (``held_session``); when the process dies, the
server drops the lock and those holds with it (``_pg_rows``).

The URL's password never shows: not in a repr, an error or a log line (``where`` is
``host:port/database``). An unreachable server or refused credentials raise
:class:`StoreUnavailable` with one line saying which server and what failed.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyout._campaign._errors import JournalError, StoreUnavailable
from polyout._campaign._pg_campaign import PostgresCampaign
from polyout._campaign._pg_policy import RECENTLY_CALLED, pg_recently_called
from polyout._campaign._pg_schema import LIFE_LOCK, ensure_schema
from polyout._campaign._store import CampaignDefinition, CampaignExists, CampaignNotFound
from polyout._errors import ConfigurationError
from polyout._secrets import Scrubber, redact_url, url_password

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresStore"]

_CONNECT_TIMEOUT = 10


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "store",
            "a PostgreSQL store needs psycopg 3 and psycopg_pool: install polyout[postgres]",
        ) from None


def describe(url: str) -> str:
    """``host:port/database`` of a URL or conninfo (libpq's defaults filled in)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:
        return redact_url(url)
    host = str(info.get("host") or info.get("hostaddr") or "localhost")
    return f"{host}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or ''}"


class PostgresStore:
    """A :class:`~polyout._campaign._store.CampaignStore` in a PostgreSQL database."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        _require_psycopg()
        if max_size < 2 or min_size < 1 or min_size > max_size:
            raise ConfigurationError("max_size", "a pool needs 1 <= min_size <= max_size, >= 2")
        self._url = url
        self.where = describe(url)
        """Which server and database, safe to show (no credentials)."""
        self._password = url_password(url)
        self._scrubber = Scrubber(self._password)
        self._sizes = (min_size, max_size)
        self._pool: AsyncConnectionPool[Any] | None = None
        self._life: AsyncConnection[Any] | None = None
        self._session: int | None = None
        self._starting = asyncio.Lock()
        self._campaigns: dict[str, PostgresCampaign] = {}
        self._closed = False
        self.dead = False
        """Abandoned (a simulated crash): every call refuses."""

    def __repr__(self) -> str:
        return f"<PostgresStore {self.where}>"

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 1, max_size: int = 10) -> PostgresStore:
        """A store on ``url``, connected, its schema ready."""
        store = cls(url, min_size=min_size, max_size=max_size)
        await store.start()
        return store

    @property
    def session(self) -> int:
        assert self._session is not None
        return self._session

    # -- connections ---------------------------------------------------------------------
    def failure(self, error: BaseException | None, doing: str) -> StoreUnavailable:
        """One clear line: which server, what failed; never the password."""
        text = str(error).strip().splitlines()[0] if error is not None else ""
        text = re.sub(r"^.*?failed: ", "", text.split("connection failed: ")[-1])
        text = re.sub(r"^FATAL:\s+", "", text).strip()
        shown = self._scrubber.scrub_text(text) or (
            type(error).__name__ if error is not None else "the server closed it"
        )
        if self._password and len(self._password) >= 4:  # shorter ones the Scrubber skips
            shown = shown.replace(self._password, "***")
        return StoreUnavailable(f"PostgreSQL store at {self.where}: {doing}: {shown}")

    def lost(self, error: BaseException | None, pending: int) -> StoreUnavailable:
        lost = f"; {pending} batched writes since the last commit are lost" if pending else ""
        return self.failure(error, f"the connection was lost during the call{lost}")

    async def _open_connection(self, *, autocommit: bool) -> AsyncConnection[Any]:
        import psycopg

        try:
            return await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=autocommit,
                connect_timeout=_CONNECT_TIMEOUT,
                application_name=self._application,
            )
        except psycopg.Error as error:
            raise self.failure(error, "cannot connect") from None

    @property
    def _application(self) -> str:
        return "polyout" if self._session is None else f"polyout-{self._session}"

    async def start(self) -> None:
        """Connect, make the schema ready, take the life lock (once; safe to repeat)."""
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        async with self._starting:
            self.check_usable()
            if self._pool is not None:
                return
            life = await self._open_connection(autocommit=True)
            try:
                await ensure_schema(life)
                cursor = await life.execute("SELECT nextval('polyout_sessions')")
                row = await cursor.fetchone()
                assert row is not None
                self._session = int(row[0])
                await life.execute("SELECT pg_advisory_lock(%s, %s)", (LIFE_LOCK, self._session))
                await life.execute(f"SET application_name = '{self._application}'".encode())
            except psycopg.Error as error:
                await life.close()
                raise self.failure(error, "cannot prepare the store") from None
            except BaseException:
                await life.close()
                raise
            self._life = life
            min_size, max_size = self._sizes
            self._pool = AsyncConnectionPool(
                self._url,
                min_size=min_size,
                max_size=max_size,
                open=False,
                # Autocommit: a campaign begins and ends its transactions itself, in the
                # round trip of its writes (``_pg_base``); the store's own calls are one
                # statement each.
                kwargs={"application_name": self._application, "autocommit": True},
                # A connection is checked when a campaign takes it (rarely: it keeps it):
                # those the server cut while idle in the pool are replaced, not handed out.
                check=AsyncConnectionPool.check_connection,
                name=f"polyout-{self._session}",
            )
            await self._pool.open(wait=False)

    async def keep_alive(self) -> None:
        """Take the life lock again if its connection was lost (holds come back to life)."""
        import psycopg

        await self.start()
        life = self._life
        try:
            if life is not None and not life.closed and not life.broken:
                await life.execute("SELECT 1")
                return
        except psycopg.Error:
            pass
        if life is not None:
            await life.close()
        self._life = None
        life = await self._open_connection(autocommit=True)
        await life.execute("SELECT pg_advisory_lock(%s, %s)", (LIFE_LOCK, self.session))
        self._life = life

    async def checkout(self) -> AsyncConnection[Any]:
        """A connection of the pool for one campaign object (kept until given back)."""
        from psycopg_pool import PoolTimeout

        await self.start()
        assert self._pool is not None
        try:
            conn: AsyncConnection[Any] = await self._pool.getconn(timeout=_CONNECT_TIMEOUT)
        except PoolTimeout as error:
            raise self.failure(error, "no connection could be made") from None
        return conn

    async def give_back(self, conn: AsyncConnection[Any]) -> None:
        if self._pool is not None:
            await self._pool.putconn(conn)

    def check_usable(self) -> None:
        if self.dead:
            raise JournalError("the store was abandoned (a simulated crash): it is dead")
        if self._closed:
            raise JournalError("the store is closed")

    # -- campaigns -----------------------------------------------------------------------
    async def _admin(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        import psycopg

        await self.start()
        assert self._pool is not None
        self.check_usable()
        try:
            async with self._pool.connection(timeout=_CONNECT_TIMEOUT) as conn:
                cursor = await conn.execute(sql.encode(), params)
                return list(await cursor.fetchall()) if cursor.description else []
        except psycopg.errors.UniqueViolation:
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise self.failure(error, "the call failed") from None

    async def create(self, name: str, definition: CampaignDefinition) -> PostgresCampaign:
        import json

        import psycopg

        if not isinstance(name, str) or not name:
            raise ValueError("a campaign's name must be a non-empty string")
        connection = dict(definition.connection)
        account = json.dumps(connection, sort_keys=True)
        try:
            [(campaign_id,)] = await self._admin(
                "WITH made AS (INSERT INTO polyout_campaigns"
                " (name, created_at, settings, connection, account)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id),"
                " numbers AS (INSERT INTO polyout_suppressed (campaign, number)"
                " SELECT made.id, number FROM made, unnest(%s::text[]) AS number)"
                " SELECT id FROM made",
                (
                    name,
                    definition.created_at,
                    json.dumps(dict(definition.settings)),
                    json.dumps(connection),
                    account,
                    sorted(definition.suppressed),
                ),
            )
        except psycopg.errors.UniqueViolation:
            raise CampaignExists(f"the store already holds a campaign named {name!r}") from None
        return self._campaign(name, int(campaign_id))

    async def open(self, name: str) -> PostgresCampaign:
        rows = await self._admin("SELECT id FROM polyout_campaigns WHERE name = %s", (name,))
        if not rows:
            raise CampaignNotFound(f"the store holds no campaign named {name!r}")
        return self._campaign(name, int(rows[0][0]))

    async def recently_called(self, numbers: Sequence[str], since: float) -> dict[str, int]:
        """For each campaign, how many of ``numbers`` it dialled since ``since`` (P5)."""
        rows = await self._admin(RECENTLY_CALLED, (list(numbers), since))
        return pg_recently_called(rows)

    async def names(self) -> list[str]:
        rows = await self._admin("SELECT name FROM polyout_campaigns ORDER BY name")
        return [str(name) for (name,) in rows]

    def _campaign(self, name: str, campaign_id: int) -> PostgresCampaign:
        campaign = self._campaigns.get(name)
        if campaign is None:
            campaign = self._campaigns[name] = PostgresCampaign(self, name, campaign_id)
        return campaign

    # -- closing -------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Commit what is pending and let go of every connection. Safe to call twice."""
        if self._closed:
            return
        failure: BaseException | None = None
        for campaign in self._campaigns.values():
            try:
                await campaign.close(commit=not self.dead)
            except JournalError as error:
                failure = failure or error
        self._closed = True
        if self._pool is not None:
            await self._pool.close()
        if self._life is not None:
            await self._life.close()
        if failure is not None:
            raise failure

    def abandon(self) -> None:
        """Drop the store as SIGKILL would (tests): every connection of this instance is
        cut by the server, so what was not committed is lost and its holds die."""
        import psycopg

        self.dead = True
        if self._session is None:
            return
        with psycopg.connect(self._url, autocommit=True) as admin:
            mine = "FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()"
            admin.execute(f"SELECT pg_terminate_backend(pid) {mine}".encode(), (self._application,))
            for _ in range(500):  # the server ends them soon, not at once
                cursor = admin.execute(f"SELECT count(*) {mine}".encode(), (self._application,))
                row = cursor.fetchone()
                if row is None or row[0] == 0:
                    return
                time.sleep(0.01)
