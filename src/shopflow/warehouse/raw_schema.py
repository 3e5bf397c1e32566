"""DDL for the warehouse `raw` schema, derived from the contract (the `ops` schema is `warehouse.ops`)."""

from __future__ import annotations

from psycopg2 import sql
from psycopg2.extensions import connection

from shopflow.contracts import ENTITIES, Entity
from shopflow.warehouse.ops import ensure_ops_schema

RAW_SCHEMA = "raw"


def raw_table_ddl(entity: Entity) -> str:
    """CREATE TABLE for one raw entity: contract columns, `_loaded_at`, and the entity key."""
    columns = [f"    {c.name} {c.pg_type}{'' if c.nullable else ' not null'}" for c in entity.columns]
    columns.append("    _loaded_at timestamptz not null default now()")
    columns.append(f"    primary key ({', '.join(entity.key)})")
    body = ",\n".join(columns)
    return f"create table if not exists {RAW_SCHEMA}.{entity.table} (\n{body}\n)"


def ensure_raw_schema(conn: connection) -> None:
    """Create the raw schema and its tables, and the ops schema, when missing (idempotent); commits.

    Checks first: even `create index if not exists` takes a table lock, which would queue every load
    behind any open transaction on the table.
    """
    expected = [f"{RAW_SCHEMA}.{e.table}" for e in ENTITIES.values()]
    with conn.cursor() as cur:
        cur.execute("select count(to_regclass(name)) = %s from unnest(%s::text[]) as name", (len(expected), expected))
        if not cur.fetchone()[0]:
            cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(RAW_SCHEMA)))
            for entity in ENTITIES.values():
                cur.execute(raw_table_ddl(entity))
                # Loads replace one partition at a time: deleting by dt must not scan the table.
                cur.execute(
                    sql.SQL("create index if not exists {} on {} (dt)").format(
                        sql.Identifier(f"{entity.table}_dt_idx"), sql.Identifier(RAW_SCHEMA, entity.table)
                    )
                )
    ensure_ops_schema(conn)
    conn.commit()
