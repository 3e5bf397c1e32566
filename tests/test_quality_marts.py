"""The mart suites against real PostgreSQL: a tiny, consistent star schema in a scratch schema passes;
breaking one rule fails with the right expectation and the offending row. Also records outcomes into
ops.validation_results and renders Data Docs from them."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from shopflow.quality.data_docs import GX_PROJECT_DIR, build_data_docs
from shopflow.quality.gate import MartsMissingError, QualityGateError, check_marts, validate_marts
from shopflow.quality.marts import MARTS, build_mart_suite_spec
from shopflow.warehouse.ops import VALIDATION_RESULTS as VALIDATION_RESULTS_TABLE
from shopflow.warehouse.ops import load_outcomes, record_validation

# Customer 1 changes city on 2026-01-02 12:00 (two SCD2 versions); customer 2 only cancels an order.
# Revenue: order 100 (01-02, 25.50) and order 102 (01-03, 16.50); order 101 is cancelled.
MARTS_SQL = """
insert into @s.dim_date
select cast(to_char(d, 'YYYYMMDD') as integer), d, extract(year from d), extract(quarter from d),
    extract(month from d), to_char(d, 'FMMonth'), cast(date_trunc('month', d) as date), extract(week from d),
    extract(day from d), extract(isodow from d), to_char(d, 'FMDay'), extract(isodow from d) in (6, 7)
from (select date '2026-01-01' + n as d from generate_series(0, 2) as n) days;

insert into @s.dim_products values
    (md5('1'), 1, 'Backpack', 'men''s clothing', 109.95, 3.9, 120, 'https://x.test/1.jpg', 'A bag.'),
    (md5('2'), 2, 'Ring', 'jewelery', 5.50, 4.6, 400, 'https://x.test/2.jpg', 'A ring.');

insert into @s.dim_customers
select md5(customer_id::text || '-' || to_char(valid_from at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), *
from (values
    (1::bigint, 'Ada', 'Lovelace', 'Ada Lovelace', encode(sha256('ada@example.com'), 'hex'), 'a***@example.com',
     encode(sha256('+447700900123'), 'hex'), '***23', 'London',
     'United Kingdom', 'gold', timestamptz '2025-12-01 10:00+00', timestamptz '2025-12-01 10:00+00',
     timestamptz '2026-01-02 12:00+00', false, 1, 'europe'),
    (1, 'Ada', 'Lovelace', 'Ada Lovelace', encode(sha256('ada@example.com'), 'hex'), 'a***@example.com',
     encode(sha256('+447700900123'), 'hex'), '***23', 'Leeds',
     'United Kingdom', 'gold', '2025-12-01 10:00+00', '2026-01-02 12:00+00', '9999-12-31 00:00:00+00', true, 2, 'europe'),
    (2, 'Alan', 'Turing', 'Alan Turing', encode(sha256('alan@example.com'), 'hex'), 'a***@example.com',
     null, null, 'Manchester',
     'United Kingdom', 'bronze', '2026-01-01 08:00+00', '2026-01-01 08:00+00', '9999-12-31 00:00:00+00', true, 1, 'europe')
) v (customer_id, first_name, last_name, full_name, email_hash, email_masked, phone_hash, phone_masked, city, country, loyalty_segment,
    registered_at, valid_from, valid_to, is_current, version_number, region);

insert into @s.fact_orders
select md5(item::text), item, o, c,
    (select customer_key from @s.dim_customers d where d.customer_id = c and at >= d.valid_from and at < d.valid_to),
    md5(p::text), p, cast(to_char(at at time zone 'UTC', 'YYYYMMDD') as integer), at, q, price, q * price,
    status, 'paypal', status not in ('cancelled', 'returned'), at
from (values
    (1::bigint, 100::bigint, 1::bigint, 1, timestamptz '2026-01-02 09:00+00', 2, 10.00::numeric(10,2), 'delivered'),
    (2, 100, 1, 2, '2026-01-02 09:00+00', 1, 5.50, 'delivered'),
    (3, 101, 2, 1, '2026-01-03 15:00+00', 1, 10.00, 'cancelled'),
    (4, 102, 1, 2, '2026-01-03 16:00+00', 3, 5.50, 'paid')
) v (item, o, c, p, at, q, price, status);

insert into @s.fact_events
select e, 's-' || e, 'v-1', c, c is null, t,
    case t when 'page_view' then 1 when 'product_view' then 2 when 'add_to_cart' then 3 when 'checkout' then 4
    else 5 end,
    case when p is null then null else md5(p::text) end, p, o, 'mobile', 'google', at,
    cast(to_char(at at time zone 'UTC', 'YYYYMMDD') as integer), extract(hour from at at time zone 'UTC')
from (values
    ('e1', null::bigint, 'page_view', null::integer, null::bigint, timestamptz '2026-01-01 10:00+00'),
    ('e2', 1, 'product_view', 1, null, '2026-01-02 08:50+00'),
    ('e3', 1, 'add_to_cart', 1, null, '2026-01-02 08:55+00'),
    ('e4', 1, 'checkout', null, null, '2026-01-02 08:58+00'),
    ('e5', 1, 'purchase', 1, 100, '2026-01-02 09:00+00')
) v (e, c, t, p, o, at);

insert into @s.mart_customer_lifetime_value values
    (1, (select customer_key from @s.dim_customers where customer_id = 1 and is_current), 'Ada Lovelace',
     encode(sha256('ada@example.com'), 'hex'), 'a***@example.com', 'Leeds', 'United Kingdom', 'gold', '2025-12-01 10:00+00', '2026-01-02 09:00+00',
     '2026-01-03 16:00+00', 2, 42.00, 21.00, 'Low', 4, 1, 'europe'),
    (2, (select customer_key from @s.dim_customers where customer_id = 2), 'Alan Turing',
     encode(sha256('alan@example.com'), 'hex'), 'a***@example.com', 'Manchester', 'United Kingdom', 'bronze', '2026-01-01 08:00+00', null, null, 0, 0, null, 'Low', 4, 2, 'europe');

insert into @s.mart_order_frequency values
    ('0 orders', 1, 1, 0.5), ('1 order', 2, 0, 0), ('2-3 orders', 3, 1, 0.5), ('4-5 orders', 4, 0, 0),
    ('6-10 orders', 5, 0, 0), ('11+ orders', 6, 0, 0);

insert into @s.fact_order_totals
select order_id, min(customer_id), min(customer_key), min(order_date_key), min(ordered_at), min(order_status),
    min(payment_method), bool_and(is_revenue), count(*), sum(quantity), sum(line_revenue), max(order_updated_at),
    timestamptz '2026-01-04 02:00+00'
from @s.fact_orders group by order_id;

insert into @s.mart_daily_product_sales
select to_date(order_date_key::text, 'YYYYMMDD'), order_date_key, product_id,
    count(distinct order_id) filter (where is_revenue), coalesce(sum(quantity) filter (where is_revenue), 0),
    coalesce(sum(line_revenue) filter (where is_revenue), 0), max(ordered_at) filter (where is_revenue),
    timestamptz '2026-01-04 02:00+00'
from @s.fact_orders group by order_date_key, product_id;

insert into @s.mart_daily_category_sales
select to_date(f.order_date_key::text, 'YYYYMMDD'), f.order_date_key, p.category,
    count(distinct f.order_id) filter (where f.is_revenue), coalesce(sum(f.quantity) filter (where f.is_revenue), 0),
    coalesce(sum(f.line_revenue) filter (where f.is_revenue), 0), timestamptz '2026-01-04 02:00+00'
from @s.fact_orders f join @s.dim_products p on p.product_key = f.product_key
group by f.order_date_key, p.category;

insert into @s.mart_daily_sessions
select cast(started_at at time zone 'UTC' as date), cast(to_char(started_at at time zone 'UTC', 'YYYYMMDD') as integer),
    device_type, deepest_step, count(*), sum(events)
from (select session_id, device_type, min(event_at) as started_at, max(funnel_step) as deepest_step,
    count(*) as events from @s.fact_events group by session_id, device_type) s
group by 1, 2, 3, 4;

-- The median product sold 3 units in the 90 days: the Backpack's 2 are 66.67% of it (healthy).
insert into @s.mart_product_performance values
    (1, md5('1'), 'Backpack', 'men''s clothing', 109.95, 3.9, 120, 1, 2, 20.00, 10.00, '2026-01-02 09:00+00',
     1, 2, 20.00, 3.0, 0.6667, 'healthy', 3),
    (2, md5('2'), 'Ring', 'jewelery', 5.50, 4.6, 400, 2, 4, 22.00, 5.50, '2026-01-03 16:00+00', 0, 4, 22.00,
     3.0, 1.3333, 'healthy', 3);

insert into @s.mart_hourly_traffic
select h, coalesce(events, 0), coalesce(sessions, 0), coalesce(visitors, 0), coalesce(pv, 0), coalesce(prv, 0),
    coalesce(atc, 0), coalesce(co, 0), coalesce(pu, 0)
from generate_series(0, 23) as h
left join (
    select event_hour, count(*) as events, count(distinct session_id) as sessions,
        count(distinct visitor_id) as visitors,
        count(*) filter (where event_type = 'page_view') as pv,
        count(*) filter (where event_type = 'product_view') as prv,
        count(*) filter (where event_type = 'add_to_cart') as atc,
        count(*) filter (where event_type = 'checkout') as co,
        count(*) filter (where event_type = 'purchase') as pu
    from @s.fact_events group by event_hour
) e on e.event_hour = h;

insert into @s.mart_daily_revenue values
    ('2026-01-02', 20260102, 1, 3, 25.50, 1, 25.50),
    ('2026-01-03', 20260103, 1, 3, 16.50, 1, 16.50);

insert into @s.mart_monthly_revenue values ('2026-01-01', 2, 6, 42.00, 1, 21.00, null, null);

-- Customer 2's cancelled order on 01-03 still makes them active.
insert into @s.mart_daily_active_customers values ('2026-01-02', 20260102, 1), ('2026-01-03', 20260103, 2);

insert into @s.mart_value_segments values ('VIP', 1, 0, 0), ('High', 2, 0, 0), ('Medium', 3, 0, 0), ('Low', 4, 2, 42.00);

insert into @s.mart_lifetime_value_bands values
    ('under $100', 1, 0, 100, 1, 42.00), ('$100-249', 2, 100, 250, 0, 0), ('$250-499', 3, 250, 500, 0, 0),
    ('$500-999', 4, 500, 1000, 0, 0), ('$1,000-2,499', 5, 1000, 2500, 0, 0), ('$2,500-4,999', 6, 2500, 5000, 0, 0),
    ('$5,000+', 7, 5000, null, 0, 0);
"""


def _create_marts(dsn: str, schema: str) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"create schema {schema}")
        for mart in MARTS.values():
            columns = ", ".join(f"{name} {pg_type}" for name, pg_type in mart.columns)
            cur.execute(f"create table {schema}.{mart.table} ({columns})")
        cur.execute(MARTS_SQL.replace("@s", schema))
    conn.close()


def _execute(dsn: str, sql: str) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture
def marts_schema(stack) -> Iterator[str]:
    """A scratch schema holding all marts with small, mutually consistent data; dropped afterwards."""
    schema = f"test_marts_{uuid.uuid4().hex[:8]}"
    _create_marts(stack.warehouse_dsn, schema)
    try:
        yield schema
    finally:
        _execute(stack.warehouse_dsn, f"drop schema if exists {schema} cascade")


def test_consistent_marts_pass_every_suite(stack, marts_schema):
    outcomes = validate_marts(stack.warehouse_dsn, schema=marts_schema)
    assert [o.entity for o in outcomes] == [f"marts.{t}" for t in MARTS]
    failing = [o.summary() for o in outcomes if not o.success]
    assert not failing, "\n".join(failing)
    for outcome in outcomes:
        assert outcome.evaluated == len(build_mart_suite_spec(outcome.entity.split(".", 1)[1]).items)
    assert sum(o.evaluated for o in outcomes) >= 180


def test_broken_line_revenue_fails_with_offending_row(stack, marts_schema):
    _execute(stack.warehouse_dsn, f"update {marts_schema}.fact_orders set line_revenue = 99 where order_item_id = 1")
    outcomes = {
        o.entity: o
        for o in validate_marts(stack.warehouse_dsn, schema=marts_schema, tables=["fact_orders", "mart_daily_revenue"])
    }
    facts = outcomes["marts.fact_orders"]
    assert not facts.success
    assert [f.rule for f in facts.failed] == ["line_revenue = quantity * unit_price"]
    assert facts.failed[0].examples == [
        {"order_line_key": _md5("1"), "quantity": 2, "unit_price": 10.0, "line_revenue": 99.0}
    ]
    summary = facts.summary()
    assert "unexpected_rows_expectation on line_revenue" in summary
    assert "line_revenue=99.0" in summary
    # The daily mart no longer reconciles with the (broken) fact table.
    daily = outcomes["marts.mart_daily_revenue"]
    assert [f.column for f in daily.failed] == ["revenue"]
    assert daily.failed[0].examples[0]["date_day"] == "2026-01-02"


def test_wrong_slow_mover_status_and_unreconciled_daily_sales_fail(stack, marts_schema):
    _execute(
        stack.warehouse_dsn,
        f"update {marts_schema}.mart_product_performance set inventory_status = 'watch', status_sort = 2 "
        f"where product_id = 2; update {marts_schema}.mart_daily_category_sales set revenue = revenue + 1 "
        f"where category = 'jewelery' and date_key = 20260103",
    )
    tables = ["mart_product_performance", "mart_daily_category_sales", "mart_daily_product_sales"]
    outcomes = {o.entity: o for o in validate_marts(stack.warehouse_dsn, schema=marts_schema, tables=tables)}
    (status,) = outcomes["marts.mart_product_performance"].failed
    assert status.column == "inventory_status" and "median" in status.rule
    assert status.examples == [
        {"product_id": 2, "units_last_90d": 4, "median_units_last_90d": 3.0, "inventory_status": "watch"}
    ]
    (daily,) = outcomes["marts.mart_daily_category_sales"].failed
    assert daily.column == "revenue" and daily.examples[0]["category"] == "jewelery"
    assert outcomes["marts.mart_daily_product_sales"].success


def test_column_rules_report_key_and_value(stack, marts_schema):
    _execute(stack.warehouse_dsn, f"update {marts_schema}.dim_products set rating_rate = 7 where product_id = 2")
    (outcome,) = validate_marts(stack.warehouse_dsn, schema=marts_schema, tables=["dim_products"])
    (failure,) = outcome.failed
    assert (failure.expectation, failure.column, failure.family) == (
        "expect_column_values_to_be_between",
        "rating_rate",
        "range",
    )
    assert failure.examples == [{"product_key": _md5("2"), "rating_rate": 7.0}]


def test_missing_mart_table_is_a_clear_error(stack, marts_schema):
    _execute(stack.warehouse_dsn, f"drop table {marts_schema}.mart_hourly_traffic")
    with pytest.raises(MartsMissingError, match="mart_hourly_traffic"):
        validate_marts(stack.warehouse_dsn, schema=marts_schema)


def test_check_marts_records_and_raises(stack, marts_schema):
    batch_id = f"test-marts-{uuid.uuid4().hex[:8]}"
    _execute(
        stack.warehouse_dsn, f"update {marts_schema}.mart_order_frequency set bucket_sort = 9 where bucket_sort = 6"
    )
    try:
        with pytest.raises(QualityGateError) as caught:
            check_marts(stack.warehouse_dsn, batch_id, schema=marts_schema, tables=["mart_order_frequency", "dim_date"])
        assert caught.value.outcome.entity == "marts.mart_order_frequency"
        assert "bucket_sort" in str(caught.value)
        with psycopg2.connect(stack.warehouse_dsn) as conn, conn.cursor() as cur:
            cur.execute(
                f"select entity, success, failed, result -> 'statistics' ->> 'evaluated_expectations' "
                f"from {VALIDATION_RESULTS_TABLE} where batch_id = %s order by entity",
                (batch_id,),
            )
            rows = cur.fetchall()
        conn.close()
        assert [(r[0], r[1]) for r in rows] == [("marts.dim_date", True), ("marts.mart_order_frequency", False)]
        assert rows[1][2] >= 2  # bucket_sort out of range and not matching its bucket
        assert int(rows[0][3]) > 20
    finally:
        _execute(stack.warehouse_dsn, f"delete from {VALIDATION_RESULTS_TABLE} where batch_id = '{batch_id}'")


def test_record_validation_is_idempotent_and_data_docs_render(stack, marts_schema, tmp_path):
    batch_id = f"test-docs-{uuid.uuid4().hex[:8]}"
    outcomes = validate_marts(stack.warehouse_dsn, schema=marts_schema, tables=["dim_products", "fact_events"])
    try:
        with psycopg2.connect(stack.warehouse_dsn) as conn:
            for _ in range(2):
                for outcome in outcomes:
                    record_validation(conn, outcome, batch_id)
            with conn.cursor() as cur:
                cur.execute(f"select count(*) from {VALIDATION_RESULTS_TABLE} where batch_id = %s", (batch_id,))
                assert cur.fetchone()[0] == 2
            loaded = [
                o for o in load_outcomes(conn, limit=50) if o.entity in {"marts.dim_products", "marts.fact_events"}
            ]
        conn.close()
        assert {o.entity for o in loaded} >= {"marts.dim_products", "marts.fact_events"}

        project = tmp_path / "great_expectations"
        project.mkdir()
        shutil.copy(GX_PROJECT_DIR / "great_expectations.yml", project)
        index = build_data_docs(loaded, context_root_dir=project)
        assert index == project / "uncommitted" / "data_docs" / "local_site" / "index.html"
        html = index.read_text()
        assert "marts.dim_products" in html and "marts.fact_events" in html
        pages = list((index.parent / "validations").rglob("*.html"))
        assert len(pages) >= 2
        assert all(not p.is_relative_to(GX_PROJECT_DIR) for p in pages)
    finally:
        _execute(stack.warehouse_dsn, f"delete from {VALIDATION_RESULTS_TABLE} where batch_id = '{batch_id}'")


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


def test_stored_result_is_strict_json_without_credentials(stack, marts_schema):
    (outcome,) = validate_marts(stack.warehouse_dsn, schema=marts_schema, tables=["mart_monthly_revenue"])
    text = outcome.result_json().decode()
    json.loads(text)
    assert stack.pg_password not in text
    assert Path(GX_PROJECT_DIR / "great_expectations.yml").is_file()
