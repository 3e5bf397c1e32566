"""HTML dashboards: formatting, charts, insights, empty results, and rendering from real PostgreSQL.

The database tests build a small deterministic copy of the marts contract (MINI_MARTS_SQL) in a
database of their own, so they run without the pipeline; tests/test_dashboards_warehouse.py runs
the same cards on the marts dbt builds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from decimal import Decimal

import psycopg2
import pytest

from shopflow.dashboards.definitions import DEFAULT_ROOT, Card, Column, all_cards, load_dashboards
from shopflow.dashboards.formatting import format_value
from shopflow.dashboards.html import (
    NO_DATA,
    chart_figure,
    dashboard_page,
    index_page,
    plotly_js,
    render_dashboards,
    write_site,
)
from shopflow.dashboards.insights import Insight, compute_insights, peak_traffic_hour, slow_moving_share
from shopflow.dashboards.queries import CardQueryError, CardResult, run_cards
from shopflow.warehouse.ops import ensure_ops_schema

DASHBOARDS = load_dashboards()
CARDS = {c.key: c for c in all_cards(DASHBOARDS)}
GENERATED_AT = dt.datetime(2026, 4, 16, 6, 0, tzinfo=dt.UTC)

MINI_MARTS_SQL = """
create schema marts;

create table marts.dim_products as
select
    md5(p.product_id::text) as product_key,
    p.product_id,
    'Product number ' || p.product_id as title,
    (array['electronics', 'jewelery', 'men''s clothing', 'women''s clothing'])[1 + p.product_id % 4] as category,
    (9.99 + p.product_id * 7.5)::numeric(10, 2) as price,
    (2.0 + (p.product_id * 13 % 30) / 10.0)::numeric(3, 1) as rating_rate,
    (50 + p.product_id * 37 % 400)::int as rating_count,
    'https://example.invalid/' || p.product_id || '.jpg' as image_url,
    'Test product' as description
from generate_series(1, 20) as p (product_id);

create table marts.dim_customers as
with versions as (
    select
        c.customer_id::bigint as customer_id,
        v.version_number,
        timestamptz '2025-06-01 00:00+00' + c.customer_id * interval '1 day' as registered_at
    from generate_series(1, 60) as c (customer_id)
    cross join generate_series(1, 3) as v (version_number)
    where v.version_number = 1 or c.customer_id = 7 or (c.customer_id in (3, 11) and v.version_number = 2)
),
dated as (
    select
        v.*,
        case when v.version_number = 1 then v.registered_at
             else timestamptz '2025-10-01 00:00+00' + (v.version_number - 1) * interval '40 days' end as valid_from
    from versions as v
)
select
    md5(d.customer_id::text || d.valid_from::text) as customer_key,
    d.customer_id,
    'First' || d.customer_id as first_name,
    'Last' || d.customer_id as last_name,
    'First' || d.customer_id || ' Last' || d.customer_id as full_name,
    md5('c' || d.customer_id) || md5('c') as email_hash,
    'c***@example.invalid' as email_masked,
    md5('p' || d.customer_id) || md5('p') as phone_hash,
    '***' || right(d.customer_id::text, 2) as phone_masked,
    (array['Berlin', 'Paris', 'Austin', 'Lyon'])[1 + (d.customer_id + d.version_number) % 4] as city,
    (array['DE', 'FR', 'US', 'FR'])[1 + (d.customer_id + d.version_number) % 4] as country,
    (array['bronze', 'silver', 'gold', 'platinum'])[least(d.version_number + (d.customer_id % 2)::int, 4)] as loyalty_segment,
    d.registered_at,
    d.valid_from,
    coalesce(
        lead(d.valid_from) over (partition by d.customer_id order by d.version_number),
        timestamptz '9999-12-31 00:00:00+00'
    ) as valid_to,
    d.version_number = max(d.version_number) over (partition by d.customer_id) as is_current,
    d.version_number,
    case when (d.customer_id + d.version_number) % 4 = 2 then 'americas' else 'europe' end as region
from dated as d;

create table marts.fact_orders as
with orders as (
    select
        o.order_id::bigint as order_id,
        (1 + floor(50 * power(((o.order_id * 7919) % 1000) / 1000.0, 2.5)))::bigint as customer_id,
        timestamptz '2025-09-01 00:00+00' + ((o.order_id * 7919) % 227) * interval '1 day'
            + ((o.order_id * 37) % 24) * interval '1 hour' as ordered_at,
        case when o.order_id % 13 = 0 then 'cancelled' when o.order_id % 17 = 0 then 'returned'
             else 'delivered' end as order_status,
        (array['credit_card', 'debit_card', 'paypal', 'apple_pay', 'bank_transfer'])[1 + o.order_id % 5] as payment_method
    from generate_series(1, 500) as o (order_id)
),
lines as (
    select
        o.*,
        l.line_no,
        (1 + (o.order_id * 3 + l.line_no * 7) % 18)::int as product_id,
        (1 + (o.order_id + l.line_no) % 3)::int as quantity
    from orders as o
    cross join generate_series(1, 3) as l (line_no)
    where l.line_no <= 1 + o.order_id % 3
)
select
    md5(l.order_id::text || '-' || l.line_no) as order_line_key,
    (l.order_id * 10 + l.line_no)::bigint as order_item_id,
    l.order_id,
    l.customer_id,
    dc.customer_key,
    dp.product_key,
    l.product_id,
    to_char(l.ordered_at at time zone 'UTC', 'YYYYMMDD')::int as order_date_key,
    l.ordered_at,
    l.quantity,
    dp.price as unit_price,
    (l.quantity * dp.price)::numeric(12, 2) as line_revenue,
    l.order_status,
    l.payment_method,
    l.order_status not in ('cancelled', 'returned') as is_revenue,
    l.ordered_at + interval '2 days' as order_updated_at
from lines as l
inner join marts.dim_products as dp on l.product_id = dp.product_id
inner join marts.dim_customers as dc
    on l.customer_id = dc.customer_id and l.ordered_at >= dc.valid_from and l.ordered_at < dc.valid_to;

create table marts.fact_events as
with sessions as (
    select
        s.session_id,
        case when s.session_id % 3 = 0 then null else (1 + s.session_id % 60)::bigint end as customer_id,
        case when (s.session_id * 7) % 10 < 5 then 'desktop' when (s.session_id * 7) % 10 < 8 then 'mobile' else 'tablet' end as device_type,
        (array['direct', 'google', 'facebook', 'instagram', 'email', 'affiliate'])[1 + s.session_id % 6] as referrer,
        timestamptz '2025-09-01 00:00+00' + ((s.session_id * 13) % 227) * interval '1 day'
            + (case when s.session_id % 3 = 0 then 20 else (s.session_id * 7) % 24 end) * interval '1 hour' as started_at,
        1 + (s.session_id * 7) % 5 as depth
    from generate_series(1, 600) as s (session_id)
)
select
    md5(s.session_id::text || '-' || st.step) as event_id,
    's' || s.session_id as session_id,
    'v' || (s.session_id % 250) as visitor_id,
    s.customer_id,
    s.customer_id is null as is_anonymous,
    (array['page_view', 'product_view', 'add_to_cart', 'checkout', 'purchase'])[st.step] as event_type,
    st.step as funnel_step,
    case when st.step >= 2 then md5((1 + s.session_id % 20)::text) end as product_key,
    case when st.step >= 2 then 1 + s.session_id % 20 end as product_id,
    case when st.step = 5 then s.session_id::bigint end as order_id,
    s.device_type,
    s.referrer,
    s.started_at + st.step * interval '1 minute' as event_at,
    to_char(s.started_at at time zone 'UTC', 'YYYYMMDD')::int as event_date_key,
    extract(hour from (s.started_at + st.step * interval '1 minute') at time zone 'UTC')::int as event_hour
from sessions as s
cross join generate_series(1, 5) as st (step)
where st.step <= s.depth;

create table marts.dim_date as
select
    to_char(d.day, 'YYYYMMDD')::int as date_key,
    d.day::date as date_day,
    extract(year from d.day)::int as year,
    extract(quarter from d.day)::int as quarter,
    extract(month from d.day)::int as month,
    to_char(d.day, 'FMMonth') as month_name,
    date_trunc('month', d.day)::date as month_start,
    extract(week from d.day)::int as week_of_year,
    extract(day from d.day)::int as day_of_month,
    extract(isodow from d.day)::int as day_of_week,
    to_char(d.day, 'FMDay') as day_name,
    extract(isodow from d.day) in (6, 7) as is_weekend
from generate_series(timestamp '2025-06-01', timestamp '2026-05-31', interval '1 day') as d (day);

create table marts.fact_order_totals as
select
    fo.order_id,
    min(fo.customer_id) as customer_id,
    min(fo.customer_key) as customer_key,
    min(fo.order_date_key) as order_date_key,
    min(fo.ordered_at) as ordered_at,
    min(fo.order_status) as order_status,
    min(fo.payment_method) as payment_method,
    bool_and(fo.is_revenue) as is_revenue,
    count(*)::int as line_count,
    sum(fo.quantity)::int as units,
    sum(fo.line_revenue)::numeric(12, 2) as order_revenue,
    max(fo.order_updated_at) as order_updated_at,
    timestamptz '2026-04-16 05:00+00' as processed_at
from marts.fact_orders as fo
group by fo.order_id;

-- every day from the first to the last order date of any status, zeros included
create table marts.mart_daily_revenue as
with bounds as (
    select min(fo.ordered_at at time zone 'UTC')::date as first_day, max(fo.ordered_at at time zone 'UTC')::date as last_day
    from marts.fact_orders as fo
),
daily as (
    select
        (fo.ordered_at at time zone 'UTC')::date as date_day,
        count(distinct fo.order_id)::int as orders,
        sum(fo.quantity)::int as units,
        sum(fo.line_revenue)::numeric(12, 2) as revenue,
        count(distinct fo.customer_id)::int as customers
    from marts.fact_orders as fo
    where fo.is_revenue
    group by (fo.ordered_at at time zone 'UTC')::date
)
select
    d.day::date as date_day,
    to_char(d.day, 'YYYYMMDD')::int as date_key,
    coalesce(dl.orders, 0) as orders,
    coalesce(dl.units, 0) as units,
    coalesce(dl.revenue, 0)::numeric(12, 2) as revenue,
    coalesce(dl.customers, 0) as customers,
    round(dl.revenue / nullif(dl.orders, 0), 2)::numeric(12, 2) as avg_order_value
from bounds as b
cross join generate_series(b.first_day, b.last_day, interval '1 day') as d (day)
left join daily as dl on dl.date_day = d.day::date;

create table marts.mart_daily_product_sales as
select
    (fo.ordered_at at time zone 'UTC')::date as date_day,
    fo.order_date_key as date_key,
    fo.product_id,
    (count(distinct fo.order_id) filter (where fo.is_revenue))::int as orders,
    coalesce(sum(fo.quantity) filter (where fo.is_revenue), 0)::int as units,
    coalesce(sum(fo.line_revenue) filter (where fo.is_revenue), 0)::numeric(12, 2) as revenue,
    max(fo.ordered_at) filter (where fo.is_revenue) as last_sold_at,
    timestamptz '2026-04-16 05:00+00' as processed_at
from marts.fact_orders as fo
group by (fo.ordered_at at time zone 'UTC')::date, fo.order_date_key, fo.product_id;

create table marts.mart_daily_category_sales as
select
    (fo.ordered_at at time zone 'UTC')::date as date_day,
    fo.order_date_key as date_key,
    dp.category,
    (count(distinct fo.order_id) filter (where fo.is_revenue))::int as orders,
    coalesce(sum(fo.quantity) filter (where fo.is_revenue), 0)::int as units,
    coalesce(sum(fo.line_revenue) filter (where fo.is_revenue), 0)::numeric(12, 2) as revenue,
    timestamptz '2026-04-16 05:00+00' as processed_at
from marts.fact_orders as fo
inner join marts.dim_products as dp on fo.product_key = dp.product_key
group by (fo.ordered_at at time zone 'UTC')::date, fo.order_date_key, dp.category;

create table marts.mart_monthly_revenue as
with m as (
    select
        date_trunc('month', fo.ordered_at at time zone 'UTC')::date as month_start,
        count(distinct fo.order_id)::int as orders,
        sum(fo.quantity)::int as units,
        sum(fo.line_revenue)::numeric(12, 2) as revenue,
        count(distinct fo.customer_id)::int as customers,
        round(sum(fo.line_revenue) / count(distinct fo.order_id), 2)::numeric(12, 2) as avg_order_value
    from marts.fact_orders as fo
    where fo.is_revenue
    group by date_trunc('month', fo.ordered_at at time zone 'UTC')::date
)
select
    m.*,
    lag(m.revenue) over (order by m.month_start) as prev_month_revenue,
    round(100.0 * (m.revenue - lag(m.revenue) over (order by m.month_start))
        / nullif(lag(m.revenue) over (order by m.month_start), 0), 2)::numeric(8, 2) as mom_growth_pct
from m;

create table marts.mart_product_performance as
with latest as (
    select max(fo.ordered_at at time zone 'UTC')::date as last_day from marts.fact_orders as fo
),
sales as (
    select
        fo.product_id,
        count(distinct fo.order_id)::int as order_count,
        sum(fo.quantity)::int as units_sold,
        sum(fo.line_revenue)::numeric(12, 2) as revenue,
        max(fo.ordered_at) as last_sold_at,
        coalesce(sum(fo.quantity) filter (where (fo.ordered_at at time zone 'UTC')::date > l.last_day - 90), 0)::int
            as units_last_90d,
        coalesce(sum(fo.line_revenue) filter (where (fo.ordered_at at time zone 'UTC')::date > l.last_day - 90), 0)
            ::numeric(12, 2) as revenue_last_90d,
        (l.last_day - max(fo.ordered_at at time zone 'UTC')::date)::int as days_since_last_sale
    from marts.fact_orders as fo
    cross join latest as l
    where fo.is_revenue
    group by fo.product_id, l.last_day
),
joined as (
    select
        dp.product_id, dp.product_key, dp.title, dp.category, dp.price, dp.rating_rate, dp.rating_count,
        coalesce(s.order_count, 0) as order_count,
        coalesce(s.units_sold, 0) as units_sold,
        coalesce(s.revenue, 0)::numeric(12, 2) as revenue,
        round(s.revenue / nullif(s.units_sold, 0), 2)::numeric(12, 2) as avg_item_value,
        s.last_sold_at,
        s.days_since_last_sale,
        coalesce(s.units_last_90d, 0) as units_last_90d,
        coalesce(s.revenue_last_90d, 0)::numeric(12, 2) as revenue_last_90d
    from marts.dim_products as dp
    left join sales as s on dp.product_id = s.product_id
),
median as (
    select percentile_cont(0.5) within group (order by j.units_last_90d)::numeric as units from joined as j
)
select
    j.*,
    m.units::numeric(12, 1) as median_units_last_90d,
    round(j.units_last_90d / nullif(m.units, 0), 4)::numeric(8, 4) as share_of_median,
    case when j.units_last_90d = 0 or j.units_last_90d < 0.4 * m.units then 'slow-moving'
         when j.units_last_90d < 0.65 * m.units then 'watch' else 'healthy' end as inventory_status,
    case when j.units_last_90d = 0 or j.units_last_90d < 0.4 * m.units then 1
         when j.units_last_90d < 0.65 * m.units then 2 else 3 end as status_sort
from joined as j
cross join median as m;

create table marts.mart_customer_lifetime_value as
with per_customer as (
    select
        fo.customer_id,
        min(fo.ordered_at) as first_order_at,
        max(fo.ordered_at) as last_order_at,
        count(distinct fo.order_id)::int as order_count,
        coalesce(sum(fo.line_revenue) filter (where fo.is_revenue), 0)::numeric(12, 2) as lifetime_revenue,
        count(distinct fo.order_id) filter (where fo.is_revenue) as revenue_orders
    from marts.fact_orders as fo
    group by fo.customer_id
),
joined as (
    select
        dc.customer_id, dc.customer_key, dc.full_name, dc.email_hash, dc.email_masked, dc.city, dc.country, dc.loyalty_segment,
        dc.registered_at, pc.first_order_at, pc.last_order_at,
        coalesce(pc.order_count, 0) as order_count,
        coalesce(pc.lifetime_revenue, 0)::numeric(12, 2) as lifetime_revenue,
        round(pc.lifetime_revenue / nullif(pc.revenue_orders, 0), 2)::numeric(12, 2) as avg_order_value
    from marts.dim_customers as dc
    left join per_customer as pc on dc.customer_id = pc.customer_id
    where dc.is_current
)
select
    j.*,
    case when j.lifetime_revenue >= 5000 then 'VIP' when j.lifetime_revenue >= 1000 then 'High'
         when j.lifetime_revenue >= 500 then 'Medium' else 'Low' end as value_segment,
    case when j.lifetime_revenue >= 5000 then 1 when j.lifetime_revenue >= 1000 then 2
         when j.lifetime_revenue >= 500 then 3 else 4 end as value_segment_sort,
    rank() over (order by j.lifetime_revenue desc)::int as revenue_rank,
    case when j.country = 'US' then 'americas' else 'europe' end as region
from joined as j;

create table marts.mart_value_segments as
select s.value_segment, s.value_segment_sort, count(c.customer_id)::int as customers,
    coalesce(sum(c.lifetime_revenue), 0)::numeric(14, 2) as lifetime_revenue
from (values ('VIP', 1), ('High', 2), ('Medium', 3), ('Low', 4)) as s (value_segment, value_segment_sort)
left join marts.mart_customer_lifetime_value as c on c.value_segment = s.value_segment
group by s.value_segment, s.value_segment_sort;

create table marts.mart_lifetime_value_bands as
select b.value_band, b.band_sort, b.min_revenue::numeric(12, 2) as min_revenue,
    b.max_revenue::numeric(12, 2) as max_revenue, count(c.customer_id)::int as customers,
    coalesce(sum(c.lifetime_revenue), 0)::numeric(14, 2) as lifetime_revenue
from (values ('under $100', 1, 0, 100), ('$100-249', 2, 100, 250), ('$250-499', 3, 250, 500),
    ('$500-999', 4, 500, 1000), ('$1,000-2,499', 5, 1000, 2500), ('$2,500-4,999', 6, 2500, 5000),
    ('$5,000+', 7, 5000, null)) as b (value_band, band_sort, min_revenue, max_revenue)
left join marts.mart_customer_lifetime_value as c
    on c.order_count > 0 and c.lifetime_revenue >= b.min_revenue
    and (b.max_revenue is null or c.lifetime_revenue < b.max_revenue)
group by b.value_band, b.band_sort, b.min_revenue, b.max_revenue;

create table marts.mart_daily_active_customers as
select d.date_day, d.date_key, count(distinct fo.customer_id)::int as active_customers
from marts.mart_daily_revenue as d
left join marts.fact_orders as fo
    on (fo.ordered_at at time zone 'UTC')::date between d.date_day - 29 and d.date_day
group by d.date_day, d.date_key;

create table marts.mart_order_frequency as
with buckets as (
    select * from (values ('0 orders', 1, 0, 0), ('1 order', 2, 1, 1), ('2-3 orders', 3, 2, 3),
        ('4-5 orders', 4, 4, 5), ('6-10 orders', 5, 6, 10), ('11+ orders', 6, 11, 1000000))
        as b (frequency_bucket, bucket_sort, lo, hi)
)
select
    b.frequency_bucket,
    b.bucket_sort,
    count(c.customer_id)::int as customer_count,
    round(count(c.customer_id)::numeric / (select count(*) from marts.mart_customer_lifetime_value), 4)::numeric(5, 4)
        as share_of_customers
from buckets as b
left join marts.mart_customer_lifetime_value as c on c.order_count between b.lo and b.hi
group by b.frequency_bucket, b.bucket_sort;

create table marts.mart_hourly_traffic as
select
    h.event_hour,
    count(fe.event_id)::bigint as events,
    count(distinct fe.session_id)::bigint as sessions,
    count(distinct fe.visitor_id)::bigint as visitors,
    count(*) filter (where fe.event_type = 'page_view')::bigint as page_views,
    count(*) filter (where fe.event_type = 'product_view')::bigint as product_views,
    count(*) filter (where fe.event_type = 'add_to_cart')::bigint as add_to_carts,
    count(*) filter (where fe.event_type = 'checkout')::bigint as checkouts,
    count(*) filter (where fe.event_type = 'purchase')::bigint as purchases
from generate_series(0, 23) as h (event_hour)
left join marts.fact_events as fe on fe.event_hour = h.event_hour
group by h.event_hour;

create table marts.mart_daily_sessions as
with sessions as (
    select fe.session_id, fe.device_type, min(fe.event_at) as started_at, max(fe.funnel_step) as deepest_step,
        count(*) as events
    from marts.fact_events as fe
    group by fe.session_id, fe.device_type
)
select
    (s.started_at at time zone 'UTC')::date as date_day,
    to_char(s.started_at at time zone 'UTC', 'YYYYMMDD')::int as date_key,
    s.device_type,
    s.deepest_step,
    count(*)::int as sessions,
    sum(s.events)::int as events
from sessions as s
group by (s.started_at at time zone 'UTC')::date, to_char(s.started_at at time zone 'UTC', 'YYYYMMDD')::int,
    s.device_type, s.deepest_step;
"""


# --- helpers ---------------------------------------------------------------------------------------


def result(key: str, rows: list[tuple]) -> CardResult:
    card = CARDS[key]
    return CardResult(card=card, columns=card.column_names, rows=rows, elapsed_s=0.0)


def _sample_value(column: Column, i: int):
    if column.format == "date":
        return dt.date(2026, 1, 1) + dt.timedelta(days=31 * i)
    if column.format == "text":
        return f"{column.name}-{i}"
    if column.format == "percent":
        return Decimal("0.125") * (i + 1)
    return Decimal(100 * (i + 1))


def sample_result(card: Card, n: int = 3) -> CardResult:
    rows = [tuple(_sample_value(c, i) for c in card.columns) for i in range(n)]
    return CardResult(card=card, columns=card.column_names, rows=rows, elapsed_s=0.0)


def sample_results(n: int = 3) -> dict[str, CardResult]:
    results = {key: sample_result(card, n) for key, card in CARDS.items()}
    results["product_performance/slow_moving_inventory"] = result(
        "product_performance/slow_moving_inventory",
        [
            ("slow-moving", "Old lamp", Decimal("0.1"), 2, Decimal("50.00"), "electronics", None),
            (
                "watch",
                "Ring",
                Decimal("0.6"),
                12,
                Decimal("150.00"),
                "jewelery",
                dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            ),
            (
                "healthy",
                "Shirt",
                Decimal("1"),
                20,
                Decimal("800.00"),
                "men's clothing",
                dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
            ),
        ],
    )
    results["customer_analytics/value_segments"] = result(
        "customer_analytics/value_segments",
        [
            ("VIP", 1, Decimal(6000)),
            ("High", 4, Decimal(9000)),
            ("Medium", 5, Decimal(3000)),
            ("Low", 30, Decimal(900)),
        ],
    )
    results["traffic/hourly_activity"] = result(
        "traffic/hourly_activity", [(h, 100 if h in (9, 20) else 10, 5) for h in range(24)]
    )
    return results


def dom_text(page: str) -> str:
    """The page's visible text, roughly: tags removed, entities left as they are."""
    body = page.split("<body>", 1)[1].split('<pre id="js-errors"', 1)[0]
    return re.sub(r"<[^>]+>", " ", body)


# --- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "column", "expected"),
    [
        (Decimal("1234.5"), Column(name="r", label="R", format="currency", decimals=2), "$1,234.50"),
        (Decimal("1234.5"), Column(name="r", label="R", format="currency", decimals=0), "$1,234"),
        (Decimal("-99.999"), Column(name="r", label="R", format="currency"), "-$100.00"),
        (Decimal("0.1234"), Column(name="p", label="P", format="percent", decimals=1), "12.3%"),
        (-0.05, Column(name="p", label="P", format="percent", decimals=0), "-5%"),
        (1234567, Column(name="n", label="N", format="number", decimals=0), "1,234,567"),
        (Decimal("3.14159"), Column(name="n", label="N", format="number", decimals=1), "3.1"),
        (dt.date(2026, 3, 1), Column(name="d", label="D", format="date", date_unit="month"), "Mar 2026"),
        (
            dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            Column(name="d", label="D", format="date"),
            "2026-03-02",
        ),
        (None, Column(name="n", label="N", format="number"), "—"),
        (True, Column(name="t", label="T", format="text"), "yes"),
        ("men's clothing", Column(name="t", label="T", format="text"), "men's clothing"),
    ],
)
def test_format_value(value, column, expected):
    assert format_value(value, column) == expected


# --- charts ----------------------------------------------------------------------------------------


def test_line_chart_axes_are_labelled_and_formatted():
    figure = chart_figure(sample_result(CARDS["executive/revenue_trend_12m"]))
    layout = figure["layout"]
    assert layout["xaxis"]["title"]["text"] == "Month"
    assert layout["yaxis"]["title"]["text"] == "Revenue (USD)"
    assert layout["xaxis"]["type"] == "date" and layout["xaxis"]["tickformat"] == "%b %Y"
    assert layout["yaxis"]["tickformat"] == "$,.0f"
    (trace,) = figure["data"]
    assert trace["x"] == ["2026-01-01", "2026-02-01", "2026-03-04"]
    assert trace["y"] == [100, 200, 300]
    assert trace["line"]["color"] == "#509EE3"


def test_row_chart_is_horizontal_with_first_row_on_top():
    layout = chart_figure(sample_result(CARDS["product_performance/top_products_by_revenue"]))["layout"]
    assert layout["yaxis"]["autorange"] == "reversed"
    assert layout["yaxis"]["title"]["text"] == "Product"
    assert layout["xaxis"]["title"]["text"] == "Revenue (USD)"


def test_donut_keeps_segment_order_and_colours():
    figure = chart_figure(sample_results()["customer_analytics/value_segments"])
    (trace,) = figure["data"]
    assert trace["labels"] == ["VIP", "High", "Medium", "Low"]
    assert trace["sort"] is False and trace["hole"] > 0
    assert trace["marker"]["colors"] == ["#7172AD", "#509EE3", "#88BF4D", "#C7D0D9"]


def test_bubble_sizes_by_revenue_with_rating_count_in_tooltip():
    figure = chart_figure(sample_result(CARDS["product_performance/rating_vs_sales"]))
    (trace,) = figure["data"]
    assert trace["marker"]["size"] == [100.0, 200.0, 300.0]
    assert trace["marker"]["sizemode"] == "area"
    assert "Ratings: %{customdata[2]}" in trace["hovertemplate"]
    assert trace["customdata"][0] == ["$100", "category-0", "100"]


def test_hourly_axis_has_one_tick_per_hour():
    figure = chart_figure(sample_results()["traffic/hourly_activity"])
    assert figure["layout"]["xaxis"]["dtick"] == 1
    assert figure["layout"]["xaxis"]["range"] == [-0.5, 23.5]
    assert len(figure["data"]) == 2  # events and sessions


# --- insights --------------------------------------------------------------------------------------


def test_insights_are_computed_from_the_results():
    insights = {i.title: i.text for i in compute_insights(sample_results())}
    assert insights["Slow-moving products"] == (
        "Red: 1 of 3 products sold under 40% of the median product's units in the 90 days to the latest "
        "order date: Old lamp, with $50 of revenue in those days (5.0% of $1,000). "
        "Orange (under 65%): Ring, with $150 (15.0%)."
    )
    assert insights["Low-value customers"].startswith("75.0% of customers (30 of 40) are Low value")
    # 9 and 20 tie on events: the earliest hour wins, so the text is stable.
    assert insights["Peak traffic hour"].startswith("Traffic peaks at 09:00-09:59 UTC with 100 events")


def test_insights_say_no_data_instead_of_dividing_by_zero():
    assert "No data" in peak_traffic_hour(result("traffic/hourly_activity", [(h, 0, 0) for h in range(24)])).text
    no_revenue = slow_moving_share(
        result("product_performance/slow_moving_inventory", [("slow-moving", "A", None, 0, 0, "c", None)])
    )
    assert no_revenue.text.endswith("latest order date: A, with $0 of revenue in those days.")


def test_slow_movers_insight_names_every_flagged_product():
    slow = slow_moving_share(
        result(
            "product_performance/slow_moving_inventory",
            [
                ("slow-moving", "SSD", Decimal("0.25"), 30, Decimal("3000.00"), "electronics", None),
                ("slow-moving", "Ring", Decimal("0.3"), 36, Decimal("2000.00"), "jewelery", None),
                ("slow-moving", "Monitor", Decimal("0.33"), 40, Decimal("1000.00"), "electronics", None),
                ("healthy", "Bag", Decimal("1"), 120, Decimal("4000.00"), "men's clothing", None),
            ],
        )
    )
    assert slow.text.startswith("Red: 3 of 4 products sold under 40% of the median")
    assert slow.text.endswith(": SSD, Ring and Monitor, with $6,000 of revenue in those days (60.0% of $10,000).")
    assert "Orange" not in slow.text
    healthy = slow_moving_share(
        result(
            "product_performance/slow_moving_inventory",
            [("healthy", "Bag", Decimal("1"), 120, Decimal("4000.00"), "men's clothing", None)],
        )
    )
    assert healthy.text == (
        "None of the 1 products is slow-moving: each sold at least 65% of the median product's units in the "
        "90 days to the latest order date."
    )


# --- pages -----------------------------------------------------------------------------------------


def test_site_is_self_contained_and_formatted(tmp_path):
    index = write_site(DASHBOARDS, sample_results(), tmp_path, generated_at=GENERATED_AT)
    assert index == tmp_path / "index.html"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["index.html", *(f"{d.slug}.html" for d in DASHBOARDS)])
    for path in tmp_path.glob("*.html"):
        page = path.read_text().replace(plotly_js(), "")  # the bundle's own strings mention URLs
        assert "<script src" not in page and "<link" not in page, path.name
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), path.name
        assert 'id="js-errors"' in page
    executive = (tmp_path / "executive.html").read_text()
    assert "plotly.js v" in executive  # the bundle itself, inlined
    specs = json.loads(re.search(r'id="chart-specs">(.*?)</script>', executive, re.S).group(1))
    assert len(specs) == 3  # trend, category, daily orders; the five scalars are HTML
    assert "$300" in dom_text(executive)  # a scalar shows its last row
    index_text = dom_text(index.read_text())
    assert 'href="executive.html"' in index.read_text()
    assert "75.0% of customers" in index_text


def test_script_in_a_value_is_escaped_not_run():
    """Definitions and warehouse values are text: a `<script>` in any of them is shown, never run."""
    attack = "<script>alert('x')</script>"
    dashboard = next(d for d in DASHBOARDS if d.slug == "customer_analytics")
    top = dashboard.layout[0].card.model_copy(update={"title": f"Top {attack}", "description": attack})
    items = [item.model_copy(update={"card": top}) if i == 0 else item for i, item in enumerate(dashboard.layout)]
    dashboard = dashboard.model_copy(update={"title": attack, "description": attack, "layout": tuple(items)})
    results = sample_results()
    for key, res in list(results.items()):
        if key.startswith("customer_analytics/"):
            # every text cell of every card (table cells, chart labels and categories) carries the attack
            rows = [tuple(attack if isinstance(v, str) else v for v in row) for row in res.rows]
            results[key] = CardResult(
                card=top if key == top.key else res.card, columns=res.columns, rows=rows, elapsed_s=0
            )
    insights = [Insight("customer_analytics", attack, attack)]
    page = dashboard_page(dashboard, results, [dashboard], insights, data_through=None, generated_at=GENERATED_AT)
    page = page.replace(plotly_js(), "")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # in the title, cards, table and insight
    # Only the page's own four scripts: the error hook, Plotly, the chart specs and the drawing code.
    assert page.count("<script") == 4 and page.count("</script>") == 4
    specs = json.loads(re.search(r'id="chart-specs">(.*?)</script>', page, re.S).group(1))
    assert attack in json.dumps(specs)  # chart labels keep the text; the JSON escapes "</" in the page
    index = index_page([dashboard], insights, data_through=None, generated_at=GENERATED_AT)
    assert "<script>alert" not in index and index.count("<script") == 1


def test_empty_results_show_no_data_not_blank_charts(tmp_path):
    empty = {key: CardResult(card, card.column_names, [], 0.0) for key, card in CARDS.items()}
    # Rows whose measures are all zero cannot be drawn as a pie or funnel either.
    empty["customer_analytics/value_segments"] = result(
        "customer_analytics/value_segments", [(s, 0, Decimal(0)) for s in ("VIP", "High", "Medium", "Low")]
    )
    write_site(DASHBOARDS, empty, tmp_path, generated_at=GENERATED_AT)
    for dashboard in DASHBOARDS:
        page = (tmp_path / f"{dashboard.slug}.html").read_text()
        assert page.count(f'<div class="no-data">{NO_DATA}</div>') == len(dashboard.layout), dashboard.slug
        assert 'id="chart-specs">[]</script>' in page
    assert "No data" in (tmp_path / "index.html").read_text()


# --- against PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_warehouse(isolated_settings):
    """A warehouse database holding a small deterministic copy of the marts."""
    settings = isolated_settings("dash_render")
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(MINI_MARTS_SQL)
            ensure_ops_schema(conn)
            cur.execute(MINI_OPS_SQL)
    finally:
        conn.close()
    return settings


def _scalar(dsn: str, sql: str):
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


# The gate's record: two days of the five raw suites; orders of 04-15 rejected once, then still in
# quarantine; order items of 04-14 rejected, then fixed and loaded.
MINI_OPS_SQL = """
insert into ops.validation_results
    (entity, dt, batch_id, suite, success, evaluated, failed, summary, failures, result, validated_at)
select e, d, e || '/' || d || '/ok', 'raw.' || e, true, 30, 0, 'ok', '[]', '{}', d + time '01:00'
from unnest(array['fakestore.products', 'shop.customers', 'shop.orders', 'shop.order_items',
                  'clickstream.events']) as e
cross join (values (date '2026-04-14'), (date '2026-04-15')) as days (d)
where not (e = 'shop.orders' and d = date '2026-04-15');
insert into ops.validation_results
    (entity, dt, batch_id, suite, success, evaluated, failed, summary, failures, result, validated_at)
values ('shop.orders', '2026-04-15', 'shop.orders/2026-04-15/bad', 'raw.shop.orders', false, 35, 1, 's',
        '[{"expectation": "expect_column_values_to_be_in_set", "family": "allowed_values", "column": "status",
           "rule": "values in {...}", "observed": "1 of 10 rows unexpected (e.g. ''lost'')",
           "unexpected_count": 1, "examples": [{"line": 4, "order_id": 3, "status": "lost"}],
           "exception": null}]',
        '{}', '2026-04-16 01:00+00');
insert into ops.load_ledger
    (batch_id, entity, dt, status, row_count, sha256, lake_key, expectations_evaluated, expectations_failed,
     message, started_at, finished_at)
values
    ('shop.orders/2026-04-15/bad', 'shop.orders', '2026-04-15', 'rejected', 10, 'x', 'k', 35, 1,
     e'raw/shop/orders/dt=2026-04-15: 1 of 35 expectations failed\n  [allowed_values] status lost',
     '2026-04-16 01:00+00', '2026-04-16 01:00+00'),
    ('shop.order_items/2026-04-14/bad', 'shop.order_items', '2026-04-14', 'rejected', 5, 'x', 'k', 37, 1,
     'm', '2026-04-15 01:00+00', '2026-04-15 01:00+00'),
    ('shop.order_items/2026-04-14/ok', 'shop.order_items', '2026-04-14', 'loaded', 5, 'y', 'k', 37, 0,
     null, '2026-04-15 02:00+00', '2026-04-15 02:00+00');
"""


def test_data_quality_page_shows_pass_rates_failures_and_quarantine(mini_warehouse, tmp_path):
    render_dashboards(mini_warehouse.warehouse_dsn, tmp_path / "site")
    page = dom_text((tmp_path / "site" / "data_quality.html").read_text())
    assert "Data Quality" in page
    assert (
        "expect_column_values_to_be_in_set" in page and "line=4, status=lost, order_id=3" in page
    )  # jsonb orders keys by length
    assert "shop.orders" in page and "[allowed_values] status lost" in page
    results = run_cards(mini_warehouse.warehouse_dsn, [CARDS[k] for k in CARDS if k.startswith("data_quality/")])
    assert results["data_quality/partitions_validated"].rows == [(10,)]
    assert results["data_quality/quarantined_now"].rows == [(1,)]  # order items were fixed since
    by_day = {row[0].isoformat(): row[1:] for row in results["data_quality/pass_rate_by_suite"].rows}
    assert [float(v) for v in by_day["2026-04-15"]] == [1.0, 1.0, 0.0, 1.0, 1.0]


def test_render_dashboards_from_the_warehouse(mini_warehouse, tmp_path):
    index = render_dashboards(mini_warehouse.warehouse_dsn, tmp_path / "site")
    assert index.exists()
    executive = dom_text((tmp_path / "site" / "executive.html").read_text())
    revenue = _scalar(mini_warehouse.warehouse_dsn, "select sum(line_revenue) from marts.fact_orders where is_revenue")
    assert f"${revenue:,.0f}" in executive
    assert "Data through 2026-04-15" in executive
    traffic = dom_text((tmp_path / "site" / "traffic.html").read_text())
    assert "Traffic peaks at 20:00-20:59 UTC" in traffic
    product = (tmp_path / "site" / "product_performance.html").read_text()
    assert 'style="background:#ED6E6E">slow-moving' in product


def test_every_card_runs_read_only_with_declared_columns(mini_warehouse):
    results = run_cards(mini_warehouse.warehouse_dsn, CARDS.values())
    assert set(results) == set(CARDS)
    assert len(results["traffic/hourly_activity"].rows) == 24
    assert results["customer_analytics/value_segments"].column_values("value_segment") == [
        "VIP",
        "High",
        "Medium",
        "Low",
    ]
    history = results["traffic/customer_segment_history"].records()
    assert [r["version_number"] for r in history] == [1, 2, 3]
    assert {r["customer_id"] for r in history} == {7}
    funnel = results["traffic/funnel_conversion"].column_values("sessions")
    assert funnel == sorted(funnel, reverse=True)


def test_column_drift_is_reported_with_both_lists(mini_warehouse, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    yml = root / "cards" / "executive" / "total_orders.yml"
    yml.write_text(
        yml.read_text()
        .replace("name: total_orders", "name: order_total")
        .replace("value: total_orders", "value: order_total")
    )
    with pytest.raises(CardQueryError) as info:
        render_dashboards(mini_warehouse.warehouse_dsn, tmp_path / "site", root)
    message = str(info.value)
    assert "executive/total_orders" in message
    assert "['total_orders']" in message and "['order_total']" in message
    assert not (tmp_path / "site").exists()


def test_broken_card_sql_names_the_card(mini_warehouse, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    sql = root / "cards" / "traffic" / "device_types.sql"
    sql.write_text(sql.read_text().replace("marts.mart_daily_sessions", "marts.mart_daily_sessionz"))
    with pytest.raises(CardQueryError, match=r"traffic/device_types .*mart_daily_sessionz"):
        render_dashboards(mini_warehouse.warehouse_dsn, tmp_path / "site", root)


def test_empty_marts_render_no_data(isolated_settings, tmp_path):
    settings = isolated_settings("dash_empty")
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(MINI_MARTS_SQL)
            cur.execute(
                "truncate marts.fact_orders, marts.fact_order_totals, marts.fact_events, marts.dim_customers, "
                "marts.dim_products, marts.mart_daily_revenue, marts.mart_monthly_revenue, "
                "marts.mart_product_performance, marts.mart_customer_lifetime_value, marts.mart_hourly_traffic, "
                "marts.mart_daily_product_sales, marts.mart_daily_category_sales, marts.mart_daily_sessions, "
                "marts.mart_daily_active_customers, marts.mart_value_segments, marts.mart_lifetime_value_bands"
            )
            ensure_ops_schema(conn)  # the loader creates it with the raw schema; nothing validated yet
    finally:
        conn.close()
    render_dashboards(settings.warehouse_dsn, tmp_path)
    quality = (tmp_path / "data_quality.html").read_text()
    assert '<div class="scalar-value">0</div>' in quality and NO_DATA in quality
    executive = (tmp_path / "executive.html").read_text()
    # Counts and sums of nothing are a real 0 (total revenue, orders, active customers); an average,
    # last month and the three charts have nothing to show.
    assert executive.count(NO_DATA + "</div>") == 5
    assert '<div class="scalar-value">$0</div>' in executive
    assert '<div class="scalar-value">0</div>' in executive
