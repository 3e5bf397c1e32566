"""dbt build of the star schema on a small hand-made raw dataset (slow: each test runs dbt builds).

The dataset covers the rules: a customer with three tracked versions and an untracked edit, a
customer without orders, an order whose status changes across partitions, cancelled and returned
orders, an unsold product, events across hours (anonymous ones, a session crossing midnight, a
purchase). The warehouse database runs in UTC+14 so any date or hour not taken in UTC shows up.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import psycopg2
import pytest

from shopflow.config import Settings
from shopflow.transform import build, run_dbt
from shopflow.warehouse.raw_schema import ensure_raw_schema

pytestmark = pytest.mark.slow

MART_TABLES = (
    "dim_date",
    "dim_products",
    "dim_customers",
    "fact_orders",
    "fact_events",
    "mart_customer_lifetime_value",
    "mart_order_frequency",
    "mart_product_performance",
    "mart_hourly_traffic",
    "mart_daily_revenue",
    "mart_monthly_revenue",
    "fact_order_totals",
    "mart_daily_product_sales",
    "mart_daily_category_sales",
    "mart_daily_sessions",
    "mart_daily_active_customers",
    "mart_value_segments",
    "mart_lifetime_value_bands",
)

PRODUCT_COLUMNS = ("product_id", "title", "price", "description", "category", "image", "rating_rate", "rating_count")
CUSTOMER_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "phone", "city", "country", "registered_at",
    "loyalty_segment", "created_at", "updated_at",
)  # fmt: skip
ORDER_COLUMNS = ("order_id", "customer_id", "ordered_at", "status", "payment_method", "created_at", "updated_at")
ITEM_COLUMNS = ("order_item_id", "order_id", "product_id", "quantity", "unit_price", "created_at", "updated_at")
EVENT_COLUMNS = (
    "event_id", "session_id", "visitor_id", "customer_id", "event_type", "product_id", "order_id",
    "device_type", "referrer", "event_time",
)  # fmt: skip


def _product(pid: int, title: str, price: str) -> tuple:
    return (pid, title, price, f"product {pid}", "electronics", f"https://img/{pid}.png", "4.1", 120)


def _customer(cid, first, email, phone, city, segment, registered, updated) -> tuple:
    return (cid, first, "Tester", email, phone, city, "DE", registered, segment, registered, updated)


def _order(oid, cid, ordered_at, status, updated) -> tuple:
    return (oid, cid, ordered_at, status, "paypal", ordered_at, updated)


def _item(iid, oid, pid, qty, price, at) -> tuple:
    return (iid, oid, pid, qty, price, at, at)


def _event(eid, session, visitor, cid, etype, pid, oid, at, device="desktop") -> tuple:
    return (eid, session, visitor, cid, etype, pid, oid, device, "google", at)


# Partitions keyed by dt: {table: rows}. Customer 1: bronze/Berlin (registered 01-29) -> silver
# (01-30) -> new email (01-31), plus a phone edit in the same version; customer 2: phone-only edit
# (no new version); customer 3 never orders; customer 4 only has a cancelled order.
BASE_PARTITIONS: dict[str, dict[str, list[tuple]]] = {
    "2026-01-29": {
        "fakestore_products": [
            _product(1, "Laptop ", "109.95"),
            _product(2, "Cable", "22.30"),
            _product(3, "Unsold lamp", "15.00"),
        ],
        "shop_customers": [
            _customer(
                1,
                "Ann",
                "ann@example.com",
                "111",
                "Berlin",
                "bronze",
                "2026-01-29 08:00:00+00",
                "2026-01-29 08:00:00+00",
            ),
            _customer(
                2, "Bo", "bo@example.com", "222", "Hamburg", "gold", "2026-01-29 12:00:00+00", "2026-01-29 12:00:00+00"
            ),
            _customer(
                4, "Di", "di@example.com", None, "Bonn", "bronze", "2026-01-29 09:00:00+00", "2026-01-29 09:00:00+00"
            ),
        ],
        "shop_orders": [
            _order(100, 1, "2026-01-29 09:30:00+00", "placed", "2026-01-29 09:30:00+00"),
            # 23:59:59 UTC is already 01-30 in the database's UTC+14 session.
            _order(105, 2, "2026-01-29 23:59:59+00", "delivered", "2026-01-29 23:59:59+00"),
        ],
        "shop_order_items": [
            _item(1000, 100, 1, 2, "109.95", "2026-01-29 09:30:00+00"),
            _item(1001, 100, 2, 1, "22.30", "2026-01-29 09:30:00+00"),
            _item(1006, 105, 2, 2, "22.30", "2026-01-29 23:59:59+00"),
        ],
        "clickstream_events": [
            _event("e03", "s2", "v2", 1, "page_view", None, None, "2026-01-29 09:25:00+00"),
            _event("e04", "s2", "v2", 1, "product_view", 1, None, "2026-01-29 09:26:00+00"),
            _event("e05", "s2", "v2", 1, "add_to_cart", 1, None, "2026-01-29 09:27:00+00"),
            _event("e06", "s2", "v2", 1, "checkout", None, None, "2026-01-29 09:29:00+00"),
            _event("e07", "s2", "v2", 1, "purchase", None, 100, "2026-01-29 09:30:00+00"),
            _event("e01", "s1", "v1", None, "page_view", None, None, "2026-01-29 23:50:00+00", "mobile"),
        ],
    },
    "2026-01-30": {
        "fakestore_products": [
            _product(1, "Laptop ", "99.99"),
            _product(2, "Cable", "22.30"),
            _product(3, "Unsold lamp", "15.00"),
        ],
        "shop_customers": [
            _customer(
                1,
                "Ann",
                "ann@example.com",
                "111",
                "Berlin",
                "silver",
                "2026-01-29 08:00:00+00",
                "2026-01-30 10:00:00+00",
            ),
            _customer(
                3, "Cy", "cy@example.com", None, "Köln", "bronze", "2026-01-30 15:00:00+00", "2026-01-30 15:00:00+00"
            ),
        ],
        "shop_orders": [
            _order(100, 1, "2026-01-29 09:30:00+00", "paid", "2026-01-30 08:00:00+00"),
            _order(101, 1, "2026-01-30 23:30:00+00", "placed", "2026-01-30 23:30:00+00"),
        ],
        "shop_order_items": [
            _item(1002, 101, 2, 3, "22.30", "2026-01-30 23:30:00+00"),
        ],
        "clickstream_events": [
            _event("e02", "s1", "v1", None, "product_view", 2, None, "2026-01-30 00:05:00+00", "mobile"),
        ],
    },
    "2026-01-31": {
        "fakestore_products": [
            _product(1, "Laptop ", "99.99"),
            _product(2, "Cable", "22.30"),
            _product(3, "Unsold lamp", "15.00"),
        ],
        "shop_customers": [
            _customer(
                1,
                "Ann",
                "ann.lee@example.com",
                "333",
                "Berlin",
                "silver",
                "2026-01-29 08:00:00+00",
                "2026-01-31 09:00:00+00",
            ),
            _customer(
                2, "Bo", "bo@example.com", "999", "Hamburg", "gold", "2026-01-29 12:00:00+00", "2026-01-31 11:00:00+00"
            ),
        ],
        "shop_orders": [
            _order(101, 1, "2026-01-30 23:30:00+00", "shipped", "2026-01-31 08:00:00+00"),
            _order(102, 2, "2026-01-31 00:10:00+00", "returned", "2026-01-31 18:00:00+00"),
            _order(103, 4, "2026-01-31 14:00:00+00", "cancelled", "2026-01-31 15:00:00+00"),
        ],
        "shop_order_items": [
            _item(1003, 102, 1, 1, "109.95", "2026-01-31 00:10:00+00"),
            _item(1004, 103, 2, 1, "22.30", "2026-01-31 14:00:00+00"),
        ],
        "clickstream_events": [
            _event("e08", "s3", "v3", 2, "page_view", None, None, "2026-01-31 00:05:00+00", "tablet"),
        ],
    },
}

# The next day: order 101 is cancelled (its line must be updated in place), a new order in a new
# month, and customer 1 reaches gold (a 4th version, valid for the new order).
NEXT_PARTITION: dict[str, dict[str, list[tuple]]] = {
    "2026-02-01": {
        "fakestore_products": [
            _product(1, "Laptop ", "99.99"),
            _product(2, "Cable", "22.30"),
            _product(3, "Unsold lamp", "15.00"),
        ],
        "shop_customers": [
            _customer(
                1,
                "Ann",
                "ann.lee@example.com",
                "333",
                "Berlin",
                "gold",
                "2026-01-29 08:00:00+00",
                "2026-02-01 07:00:00+00",
            ),
        ],
        "shop_orders": [
            _order(101, 1, "2026-01-30 23:30:00+00", "cancelled", "2026-02-01 09:00:00+00"),
            _order(104, 1, "2026-02-01 10:00:00+00", "placed", "2026-02-01 10:00:00+00"),
        ],
        "shop_order_items": [
            _item(1005, 104, 1, 1, "99.99", "2026-02-01 10:00:00+00"),
        ],
        "clickstream_events": [
            _event("e09", "s4", "v2", 1, "purchase", None, 104, "2026-02-01 10:00:00+00"),
        ],
    },
}

TABLE_COLUMNS = {
    "fakestore_products": PRODUCT_COLUMNS,
    "shop_customers": CUSTOMER_COLUMNS,
    "shop_orders": ORDER_COLUMNS,
    "shop_order_items": ITEM_COLUMNS,
    "clickstream_events": EVENT_COLUMNS,
}


def load_partitions(dsn: str, partitions: dict[str, dict[str, list[tuple]]]) -> None:
    """Insert hand-made raw partitions, each row tagged with its dt."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for dt, tables in partitions.items():
                for table, rows in tables.items():
                    columns = (*TABLE_COLUMNS[table], "dt")
                    placeholders = ", ".join(["%s"] * len(columns))
                    cur.executemany(
                        f"insert into raw.{table} ({', '.join(columns)}) values ({placeholders})",
                        [(*row, dt) for row in rows],
                    )
        conn.commit()
    finally:
        conn.close()


def query(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    finally:
        conn.close()


def expected_revenue(partitions: list[dict[str, dict[str, list[tuple]]]]) -> tuple[Decimal, int, dict[int, int]]:
    """(revenue, revenue lines, lines per order) derived from the raw rows in Python, independently of dbt."""
    orders: dict[int, tuple] = {}
    items: dict[int, tuple] = {}
    for batch in partitions:
        for _, tables in sorted(batch.items()):
            for row in tables.get("shop_orders", []):
                if row[0] not in orders or row[6] >= orders[row[0]][6]:
                    orders[row[0]] = row
            for row in tables.get("shop_order_items", []):
                items[row[0]] = row
    revenue = Decimal("0")
    revenue_lines = 0
    lines_per_order: dict[int, int] = {}
    for _, order_id, _, quantity, unit_price, _, _ in items.values():
        lines_per_order[order_id] = lines_per_order.get(order_id, 0) + 1
        if orders[order_id][3] not in ("cancelled", "returned"):
            revenue += quantity * Decimal(unit_price)
            revenue_lines += 1
    return revenue, revenue_lines, lines_per_order


def mart_rows(dsn: str) -> dict[str, list[tuple]]:
    """Every mart table's rows, in a deterministic order, without processed_at (when a run wrote them)."""
    snapshot = {}
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            for table in MART_TABLES:
                cur.execute(f"select * from marts.{table} limit 0")
                columns = ", ".join(d.name for d in cur.description if d.name != "processed_at")
                cur.execute(f"select {columns} from marts.{table} order by {columns}")
                snapshot[table] = cur.fetchall()
    finally:
        conn.close()
    return snapshot


def node_statuses(result) -> dict[str, str]:
    return {r.node.unique_id: str(getattr(r.status, "value", r.status)) for r in result.result.results}


@pytest.fixture
def warehouse(isolated_settings) -> Settings:
    """A fresh warehouse database in UTC+14 with the raw schema and the base partitions loaded."""
    settings = isolated_settings("dbt")
    dbname = settings.warehouse_dsn.rsplit("/", 1)[1]
    conn = psycopg2.connect(settings.warehouse_dsn)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"alter database \"{dbname}\" set timezone to 'Pacific/Kiritimati'")
    conn.close()
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        ensure_raw_schema(conn)
    finally:
        conn.close()
    load_partitions(settings.warehouse_dsn, BASE_PARTITIONS)
    return settings


def test_build_passes_every_test_and_reconciles_with_raw(warehouse: Settings) -> None:
    started = time.monotonic()
    result = build(warehouse)
    elapsed = time.monotonic() - started
    statuses = node_statuses(result)
    print(f"dbt build on the test data: {len(statuses)} nodes in {elapsed:.1f} s")

    models = {k: v for k, v in statuses.items() if k.startswith("model.")}
    tests = {k: v for k, v in statuses.items() if k.startswith("test.")}
    unit_tests = {k: v for k, v in statuses.items() if k.startswith("unit_test.")}
    assert len(models) >= 21 and set(models.values()) == {"success"}
    assert len(tests) >= 100 and set(tests.values()) == {"pass"}
    assert len(unit_tests) >= 10 and set(unit_tests.values()) == {"pass"}
    dsn = warehouse.warehouse_dsn

    schemas = dict(
        query(
            dsn,
            "select table_name, table_schema from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts')",
        )
    )
    assert {name: schemas.get(name) for name in MART_TABLES} == dict.fromkeys(MART_TABLES, "marts")
    assert schemas["stg_shop__customers"] == "staging"
    assert schemas["int_customers_versioned"] == "intermediate"

    # Revenue and lines equal what the raw rows say, in the fact and in every revenue mart.
    revenue, revenue_lines, lines_per_order = expected_revenue([BASE_PARTITIONS])
    assert revenue == Decimal("353.70")  # order 100 (2 x 109.95 + 22.30) + 105 (2 x 22.30) + 101 (3 x 22.30)
    fact = query(dsn, "select coalesce(sum(line_revenue) filter (where is_revenue), 0), "
                      "count(*) filter (where is_revenue), count(*) from marts.fact_orders")[0]  # fmt: skip
    assert fact == (revenue, revenue_lines, sum(lines_per_order.values()))
    assert query(dsn, "select sum(revenue) from marts.mart_daily_revenue")[0][0] == revenue
    assert query(dsn, "select sum(revenue) from marts.mart_monthly_revenue")[0][0] == revenue
    assert query(dsn, "select sum(lifetime_revenue) from marts.mart_customer_lifetime_value")[0][0] == revenue
    assert query(dsn, "select sum(revenue) from marts.mart_product_performance")[0][0] == revenue
    assert query(dsn, "select sum(revenue) from marts.mart_daily_product_sales")[0][0] == revenue
    assert query(dsn, "select sum(revenue) from marts.mart_daily_category_sales")[0][0] == revenue
    orders = query(dsn, "select sum(order_revenue) filter (where is_revenue), sum(line_count), count(*) "
                        "from marts.fact_order_totals")[0]  # fmt: skip
    assert orders == (revenue, sum(lines_per_order.values()), len(lines_per_order))
    # Days with only cancelled/returned lines keep a zero row: 01-31 (orders 102 and 103).
    zero_day = query(dsn, "select category, orders, revenue from marts.mart_daily_category_sales "
                          "where date_key = 20260131")  # fmt: skip
    assert zero_day == [("electronics", 0, Decimal("0.00"))]
    sessions = query(dsn, "select device_type, sum(sessions), sum(events) from marts.mart_daily_sessions "
                          "group by device_type order by device_type")  # fmt: skip
    assert sessions == [("desktop", 1, 5), ("mobile", 1, 2), ("tablet", 1, 1)]
    # Active customers (any status, 30 days): 1 and 2 from 01-29, and 4 (a cancelled order) on 01-31.
    active = dict(query(dsn, "select date_day::text, active_customers from marts.mart_daily_active_customers"))
    assert active == {"2026-01-29": 2, "2026-01-30": 2, "2026-01-31": 3}
    segments = query(dsn, "select value_segment, customers, lifetime_revenue from marts.mart_value_segments "
                          "order by value_segment_sort")  # fmt: skip
    assert segments == [("VIP", 0, 0), ("High", 0, 0), ("Medium", 0, 0), ("Low", 4, revenue)]
    assert query(dsn, "select sum(customers), sum(lifetime_revenue) from marts.mart_lifetime_value_bands") == [
        (2, revenue)
    ]
    depth = dict(query(dsn, "select deepest_step, sum(sessions) from marts.mart_daily_sessions group by 1"))
    assert depth == {1: 1, 2: 1, 5: 1}  # s3 bounced, s1 viewed a product across midnight, s2 bought

    # UTC days: order 105 (23:59:59 UTC) belongs to 01-29 even though the session is UTC+14.
    daily = dict(query(dsn, "select date_day::text, revenue from marts.mart_daily_revenue"))
    assert daily == {"2026-01-29": Decimal("286.80"), "2026-01-30": Decimal("66.90"), "2026-01-31": Decimal("0.00")}
    hours = dict(query(dsn, "select event_hour, events from marts.mart_hourly_traffic"))
    assert len(hours) == 24 and hours[23] == 1 and hours[0] == 2 and hours[9] == 5 and sum(hours.values()) == 8

    # SCD2: customer 1 has three windows (bronze, silver, new email); the phone edit did not add one.
    versions = query(
        dsn,
        "select version_number, loyalty_segment, email_masked, phone_masked, valid_from::text, valid_to::text, "
        "is_current, email_hash = encode(sha256(convert_to('ann.lee@example.com', 'UTF8')), 'hex') "
        "from marts.dim_customers where customer_id = 1 order by version_number",
    )
    # Contact data arrives hashed and masked only (docs/governance.md).
    assert [(v[0], v[1], v[2], v[3], v[6], v[7]) for v in versions] == [
        (1, "bronze", "a***@example.com", "***33", False, False),
        (2, "silver", "a***@example.com", "***33", False, False),
        (3, "silver", "a***@example.com", "***33", True, True),
    ]
    assert versions[0][5] == versions[1][4] and versions[1][5] == versions[2][4]
    assert query(dsn, "select count(*) from marts.dim_customers where customer_id = 2")[0][0] == 1
    violations = query(
        dsn,
        """select customer_id from (
               select customer_id, valid_from, valid_to, is_current,
                      lead(valid_from) over (partition by customer_id order by valid_from) as next_from
               from marts.dim_customers) w
           where valid_from >= valid_to or (next_from is not null and valid_to <> next_from)
              or (next_from is null) <> is_current
           union all
           select customer_id from marts.dim_customers group by customer_id
           having count(*) filter (where is_current) <> 1""",
    )
    assert violations == []

    # Orders point at the customer version valid when they were placed.
    keys = dict(
        query(
            dsn,
            "select f.order_id, c.version_number from marts.fact_orders f "
            "join marts.dim_customers c on c.customer_key = f.customer_key where f.customer_id = 1",
        )
    )
    assert keys == {100: 1, 101: 2}

    clv = {
        row[0]: row[1:]
        for row in query(
            dsn,
            "select customer_id, order_count, lifetime_revenue, value_segment, avg_order_value "
            "from marts.mart_customer_lifetime_value",
        )
    }
    assert clv[3] == (0, Decimal("0.00"), "Low", None)  # never ordered
    assert clv[4] == (0, Decimal("0.00"), "Low", None)  # only a cancelled order
    assert clv[1][:2] == (2, Decimal("309.10"))
    buckets = dict(query(dsn, "select frequency_bucket, customer_count from marts.mart_order_frequency"))
    assert buckets == {"0 orders": 2, "1 order": 1, "2-3 orders": 1, "4-5 orders": 0, "6-10 orders": 0,
                       "11+ orders": 0}  # fmt: skip
    lamp = query(dsn, "select units_sold, inventory_status, title from marts.mart_product_performance "
                      "where product_id = 3")  # fmt: skip
    assert lamp == [(0, "slow-moving", "Unsold lamp")]
    assert query(dsn, "select title, price from marts.dim_products where product_id = 1") == [
        ("Laptop", Decimal("99.99"))
    ]

    # Statistics are fresh (post-hook analyze) and the declared indexes exist.
    analyzed = query(
        dsn,
        "select relname from pg_stat_user_tables where schemaname = 'marts' and last_analyze is not null",
    )
    assert {r[0] for r in analyzed} == set(MART_TABLES)
    indexes = {r[0] for r in query(dsn, "select indexdef from pg_indexes where tablename = 'fact_orders'")}
    assert any("(order_date_key, is_revenue)" in d for d in indexes)
    assert any("(customer_key)" in d for d in indexes)

    # dbt docs generate works on the built project.
    run_dbt(["docs", "generate"], warehouse)
    catalog = Path(warehouse.state_dir) / "dbt" / "target" / "catalog.json"
    assert catalog.exists() and "model.shopflow.dim_customers" in catalog.read_text()


def test_incremental_run_equals_full_refresh(warehouse: Settings) -> None:
    dsn = warehouse.warehouse_dsn
    build(warehouse)
    before = dict(query(dsn, "select order_line_key, xmin::text from marts.fact_orders"))
    line_101 = query(dsn, "select order_line_key from marts.fact_orders where order_id = 101")
    assert len(line_101) == 1

    orders_before = dict(query(dsn, "select order_id, xmin::text from marts.fact_order_totals"))
    days_before = dict(
        query(dsn, "select date_key || '/' || product_id, xmin::text from marts.mart_daily_product_sales")
    )

    load_partitions(dsn, NEXT_PARTITION)
    started = time.monotonic()
    result = build(warehouse)
    print(f"incremental dbt build: {time.monotonic() - started:.1f} s")
    assert set(node_statuses(result).values()) <= {"success", "pass"}

    # The cancelled order's line was updated in place (same key, one row), not duplicated.
    rows_101 = query(dsn, "select order_line_key, order_status, is_revenue from marts.fact_orders where order_id = 101")
    assert rows_101 == [(line_101[0][0], "cancelled", False)]
    after = dict(query(dsn, "select order_line_key, xmin::text from marts.fact_orders"))
    rewritten = {key for key in before if after.get(key) != before[key]}
    assert rewritten == {line_101[0][0]}, "only the changed order's lines are rewritten"
    assert len(after) == len(before) + 1  # order 104's line

    # The order-grain fact rewrites the changed order only; the daily marts recompute its day
    # (01-30, UTC) and add order 104's (02-01): the other days' rows are untouched.
    orders_after = dict(query(dsn, "select order_id, xmin::text from marts.fact_order_totals"))
    assert {o for o in orders_after if orders_after[o] != orders_before.get(o)} == {101, 104}
    days_after = dict(
        query(dsn, "select date_key || '/' || product_id, xmin::text from marts.mart_daily_product_sales")
    )
    assert {d for d in days_after if days_after[d] != days_before.get(d)} == {"20260130/2", "20260201/1"}
    assert query(dsn, "select orders, revenue from marts.mart_daily_product_sales where date_key = 20260130") == [
        (0, Decimal("0.00"))
    ]

    revenue, revenue_lines, _ = expected_revenue([BASE_PARTITIONS, NEXT_PARTITION])
    assert revenue == Decimal("386.79")
    assert query(dsn, "select sum(line_revenue), count(*) from marts.fact_orders where is_revenue")[0] == (
        revenue,
        revenue_lines,
    )
    assert query(
        dsn,
        "select c.loyalty_segment from marts.fact_orders f join marts.dim_customers c using (customer_key) "
        "where f.order_id = 104",
    ) == [("gold",)]
    monthly = query(dsn, "select month_start::text, revenue, mom_growth_pct from marts.mart_monthly_revenue")
    assert monthly == [("2026-01-01", Decimal("286.80"), None), ("2026-02-01", Decimal("99.99"), Decimal("-65.14"))]

    incremental = mart_rows(dsn)
    build(warehouse, full_refresh=True)
    refreshed = mart_rows(dsn)
    for table in MART_TABLES:
        assert incremental[table] == refreshed[table], f"{table} differs between incremental and full refresh"
