"""DDL for the warehouse `raw` schema and the `ops` bookkeeping schema, derived from the contract."""

from __future__ import annotations

from psycopg2.extensions import connection

from shopflow.contracts import ENTITIES, Entity

RAW_SCHEMA = "raw"
OPS_SCHEMA = "ops"

LOAD_LEDGER_DDL = f"""
create table if not exists {OPS_SCHEMA}.load_ledger (
    batch_id text primary key,
    entity text not null,
    dt date not null,
    status text not null check (status in ('loaded', 'rejected', 'failed')),
    row_count bigint,
    sha256 text,
    lake_key text not null,
    expectations_evaluated integer,
    expectations_failed integer,
    message text,
    started_at timestamptz not null,
    finished_at timestamptz not null
)
"""


def raw_table_ddl(entity: Entity) -> str:
    """CREATE TABLE for one raw entity: contract columns, `_loaded_at`, and the entity key."""
    columns = [f"    {c.name} {c.pg_type}{'' if c.nullable else ' not null'}" for c in entity.columns]
    columns.append("    _loaded_at timestamptz not null default now()")
    columns.append(f"    primary key ({', '.join(entity.key)})")
    body = ",\n".join(columns)
    return f"create table if not exists {RAW_SCHEMA}.{entity.table} (\n{body}\n)"


def ensure_raw_schema(conn: connection) -> None:
    """Create the raw and ops schemas and their tables when missing (idempotent).

    Checks first: even `create index if not exists` takes a table lock, which would queue every load
    behind any open transaction on the table.
    """
    expected = [f"{RAW_SCHEMA}.{e.table}" for e in ENTITIES.values()] + [f"{OPS_SCHEMA}.load_ledger"]
    with conn.cursor() as cur:
        cur.execute("select count(to_regclass(name)) = %s from unnest(%s::text[]) as name", (len(expected), expected))
        if cur.fetchone()[0]:
            conn.commit()
            return
        cur.execute(f"create schema if not exists {RAW_SCHEMA}")
        cur.execute(f"create schema if not exists {OPS_SCHEMA}")
        for entity in ENTITIES.values():
            cur.execute(raw_table_ddl(entity))
            # Loads replace one partition at a time: deleting by dt must not scan the table.
            cur.execute(f"create index if not exists {entity.table}_dt_idx on {RAW_SCHEMA}.{entity.table} (dt)")
        cur.execute(LOAD_LEDGER_DDL)
        cur.execute(f"create index if not exists load_ledger_entity_dt_idx on {OPS_SCHEMA}.load_ledger (entity, dt)")
    conn.commit()
