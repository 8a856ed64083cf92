"""A real PostgreSQL for the tests: a throwaway cluster the suite starts itself.

Fixtures (re-exported by ``tests/conftest.py``, so any test can take them):

- ``pg_server`` (session): the server, a :class:`PgServer` (its admin URL, a way to
  create databases and to run admin SQL such as ``pg_terminate_backend``).
- ``pg_url`` (session): the URL of one fresh database, shared by the session.
- ``pg_database`` (function): the URL of a fresh database of its own for one test, so
  tests never see each other's campaigns.

The cluster is made with PostgreSQL's own ``initdb`` and ``pg_ctl`` from
``/usr/lib/postgresql/*/bin`` (Debian's layout; ``POLYOUT_PG_BIN`` names another
folder), in a temporary folder (in ``/dev/shm`` when there is one), listening on
127.0.0.1 at a free port, with its unix socket in that folder. As root it runs as the
``postgres`` user (PostgreSQL refuses root). Its user ``postgres`` has a password, so
the URLs carry one: a test can check that it never shows. With
``POLYOUT_TEST_POSTGRES_URL`` set the suite uses that server instead (its user must be
allowed to create databases).

Without PostgreSQL the tests that need it skip, saying how to enable them; under
``CI=true`` they fail instead: CI never skips them.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

__all__ = ["PgServer", "pg_database", "pg_server", "pg_url", "start_cluster"]

ENV_URL = "POLYOUT_TEST_POSTGRES_URL"
ENV_BIN = "POLYOUT_PG_BIN"
HOW_TO_ENABLE = (
    "PostgreSQL tests need PostgreSQL's initdb and pg_ctl (apt-get install postgresql, "
    f"or {ENV_BIN}=/path/to/bin) or {ENV_URL}=postgresql://user:password@host:port/db "
    "(a user that may create databases)"
)
#: The cluster's password: deliberately distinctive, so a leak is easy to search for.
CLUSTER_PASSWORD = "pg-Secret-7f3a9c"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip (or, in CI, fail) every test needing PostgreSQL, saying why."""
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"{reason}. {HOW_TO_ENABLE}")


def find_bin_dir() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``: POLYOUT_PG_BIN, else the newest Debian one."""
    chosen = os.environ.get(ENV_BIN)
    if chosen:
        return Path(chosen) if (Path(chosen) / "pg_ctl").exists() else None
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_database(url: str, database: str) -> str:
    """``url`` naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database)))


class PgServer:
    """A PostgreSQL server the tests may create databases on."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        """The maintenance database's URL (it carries the password)."""
        self.created: list[str] = []

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one admin statement (autocommit) on the maintenance database."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            cursor = conn.execute(sql.encode(), params)  # bytes: a literal, not a LiteralString
            return list(cursor.fetchall()) if cursor.description else []

    def database_url(self, database: str) -> str:
        return with_database(self.admin_url, database)

    def create_database(self, prefix: str = "polyout_test") -> str:
        """A fresh, empty database (copied from template1: fast); its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.database_url(name)

    def terminate(self, database_url: str) -> int:
        """Cut every connection to the database of ``database_url`` (as a crash of the
        network or an admin would); how many were cut."""
        database = urlsplit(database_url).path.lstrip("/")
        rows = self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        return sum(1 for (cut,) in rows if cut)

    def drop_created(self) -> None:
        for name in self.created:
            with contextlib.suppress(Exception):
                self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


class _Cluster:
    """A cluster made by initdb in a temporary folder and run by pg_ctl."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # In memory when the machine has a tmpfs: a throwaway cluster need not touch a disk.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="polyout-pg-", dir=shm))
        self.data = self.root / "data"
        self.port = 0
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self._as_postgres, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip()}\n{tail}")

    def start(self) -> str:
        password_file = self.root / "password"
        password_file.write_text(CLUSTER_PASSWORD + "\n")
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # a throwaway cluster: its files need not survive a power cut
        )
        for _ in range(3):  # another process may take the free port before we bind it
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c max_connections=200 -c shared_buffers=32MB"
            )
            try:
                self._run(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.root / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                )
                break
            except RuntimeError:
                if _port_taken(self.port):
                    continue
                raise
        return (
            f"postgresql://postgres:{quote(CLUSTER_PASSWORD, safe='')}"
            f"@127.0.0.1:{self.port}/postgres"
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def start_cluster() -> Iterator[PgServer]:
    """The server the tests use: POLYOUT_TEST_POSTGRES_URL's, else a throwaway cluster
    (stopped and deleted on exit). Skips (fails in CI) when neither is possible."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install polyout[postgres])")
    given = os.environ.get(ENV_URL)
    if given:
        server = PgServer(given)
        try:
            yield server
        finally:
            server.drop_created()
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root, but there is no `postgres` user to run the cluster as")
    cluster = _Cluster(bin_dir)
    try:
        admin_url = cluster.start()
    except Exception as error:
        cluster.stop()
        if _in_ci():
            raise
        unavailable(f"the throwaway PostgreSQL cluster did not start ({error})")
    try:
        yield PgServer(admin_url)
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server of this test session."""
    with start_cluster() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """A fresh database shared by the whole session (its URL carries the password)."""
    return pg_server.create_database("polyout_session")


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """A fresh database for this test alone (its URL carries the password)."""
    return pg_server.create_database()
