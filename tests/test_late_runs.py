"""Late runs and backfills over a shop that kept running: any schedule ends in the source's truth.

Each scenario simulates a live shop, extracts and loads its days on some schedule (on time, late,
out of order, overlapping), runs dbt, and compares the marts with the shop database: order lines,
revenue, the latest status of every order and the current segment of every customer.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg2
import pytest

from shopflow.contracts import LOAD_ORDER, ORDER_ITEMS, ORDERS, get_entity
from shopflow.pipeline import Pipeline, open_lake
from shopflow.quality.gate import QualityGateError
from shopflow.transform.runner import build, run_dbt
from tests.pipeline_helpers import query, read_csv_rows, simulate, table_checksum

pytestmark = pytest.mark.slow

START = date(2025, 3, 1)


def day(n: int) -> date:
    """The n-th simulated day (1-based)."""
    return START + timedelta(days=n - 1)


def on_time(settings, first: int, last: int, skip: tuple[int, ...] = ()) -> None:
    """The shop runs day by day and each day is extracted and loaded as soon as it closes."""
    lake = open_lake(settings)
    for n in range(first, last + 1):
        simulate(settings, day(n), day(n))
        if n not in skip:
            Pipeline(settings, lake).run_date(day(n))


def extract_then_load(settings, days: list[date]) -> None:
    """What `shopflow extract` then `shopflow load` over a range (an Airflow backfill) do."""
    lake = open_lake(settings)
    for dt in days:
        for name in LOAD_ORDER:
            Pipeline(settings, lake).extract(name, dt)
    for dt in days:
        for name in LOAD_ORDER:
            Pipeline(settings, lake).load(name, dt)


def assert_marts_equal_the_shop(settings) -> None:
    """After dbt, the marts hold the shop's current state: lines, revenue, statuses, segments."""
    # The two marts compared, and what they are built from (the full build with its tests runs elsewhere).
    run_dbt(["run", "--select", "+fact_orders", "+dim_customers"], settings)
    shop = query(
        settings.shop_dsn,
        "select count(*), sum(i.quantity * i.unit_price) filter (where o.status not in ('cancelled', 'returned')) "
        "from order_items i join orders o using (order_id)",
    )[0]
    marts = query(
        settings.warehouse_dsn,
        "select count(*), sum(line_revenue) filter (where is_revenue) from marts.fact_orders",
    )[0]
    assert marts == shop and shop[0] > 0
    shop_status = dict(query(settings.shop_dsn, "select order_id, status from orders"))
    mart_status = dict(query(settings.warehouse_dsn, "select distinct order_id, order_status from marts.fact_orders"))
    assert mart_status == shop_status
    shop_segment = dict(query(settings.shop_dsn, "select customer_id, loyalty_segment from customers"))
    mart_segment = dict(
        query(settings.warehouse_dsn, "select customer_id, loyalty_segment from marts.dim_customers where is_current")
    )
    assert mart_segment == shop_segment
    ledger = query(settings.warehouse_dsn, "select status, count(*) from ops.load_ledger group by status")
    assert dict(ledger) == {"loaded": dict(ledger).get("loaded", 0)}, f"not every load succeeded: {ledger}"


def _status(settings, order_id: int) -> tuple[str, str]:
    return query(
        settings.shop_dsn, "select status, updated_at::date::text from orders where order_id = %s", (order_id,)
    )[0]


def _assert_lines_travel_with_their_orders(settings, days: list[date]) -> None:
    """A day's lines reference only that day's orders, and hold every line of each of them."""
    lake = open_lake(settings)
    for dt in days:
        orders = {int(r["order_id"]) for r in read_csv_rows(lake, lake.read_partition(ORDERS, dt).data_key)}
        lines = read_csv_rows(lake, lake.read_partition(ORDER_ITEMS, dt).data_key)
        assert {int(r["order_id"]) for r in lines} <= orders, dt
        all_lines = query(
            settings.shop_dsn, "select count(*) from order_items where order_id = any(%s)", (list(orders),)
        )
        assert len(lines) == all_lines[0][0], dt


def test_fourteen_days_extracted_late_then_an_overlapping_backfill(isolated_settings):
    """The reported case: the shop ran 14 days with nothing extracted, then the range was backfilled.

    Then a second backfill overlaps it and goes past it, after the shop ran two more days.
    """
    settings = isolated_settings("late14")
    on_time(settings, 1, 3)
    simulate(settings, day(4), day(4))
    # Follow the orders placed on day 4 while the shop runs on, unextracted.
    placed = [r[0] for r in query(settings.shop_dsn, "select order_id from orders where ordered_at >= %s", (day(4),))]
    history = {oid: [_status(settings, oid)] for oid in placed}
    for n in range(5, 18):
        simulate(settings, day(n), day(n))
        for oid in placed:
            if history[oid][-1] != (state := _status(settings, oid)):
                history[oid].append(state)
    # placed, then three status changes on three different days
    changed_thrice = [oid for oid, states in history.items() if len({s[1] for s in states[1:]}) >= 3]
    assert changed_thrice, "the simulation must give an order three status changes on three days"

    late = [day(n) for n in range(4, 18)]
    extract_then_load(settings, late)
    _assert_lines_travel_with_their_orders(settings, late)
    assert_marts_equal_the_shop(settings)
    # Only the version current at extraction reaches the warehouse: a source that keeps current rows
    # cannot give back the statuses an order had on days extracted after it moved on.
    order_id = changed_thrice[0]
    versions = query(
        settings.warehouse_dsn, "select distinct status from raw.shop_orders where order_id = %s", (order_id,)
    )
    assert versions == [(history[order_id][-1][0],)]

    raw_tables = [f"raw.{get_entity(n).table}" for n in LOAD_ORDER]
    loaded = {(t, dt): table_checksum(settings.warehouse_dsn, t, dt) for t in raw_tables for dt in late[-4:]}
    simulate(settings, day(18), day(19))
    extract_then_load(settings, [day(n) for n in range(14, 20)])
    assert {key: table_checksum(settings.warehouse_dsn, *key) for key in loaded} == loaded
    assert_marts_equal_the_shop(settings)


def test_a_missed_day_caught_up_then_a_range_loaded_in_reverse(isolated_settings):
    settings = isolated_settings("missed")
    on_time(settings, 1, 5, skip=(3,))
    build(settings)  # the daily transform runs, data tests included, while day 3 is missing
    Pipeline(settings, open_lake(settings)).run_date(day(3))
    simulate(settings, day(6), day(12))
    lake = open_lake(settings)
    for n in range(12, 5, -1):
        Pipeline(settings, lake).run_date(day(n))
    _assert_lines_travel_with_their_orders(settings, [day(n) for n in range(2, 13)])
    assert_marts_equal_the_shop(settings)


def test_a_truly_orphaned_line_is_still_quarantined_with_a_clear_message(isolated_settings):
    settings = isolated_settings("orphan")
    on_time(settings, 1, 2)
    simulate(settings, day(3), day(3))
    conn = psycopg2.connect(settings.shop_dsn)
    try:
        with conn, conn.cursor() as cur:
            # A broken source: a line whose order does not exist (the foreign key bypassed).
            cur.execute("set session_replication_role = replica")
            cur.execute(
                "insert into order_items (order_item_id, order_id, product_id, quantity, unit_price, created_at, "
                "updated_at) values (990001, 990000, 1, 2, 9.99, %s, %s)",
                (day(3) + timedelta(hours=10), day(3) + timedelta(hours=10)),
            )
    finally:
        conn.close()
    lake = open_lake(settings)
    for name in LOAD_ORDER:
        Pipeline(settings, lake).extract(name, day(3))
    for name in LOAD_ORDER[:3]:
        Pipeline(settings, lake).load(name, day(3))
    with pytest.raises(QualityGateError) as rejected:
        Pipeline(settings, lake).load("shop.order_items", day(3))
    message = str(rejected.value)
    assert "raw/shop/order_items/dt=2025-03-03" in message and "order_id" in message and "990000" in message
    assert table_checksum(settings.warehouse_dsn, "raw.shop_order_items", day(3))[0] == 0, "nothing loaded"
    assert query(
        settings.warehouse_dsn,
        "select status from ops.load_ledger where entity = 'shop.order_items' and dt = %s",
        (day(3),),
    ) == [("rejected",)]
    assert lake.list_keys("quarantine/shop/order_items/dt=2025-03-03/")
