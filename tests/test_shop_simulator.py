"""The shop simulator against the stack's PostgreSQL and S3: volumes, lifecycles, segments, determinism."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg2
import pytest

from shopflow.config import replace_database
from shopflow.contracts import CUSTOMERS, LOYALTY_SEGMENTS, ORDER_ITEMS, ORDERS
from shopflow.services.s3 import s3_client
from shopflow.sources import SimulationError
from shopflow.sources.fakestore_client import fetch_products
from shopflow.sources.patterns import HOUR_SHARE, day_factor
from shopflow.sources.shop_simulator import (
    SEGMENT_THRESHOLDS_USD,
    create_shop_schema,
    simulate_days,
)

START = date(2025, 1, 1)
DAYS = 60
END = START + timedelta(days=DAYS - 1)
TABLES = {"customers": "customer_id", "orders": "order_id", "order_items": "order_item_id", "products": "product_id"}


class Scratch:
    """Fresh databases and buckets on the stack's servers, dropped when the owning fixture ends."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.s3 = s3_client(stack)
        self.databases: list[str] = []
        self.buckets: list[str] = []

    def database(self) -> str:
        name = f"shop_test_{uuid.uuid4().hex[:10]}"
        self._admin_execute(f"create database {name}")
        self.databases.append(name)
        return replace_database(self.stack.shop_dsn, name)

    def bucket(self) -> str:
        name = f"shop-test-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def _admin_execute(self, statement: str) -> None:
        # CREATE/DROP DATABASE refuse to run in a transaction: autocommit, and no `with conn`.
        conn = psycopg2.connect(replace_database(self.stack.shop_dsn, "postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def close(self) -> None:
        for name in self.databases:
            self._admin_execute(f"drop database if exists {name} with (force)")
        for name in self.buckets:
            paginator = self.s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=name):
                for obj in page.get("Contents", []):
                    self.s3.delete_object(Bucket=name, Key=obj["Key"])
            self.s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def scratch(stack) -> Iterator[Scratch]:
    pool = Scratch(stack)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def catalog(stack) -> list[dict]:
    return fetch_products(stack.fakestore_api_url)


def query(dsn: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def checksums(dsn: str) -> dict[str, str]:
    """One md5 per table over all rows in key order, plus the simulator state."""
    out = {}
    for table, key in TABLES.items():
        out[table] = query(dsn, f"select md5(string_agg(t::text, '|' order by {key})) from {table} t")[0][0]
    out["simulation_state"] = query(dsn, "select md5(t::text) from simulation_state t")[0][0]
    return out


@dataclass
class History:
    """Snapshots taken after each simulated day through the progress callback."""

    dsn: str
    bucket: str
    summaries: list = field(default_factory=list)
    orders: dict[date, dict[int, tuple]] = field(default_factory=dict)
    customers: dict[date, dict[int, tuple]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def history(scratch, catalog) -> History:
    """60 days at scale 1, with every table snapshotted after each day."""
    h = History(scratch.database(), scratch.bucket())
    conn = psycopg2.connect(h.dsn)

    def snapshot(day: date) -> None:
        with conn.cursor() as cur:
            cur.execute("select order_id, status, updated_at, ordered_at from orders")
            h.orders[day] = {r[0]: r[1:] for r in cur.fetchall()}
            cur.execute("select customer_id, email, city, country, loyalty_segment, updated_at from customers")
            h.customers[day] = {r[0]: r[1:] for r in cur.fetchall()}
        conn.rollback()

    try:
        h.summaries = simulate_days(h.dsn, scratch.s3, h.bucket, catalog, START, END, progress=snapshot)
    finally:
        conn.close()
    return h


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


# --- patterns (no services) -------------------------------------------------------------------------
def test_day_factor_has_weekday_and_holiday_shape():
    year = [date(2025, 1, 1) + timedelta(days=i) for i in range(365)]
    factors = {d: day_factor(d) for d in year}
    assert abs(sum(factors.values()) / 365 - 1) < 1e-9
    by_month = {
        m: sum(f for d, f in factors.items() if d.month == m) / sum(1 for d in year if d.month == m)
        for m in range(1, 13)
    }
    assert by_month[11] > 1.2 and by_month[12] > 1.2
    assert max(by_month[m] for m in range(1, 11)) < min(by_month[11], by_month[12])
    weekday = [f for d, f in factors.items() if d.weekday() < 5 and d.month == 3]
    weekend = [f for d, f in factors.items() if d.weekday() >= 5 and d.month == 3]
    assert min(weekday) > max(weekend)
    assert factors[date(2025, 11, 28)] == max(factors.values())  # Black Friday 2025


def test_hour_curve_has_night_trough_and_two_peaks():
    assert set(HOUR_SHARE.argsort()[:3].tolist()) <= {2, 3, 4, 5}
    assert HOUR_SHARE[15] > HOUR_SHARE[13] and HOUR_SHARE[15] > HOUR_SHARE[17]
    assert HOUR_SHARE[22] == HOUR_SHARE.max()
    assert HOUR_SHARE.min() >= 0.015


# --- schema ---------------------------------------------------------------------------------------------
def test_schema_is_idempotent_and_matches_the_contract(scratch):
    dsn = scratch.database()
    conn = psycopg2.connect(dsn)
    try:
        create_shop_schema(conn)
        create_shop_schema(conn)
        with conn.cursor() as cur:
            for entity in (CUSTOMERS, ORDERS, ORDER_ITEMS):
                cur.execute(
                    "select column_name from information_schema.columns where table_name = %s order by ordinal_position",
                    (entity.name,),
                )
                assert [r[0] for r in cur.fetchall()] == entity.data_column_names
                cur.execute("select indexdef from pg_indexes where tablename = %s", (entity.name,))
                assert any("(updated_at)" in r[0] for r in cur.fetchall()), entity.name
    finally:
        conn.close()


# --- one 60-day history ---------------------------------------------------------------------------------
def test_volumes_at_scale_1_are_in_range(history):
    s = history.summaries
    assert [x.day for x in s] == [START + timedelta(days=i) for i in range(DAYS)]
    assert not any(x.skipped for x in s)
    customers = sum(x.new_customers for x in s)
    orders = sum(x.orders for x in s)
    items = sum(x.order_items for x in s)
    revenue = sum(x.revenue for x in s)
    events = sum(x.events for x in s)
    # Jan-Feb run at about 0.84 of the yearly average: ~690 orders, 150 launch + ~115 later customers.
    assert 550 <= orders <= 850
    assert 220 <= customers <= 320
    assert 1.8 <= items / orders <= 2.3
    assert 110 <= revenue / orders <= 170
    assert 8 <= events / orders <= 12
    assert all(x.orders > 0 and x.events > 0 for x in s)
    (db_customers, db_orders, db_items, db_revenue) = query(
        history.dsn,
        "select (select count(*) from customers), (select count(*) from orders), "
        "(select count(*) from order_items), (select sum(quantity * unit_price) from order_items)",
    )[0]
    assert (db_customers, db_orders, db_items) == (customers, orders, items)
    assert abs(float(db_revenue) - revenue) < 0.01


def test_timestamps_of_new_rows_lie_inside_their_day(history):
    rows = query(
        history.dsn,
        "select count(*) filter (where c.registered_at > o.ordered_at), "
        "count(*) filter (where o.created_at <> o.ordered_at or i.created_at <> o.ordered_at) "
        "from orders o join customers c using (customer_id) join order_items i using (order_id) "
        "where date_trunc('day', c.registered_at) = date_trunc('day', o.ordered_at)",
    )[0]
    assert rows == (0, 0)
    days = query(
        history.dsn,
        "select (select min(ordered_at) from orders), (select max(ordered_at) from orders), "
        "(select min(registered_at) from customers), (select max(registered_at) from customers)",
    )[0]
    low, _ = _day_bounds(START)
    _, high = _day_bounds(END)
    assert all(low <= t < high for t in days)


def test_prices_are_catalog_prices(history, catalog):
    price = {r["product_id"]: round(r["price"], 2) for r in catalog}
    rows = query(history.dsn, "select distinct product_id, unit_price from order_items")
    assert rows and all(float(unit) == price[pid] for pid, unit in rows)
    # Cheaper products sell more: the cheapest five outsell the dearest five several times over.
    sold = dict(query(history.dsn, "select product_id, sum(quantity) from order_items group by 1"))
    by_price = sorted(price, key=price.get)
    assert sum(sold.get(p, 0) for p in by_price[:5]) > 3 * sum(sold.get(p, 0) for p in by_price[-5:])


ALLOWED_STEPS = {
    ("placed", "paid"),
    ("paid", "shipped"),
    ("shipped", "delivered"),
    ("placed", "cancelled"),
    ("paid", "cancelled"),
    ("delivered", "returned"),
}


def test_statuses_only_move_forward_with_updated_at_inside_the_day(history):
    days = sorted(history.orders)
    steps: dict[tuple[str, str], int] = {}
    delivered_on: dict[int, date] = {}
    for previous, day in itertools.pairwise(days):
        low, high = _day_bounds(day)
        before, after = history.orders[previous], history.orders[day]
        for order_id, (status, updated_at, ordered_at) in after.items():
            if order_id not in before:
                assert (status, updated_at) == ("placed", ordered_at)
                assert low <= ordered_at < high
                continue
            old_status, old_updated, _ = before[order_id]
            if status == old_status:
                assert updated_at == old_updated, f"order {order_id} touched on {day} without a change"
                continue
            assert (old_status, status) in ALLOWED_STEPS, f"order {order_id}: {old_status} -> {status} on {day}"
            assert low <= updated_at < high
            steps[(old_status, status)] = steps.get((old_status, status), 0) + 1
            if status == "delivered":
                delivered_on[order_id] = day
            if status == "returned" and order_id in delivered_on:
                assert (day - delivered_on[order_id]).days <= 14
    assert set(steps) == ALLOWED_STEPS  # every path occurs within 60 days
    total = sum(steps.values())
    placed = len(history.orders[days[-1]])
    cancelled = steps[("placed", "cancelled")] + steps[("paid", "cancelled")]
    assert 0.02 <= cancelled / placed <= 0.09
    assert total == sum(x.status_changes for x in history.summaries)


def test_segments_follow_trailing_spend_and_change(history):
    changed = 0
    days = sorted(history.customers)
    for previous, day in itertools.pairwise(days):
        before, after = history.customers[previous], history.customers[day]
        for customer_id, row in after.items():
            if customer_id in before and row[3] != before[customer_id][3]:
                changed += 1
                low, high = _day_bounds(day)
                assert low <= row[4] < high
    assert changed == sum(x.segment_changes for x in history.summaries)
    assert changed >= 10
    rows = query(
        history.dsn,
        """
        select c.customer_id, c.loyalty_segment,
               coalesce(sum(i.quantity * i.unit_price)
                        filter (where o.status not in ('cancelled', 'returned')), 0)
        from customers c
        left join orders o using (customer_id)
        left join order_items i using (order_id)
        group by 1, 2
        """,
    )
    thresholds = [0.0, *SEGMENT_THRESHOLDS_USD]
    for customer_id, segment, spend in rows:
        expected = max(i for i, t in enumerate(thresholds) if float(spend) >= t)
        assert segment == LOYALTY_SEGMENTS[expected], f"customer {customer_id} spent {spend} but is {segment}"
    assert len({r[1] for r in rows}) >= 3


def test_some_customers_move_or_change_email(history):
    first, last = history.customers[min(history.customers)], history.customers[max(history.customers)]
    moved = [c for c in first if first[c][1:3] != last[c][1:3]]
    emails = [c for c in first if first[c][0] != last[c][0]]
    assert moved and emails
    for customer_id in emails:
        assert last[customer_id][0].split("@")[0].endswith(str(customer_id))


def test_rerun_of_simulated_days_is_skipped_and_changes_nothing(history, scratch, catalog):
    before = checksums(history.dsn)
    key = f"landing/clickstream/events/dt={END - timedelta(days=1)}/hour=12/events.jsonl.gz"
    etag = scratch.s3.head_object(Bucket=history.bucket, Key=key)["ETag"]
    again = simulate_days(history.dsn, scratch.s3, history.bucket, catalog, END - timedelta(days=9), END)
    assert len(again) == 10 and all(x.skipped and x.orders == 0 for x in again)
    assert checksums(history.dsn) == before
    assert scratch.s3.head_object(Bucket=history.bucket, Key=key)["ETag"] == etag


# --- determinism and state errors -------------------------------------------------------------------------
def _objects(scratch: Scratch, bucket: str) -> dict[str, bytes]:
    out = {}
    for page in scratch.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = scratch.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def test_same_seed_gives_identical_databases_and_objects(scratch, catalog):
    first, last = date(2025, 11, 20), date(2025, 11, 27)
    runs = []
    for split in (False, False, True):
        dsn, bucket = scratch.database(), scratch.bucket()
        if split:  # one day per call resumes from the database, as a scheduler would run it
            for i in range((last - first).days + 1):
                day = first + timedelta(days=i)
                simulate_days(dsn, scratch.s3, bucket, catalog, day, day)
        else:
            simulate_days(dsn, scratch.s3, bucket, catalog, first, last)
        runs.append((checksums(dsn), _objects(scratch, bucket)))
    assert runs[0][0] == runs[1][0] == runs[2][0]
    assert len(runs[0][1]) == 8 * 24
    assert runs[0][1] == runs[1][1] == runs[2][1]

    dsn, bucket = scratch.database(), scratch.bucket()
    simulate_days(dsn, scratch.s3, bucket, catalog, first, last, seed=7)
    other = checksums(dsn)
    assert all(other[t] != runs[0][0][t] for t in ("customers", "orders", "order_items"))


def test_gap_seed_scale_and_history_errors(scratch, catalog):
    dsn, bucket = scratch.database(), scratch.bucket()
    simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 1), date(2025, 3, 2), scale=0.5, seed=3)
    before = checksums(dsn)
    with pytest.raises(SimulationError, match=r"simulated up to 2025-03-02.*next day to simulate is 2025-03-03"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 5), date(2025, 3, 6), scale=0.5, seed=3)
    with pytest.raises(SimulationError, match=r"seed=3 scale=0.5 .*asks for seed=4 scale=0.5"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 3), date(2025, 3, 3), scale=0.5, seed=4)
    with pytest.raises(SimulationError, match=r"asks for seed=3 scale=1"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 3), date(2025, 3, 3), seed=3)
    with pytest.raises(SimulationError, match="history starts at 2025-03-01"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 2, 27), date(2025, 3, 3), scale=0.5, seed=3)
    assert checksums(dsn) == before
    # Overlapping the end: simulated days are skipped, the new one is written.
    out = simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 2), date(2025, 3, 3), scale=0.5, seed=3)
    assert [x.skipped for x in out] == [True, False] and out[1].orders > 0
    assert query(dsn, "select last_day from simulation_state")[0][0] == date(2025, 3, 3)


def test_bad_arguments_are_rejected_before_writing(scratch, catalog):
    dsn, bucket = scratch.database(), scratch.bucket()
    with pytest.raises(ValueError, match="before first_day"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 2), date(2025, 3, 1))
    with pytest.raises(ValueError, match="scale must be a positive number"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 1), date(2025, 3, 1), scale=0)
    with pytest.raises(ValueError, match=r"catalog row 1 \(product 2\): price"):
        bad = [dict(catalog[0]), {**catalog[1], "price": -1}]
        simulate_days(dsn, scratch.s3, bucket, bad, date(2025, 3, 1), date(2025, 3, 1))
    with pytest.raises(ValueError, match="catalog is empty"):
        simulate_days(dsn, scratch.s3, bucket, [], date(2025, 3, 1), date(2025, 3, 1))
    assert query(dsn, "select count(*) from pg_tables where tablename = 'customers'")[0][0] == 0


def test_foreign_rows_without_state_are_refused(scratch, catalog):
    dsn, bucket = scratch.database(), scratch.bucket()
    conn = psycopg2.connect(dsn)
    create_shop_schema(conn)
    with conn.cursor() as cur:
        cur.execute(
            "insert into customers values (1, 'A', 'B', 'a@b.c', null, 'Paris', 'France', now(), 'bronze', now(), now())"
        )
    conn.commit()
    conn.close()
    with pytest.raises(SimulationError, match="no simulation_state row"):
        simulate_days(dsn, scratch.s3, bucket, catalog, date(2025, 3, 1), date(2025, 3, 1))


class _FailingS3:
    """Delegates to a real client but fails one hourly PUT, as a broken network would."""

    def __init__(self, client, fail_hour: int) -> None:
        self.client, self.fail_hour = client, fail_hour

    def put_object(self, **kwargs):
        if f"/hour={self.fail_hour:02d}/" in kwargs["Key"]:
            raise ConnectionError(f"simulated network failure for {kwargs['Key']}")
        return self.client.put_object(**kwargs)


def test_failed_delivery_rolls_back_the_day_and_a_retry_completes_it(scratch, catalog):
    dsn, bucket = scratch.database(), scratch.bucket()
    day = date(2025, 3, 1)
    with pytest.raises(ConnectionError, match="hour=17"):
        simulate_days(dsn, _FailingS3(scratch.s3, 17), bucket, catalog, day, day)
    assert query(dsn, "select (select count(*) from orders), (select count(*) from simulation_state)")[0] == (0, 0)
    out = simulate_days(dsn, scratch.s3, bucket, catalog, day, day)
    assert not out[0].skipped and out[0].orders > 0
    assert len(_objects(scratch, bucket)) == 24
