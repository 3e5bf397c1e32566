"""Shop tables, read with PostgreSQL's COPY: a day's partition holds what changed in that day.

Customers are selected by their own `updated_at`. Orders and their lines are one aggregate: an
order's lines travel with it. The partition of a day holds every order whose row or any of whose
lines changed in the day, and *all* lines of those orders, unless the order or a line changed again
after the day (its current state then belongs to that later day's partition, which will carry it).
So a day's order lines only ever reference orders of the same day's partition, whenever the day is
extracted and in whatever order days are loaded (docs/pipeline.md, "Late runs and backfills").

A line whose order does not exist in the shop at all is still extracted (by its own `updated_at`),
so the gate's referential check rejects it instead of the extract hiding it.

The first extraction of a table (no earlier partition in the lake) takes all history up to the end
of its interval, so the warehouse starts complete.
"""

from __future__ import annotations

import io
from datetime import date

from psycopg2 import sql

from shopflow.contracts import CUSTOMERS, ORDER_ITEMS, ORDERS, Entity
from shopflow.db import connect
from shopflow.extract import ExtractResult, sealed_partition, write_partition
from shopflow.lake import Lake, day_interval

# Order ids whose aggregate (the order row and its lines) last changed inside the interval.
# With full history every aggregate whose last change is before the interval's end qualifies.
_CHANGED_ORDERS = """
    select order_id from orders where updated_at >= %(start)s and updated_at < %(end)s
    union
    select order_id from order_items where updated_at >= %(start)s and updated_at < %(end)s
"""
_ALL_ORDERS = "select order_id from orders where updated_at < %(end)s"
_SETTLED_ORDERS = """
    select o.order_id
    from orders as o
    where o.order_id in ({changed})
        and o.updated_at < %(end)s
        and not exists (
            select 1 from order_items as later
            where later.order_id = o.order_id and later.updated_at >= %(end)s
        )
"""


def _window(full_history: bool, column: str = "updated_at") -> str:
    if full_history:
        return f"{column} < %(end)s"
    return f"{column} >= %(start)s and {column} < %(end)s"


def _selection(entity: Entity, full_history: bool) -> sql.Composed:
    """The SELECT whose rows form the partition, ordered by the entity's key."""
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.data_column_names)
    orders = sql.SQL(_SETTLED_ORDERS.format(changed=_ALL_ORDERS if full_history else _CHANGED_ORDERS))
    if entity == CUSTOMERS:
        where = sql.SQL(_window(full_history))
    elif entity == ORDERS:
        where = sql.SQL("order_id in ({orders})").format(orders=orders)
    elif entity == ORDER_ITEMS:
        # The lines of settled orders, plus lines of orders the shop does not have (for the gate). Two
        # disjoint selections in a union, not one OR: under an OR the order-id subquery cannot become a
        # semi-join, and once its ids outgrow work_mem every line scans all of them (at scale 100, a
        # million lines times half a million orders).
        orphans = sql.SQL(
            "{window} and not exists (select 1 from orders as parent where parent.order_id = order_items.order_id)"
        ).format(window=sql.SQL(_window(full_history)))
        return sql.SQL(
            "select {columns}, %(dt)s::date as dt from order_items where order_id in ({orders}) "
            "union all select {columns}, %(dt)s::date as dt from order_items where {orphans} order by {key}"
        ).format(columns=columns, orders=orders, orphans=orphans, key=sql.Identifier(entity.key[0]))
    else:
        raise ValueError(f"{entity.qualified_name} is not a shop table")
    return sql.SQL("select {columns}, %(dt)s::date as dt from {table} where {where} order by {key}").format(
        columns=columns, table=sql.Identifier(entity.name), where=where, key=sql.Identifier(entity.key[0])
    )


def extract_shop_table(lake: Lake, shop_dsn: str, entity: Entity, dt: date, *, force: bool = False) -> ExtractResult:
    """Extract one shop table for `dt` into raw/shop/<table>/dt=<dt>/ (a sealed partition is kept)."""
    if not force and (sealed := sealed_partition(lake, entity, dt)):
        return sealed
    full_history = not lake.has_partition_before(entity, dt)
    start, end = day_interval(dt)
    params = {"start": start, "end": end, "dt": dt}
    with connect(shop_dsn) as conn:
        # One snapshot for the data and its watermark, in UTC with ISO timestamps.
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            cur.execute("set time zone 'UTC'; set datestyle to 'ISO, YMD'")
            # COPY takes no parameters: the selection is bound here, then wrapped twice.
            query = sql.SQL(cur.mogrify(_selection(entity, full_history), params).decode())
            buffer = io.BytesIO()
            cur.copy_expert(sql.SQL("copy ({}) to stdout with (format csv, header true)").format(query), buffer)
            row_count = cur.rowcount
            cur.execute(sql.SQL("select max(updated_at) from ({}) as extracted").format(query))
            watermark = cur.fetchone()[0]
        conn.rollback()
    return write_partition(
        lake,
        entity,
        dt,
        buffer.getvalue(),
        row_count,
        watermark.isoformat() if watermark else None,
        full_history,
    )
