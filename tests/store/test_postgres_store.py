"""What only the PostgreSQL store promises, against a real server (tests/pg_cluster.py)."""

from __future__ import annotations

import psycopg

from tests.pg_cluster import PgServer


def test_each_test_gets_a_fresh_database_of_its_own(
    pg_server: PgServer, pg_url: str, pg_database: str
) -> None:
    assert pg_database != pg_url
    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    with psycopg.connect(pg_url) as conn:
        seen = conn.execute("SELECT to_regclass('mine') IS NOT NULL").fetchone()
    assert seen == (False,)
    with psycopg.connect(pg_url) as other, psycopg.connect(pg_database) as conn:
        assert pg_server.terminate(pg_database) == 1
        other.execute("SELECT 1")  # another database's session is not cut
        assert conn.closed or conn.broken or _cut(conn)


def _cut(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False
