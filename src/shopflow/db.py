"""Opening PostgreSQL connections: one way, closed on exit, with a connect timeout.

psycopg2's own `with conn:` ends a transaction and leaves the connection open; every module that
opens a connection uses `connect` instead, and `with conn:` inside it where it wants a transaction.
SQL that names a table, schema, role or database composes the name with `psycopg2.sql.Identifier`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection

CONNECT_TIMEOUT_S = 10  # a server that does not answer fails the step instead of hanging it


@contextmanager
def connect(dsn: str, *, autocommit: bool = False, **options: Any) -> Iterator[connection]:
    """A connection to `dsn`, closed when the block ends (an open transaction is rolled back)."""
    conn = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, **options)
    try:
        conn.autocommit = autocommit
        yield conn
    finally:
        conn.close()


def table_names(conn: connection, schema: str) -> list[str]:
    """The tables (not views) of `schema`, by name."""
    with conn.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE' "
            "order by table_name",
            (schema,),
        )
        return [row[0] for row in cur.fetchall()]


def table_row_counts(dsn: str, schema: str) -> dict[str, int]:
    """Every table of `schema` and its exact row count."""
    with connect(dsn) as conn, conn.cursor() as cur:
        counts = {}
        for table in table_names(conn, schema):
            cur.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
            counts[table] = cur.fetchone()[0]
        return counts
