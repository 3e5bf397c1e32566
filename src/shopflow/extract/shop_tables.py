"""Shop tables: every row whose updated_at falls in the day, read with PostgreSQL's COPY.

The first extraction of a table (no earlier partition in the lake) takes all history up to the end
of its interval, so the warehouse starts complete; later ones take only that day's changes.
"""

from __future__ import annotations

import io
from datetime import date

import psycopg2
from psycopg2 import sql

from shopflow.contracts import Entity
from shopflow.extract import ExtractResult, sealed_partition, write_partition
from shopflow.lake import Lake, day_interval


def _selection(entity: Entity, full_history: bool) -> sql.Composed:
    where = "updated_at < %(end)s" if full_history else "updated_at >= %(start)s and updated_at < %(end)s"
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.data_column_names)
    return sql.SQL("select {columns}, %(dt)s::date as dt from {table} where " + where + " order by {key}").format(
        columns=columns, table=sql.Identifier(entity.name), key=sql.Identifier(entity.key[0])
    )


def extract_shop_table(lake: Lake, shop_dsn: str, entity: Entity, dt: date, *, force: bool = False) -> ExtractResult:
    """Extract one shop table for `dt` into raw/shop/<table>/dt=<dt>/ (a sealed partition is kept)."""
    if not force and (sealed := sealed_partition(lake, entity, dt)):
        return sealed
    full_history = not any(d < dt for d in lake.partition_dates(entity))
    start, end = day_interval(dt)
    params = {"start": start, "end": end, "dt": dt}
    conn = psycopg2.connect(shop_dsn)
    try:
        # One snapshot for the data and its watermark, in UTC with ISO timestamps.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("set time zone 'UTC'; set datestyle to 'ISO, YMD'")
            query = cur.mogrify(_selection(entity, full_history), params).decode()
            buffer = io.BytesIO()
            cur.copy_expert(f"copy ({query}) to stdout with (format csv, header true)", buffer)
            row_count = cur.rowcount
            cur.execute(f"select max(updated_at) from ({query}) as extracted")
            watermark = cur.fetchone()[0]
        conn.rollback()
    finally:
        conn.close()
    return write_partition(
        lake,
        entity,
        dt,
        buffer.getvalue(),
        row_count,
        watermark.isoformat() if watermark else None,
        full_history,
    )
