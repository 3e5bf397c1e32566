"""Expectation suites for the dbt marts the dashboards read (docs/marts contract), validated in PostgreSQL.

Column-level families use GX's built-in expectations; rules that relate columns, rows or tables
(revenue reconciles with fact_orders, SCD2 windows are contiguous, ...) are `UnexpectedRowsExpectation`
queries that return the offending rows. `{batch}` is the mart itself; `@schema` is replaced by the
schema the marts live in, so the suites also run against a scratch schema in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shopflow.contracts import (
    DEVICE_TYPES,
    EVENT_TYPES,
    LOYALTY_SEGMENTS,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    PRODUCT_CATEGORIES,
    REFERRERS,
)
from shopflow.mart_rules import (
    ACTIVE_CUSTOMER_WINDOW_DAYS,
    SLOW_MOVER_ORANGE_SHARE,
    SLOW_MOVER_RED_SHARE,
    SLOW_MOVER_WINDOW_DAYS,
    VALUE_SEGMENT_MIN,
)
from shopflow.quality.suites import (
    ALLOWED_VALUES,
    COMPLETENESS,
    CONSISTENCY,
    QUANTITY_BOUNDS,
    RANGE,
    RATING_BOUNDS,
    REFERENTIAL,
    SCHEMA,
    UNIQUENESS,
    VOLUME,
    SuiteSpec,
)
from shopflow.regions import OTHER_REGION, REGIONS
from shopflow.warehouse.pii_scan import MASKED_EMAIL, MASKED_PHONE, SHA256_HEX

MARTS_SCHEMA = "marts"
MD5_REGEX = r"^[0-9a-f]{32}$"
OPEN_VALID_TO = "9999-12-31 00:00:00+00"
FREQUENCY_BUCKETS = ("0 orders", "1 order", "2-3 orders", "4-5 orders", "6-10 orders", "11+ orders")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Type names as GX reports them for PostgreSQL columns.
_GX_TYPES = {
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "text": "TEXT",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
}


def gx_type_name(pg_type: str) -> str:
    """The type name GX observes for a PostgreSQL column type (numeric(p,s) -> NUMERIC(p, s))."""
    if pg_type.startswith("numeric("):
        precision, scale = pg_type[len("numeric(") : -1].split(",")
        return f"NUMERIC({precision.strip()}, {scale.strip()})"
    try:
        return _GX_TYPES[pg_type]
    except KeyError:
        raise ValueError(f"no GX type name for PostgreSQL type {pg_type!r}") from None


@dataclass(frozen=True)
class MartSpec:
    """One mart table: its contract columns and key, and the builder of its specific rules."""

    table: str
    columns: tuple[tuple[str, str], ...]  # (name, pg type) in contract order
    key: str  # the column failure examples are reported by; the primary key unless `unique` is given
    not_null: tuple[str, ...]
    rules: Callable[[SuiteSpec, str], None]
    unique: tuple[str, ...] = ()  # a compound primary key, when the table has one

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _sql(spec: SuiteSpec, column: str | None, description: str, query: str, schema: str, family: str) -> None:
    spec.add(
        "UnexpectedRowsExpectation",
        family,
        column,
        description=description,
        unexpected_rows_query=" ".join(query.replace("@schema", schema).split()),
    )


def _between(spec: SuiteSpec, column: str, low: float | None = None, high: float | None = None, **kw) -> None:
    spec.add("ExpectColumnValuesToBeBetween", RANGE, column, column=column, min_value=low, max_value=high, **kw)


def _in_set(spec: SuiteSpec, column: str, values: tuple | list) -> None:
    spec.add("ExpectColumnValuesToBeInSet", ALLOWED_VALUES, column, column=column, value_set=list(values))


def _md5_key(spec: SuiteSpec, column: str) -> None:
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, column, column=column, regex=MD5_REGEX)


# --- rules per mart ------------------------------------------------------------------------------
def _dim_date(spec: SuiteSpec, schema: str) -> None:
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "date_day", column="date_day")
    _between(spec, "quarter", 1, 4)
    _between(spec, "month", 1, 12)
    _between(spec, "week_of_year", 1, 53)
    _between(spec, "day_of_month", 1, 31)
    _between(spec, "day_of_week", 1, 7)
    _in_set(spec, "month_name", MONTH_NAMES)
    _in_set(spec, "day_name", DAY_NAMES)
    _sql(
        spec,
        "date_key",
        "calendar attributes derive from date_day (UTC, ISO weeks, ISO weekday)",
        """select * from {batch} where date_key <> cast(to_char(date_day, 'YYYYMMDD') as integer)
        or year <> extract(year from date_day) or quarter <> extract(quarter from date_day)
        or month <> extract(month from date_day) or day_of_month <> extract(day from date_day)
        or day_of_week <> extract(isodow from date_day) or week_of_year <> extract(week from date_day)
        or month_start <> cast(date_trunc('month', date_day) as date)
        or is_weekend <> (extract(isodow from date_day) in (6, 7))
        or month_name <> trim(to_char(date_day, 'FMMonth')) or day_name <> trim(to_char(date_day, 'FMDay'))""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "date_day",
        "no day is missing between the first and the last date",
        """select d.day from (select b.first_day + n as day from (select min(date_day) as first_day,
        max(date_day) as last_day from {batch}) b cross join lateral generate_series(0, b.last_day - b.first_day)
        as n) d left join {batch} x on x.date_day = d.day where x.date_day is null""",
        schema,
        VOLUME,
    )


def _dim_products(spec: SuiteSpec, schema: str) -> None:
    _md5_key(spec, "product_key")
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "product_id", column="product_id")
    spec.add("ExpectTableRowCountToBeBetween", VOLUME, min_value=1)
    _between(spec, "price", 0, strict_min=True)
    _between(spec, "rating_rate", *RATING_BOUNDS)
    _between(spec, "rating_count", 0)
    _in_set(spec, "category", PRODUCT_CATEGORIES)
    _sql(
        spec,
        "product_key",
        "product_key is md5 of product_id",
        "select product_key, product_id from {batch} where product_key <> md5(cast(product_id as text))",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "title",
        "titles are trimmed",
        "select product_id, title from {batch} where title <> btrim(title)",
        schema,
        CONSISTENCY,
    )


def _dim_customers(spec: SuiteSpec, schema: str) -> None:
    _md5_key(spec, "customer_key")
    spec.add(
        "ExpectCompoundColumnsToBeUnique", UNIQUENESS, "customer_id", column_list=["customer_id", "version_number"]
    )
    spec.add("ExpectCompoundColumnsToBeUnique", UNIQUENESS, "customer_id", column_list=["customer_id", "valid_from"])
    # Contact data reaches the marts only hashed and masked (docs/governance.md).
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "email_hash", column="email_hash", regex=SHA256_HEX)
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "phone_hash", column="phone_hash", regex=SHA256_HEX)
    spec.add(
        "ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "email_masked", column="email_masked", regex=MASKED_EMAIL
    )
    spec.add(
        "ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "phone_masked", column="phone_masked", regex=MASKED_PHONE
    )
    _in_set(spec, "loyalty_segment", LOYALTY_SEGMENTS)
    _in_set(spec, "region", (*REGIONS, OTHER_REGION))
    _between(spec, "version_number", 1)
    spec.add(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        CONSISTENCY,
        "valid_to",
        column_A="valid_to",
        column_B="valid_from",
        or_equal=False,
    )
    _sql(
        spec,
        "is_current",
        "every customer has exactly one current version",
        """select customer_id, count(*) filter (where is_current) as current_versions from {batch}
        group by customer_id having count(*) filter (where is_current) <> 1""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "is_current",
        f"is_current is true exactly when valid_to is the open end {OPEN_VALID_TO}",
        f"""select customer_key, customer_id, valid_to, is_current from {{batch}}
        where is_current <> (valid_to = timestamptz '{OPEN_VALID_TO}')""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "valid_to",
        "versions are contiguous: each valid_to is the next version's valid_from, numbered 1, 2, ...",
        """select customer_key, customer_id, version_number, valid_from, valid_to from (
        select *, lead(valid_from) over w as next_from, row_number() over w as expected_version
        from {batch} window w as (partition by customer_id order by valid_from)) v
        where (next_from is not null and valid_to <> next_from) or version_number <> expected_version""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "customer_key",
        "customer_key is md5 of customer_id and valid_from (UTC text)",
        """select customer_key, customer_id, valid_from from {batch} where customer_key <> md5(
        cast(customer_id as text) || '-' ||
        to_char(valid_from at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))""",
        schema,
        CONSISTENCY,
    )


def _fact_orders(spec: SuiteSpec, schema: str) -> None:
    _md5_key(spec, "order_line_key")
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "order_item_id", column="order_item_id")
    _between(spec, "quantity", *QUANTITY_BOUNDS)
    _between(spec, "unit_price", 0, strict_min=True)
    _in_set(spec, "order_status", ORDER_STATUSES)
    _in_set(spec, "payment_method", PAYMENT_METHODS)
    _sql(
        spec,
        "line_revenue",
        "line_revenue = quantity * unit_price",
        """select order_line_key, quantity, unit_price, line_revenue from {batch}
        where line_revenue <> quantity * unit_price""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "is_revenue",
        "is_revenue is true exactly when the status is not cancelled or returned",
        """select order_line_key, order_status, is_revenue from {batch}
        where is_revenue <> (order_status not in ('cancelled', 'returned'))""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "order_date_key",
        "order_date_key is the UTC date of ordered_at",
        """select order_line_key, ordered_at, order_date_key from {batch} where order_date_key <>
        cast(to_char(ordered_at at time zone 'UTC', 'YYYYMMDD') as integer)""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "customer_key",
        "customer_key is the same customer's dim_customers version valid at ordered_at",
        """select f.order_line_key, f.customer_id, f.customer_key, f.ordered_at from {batch} f
        left join @schema.dim_customers c on c.customer_key = f.customer_key
        where c.customer_key is null or c.customer_id <> f.customer_id
        or not (f.ordered_at >= c.valid_from and f.ordered_at < c.valid_to)""",
        schema,
        REFERENTIAL,
    )
    _sql(
        spec,
        "product_key",
        "product_key exists in dim_products with the same product_id",
        """select f.order_line_key, f.product_id, f.product_key from {batch} f
        left join @schema.dim_products p on p.product_key = f.product_key
        where p.product_key is null or p.product_id <> f.product_id""",
        schema,
        REFERENTIAL,
    )
    _sql(
        spec,
        "order_date_key",
        "order_date_key exists in dim_date",
        """select f.order_line_key, f.order_date_key from {batch} f
        left join @schema.dim_date d on d.date_key = f.order_date_key where d.date_key is null""",
        schema,
        REFERENTIAL,
    )


def _fact_events(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "event_type", EVENT_TYPES)
    _in_set(spec, "device_type", DEVICE_TYPES)
    _in_set(spec, "referrer", REFERRERS)
    _between(spec, "funnel_step", 1, 5)
    _between(spec, "event_hour", 0, 23)
    steps = " ".join(f"when '{name}' then {i}" for i, name in enumerate(EVENT_TYPES, start=1))
    _sql(
        spec,
        "funnel_step",
        "funnel_step is the position of event_type in the funnel (page_view 1 .. purchase 5)",
        f"select event_id, event_type, funnel_step from {{batch}} where funnel_step <> case event_type {steps} end",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "is_anonymous",
        "is_anonymous is true exactly when customer_id is null",
        "select event_id, customer_id, is_anonymous from {batch} where is_anonymous <> (customer_id is null)",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "event_hour",
        "event_date_key and event_hour are the UTC date and hour of event_at",
        """select event_id, event_at, event_date_key, event_hour from {batch}
        where event_date_key <> cast(to_char(event_at at time zone 'UTC', 'YYYYMMDD') as integer)
        or event_hour <> extract(hour from event_at at time zone 'UTC')""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "order_id",
        "purchase events, and only they, carry an order_id",
        """select event_id, event_type, order_id from {batch}
        where (event_type = 'purchase') <> (order_id is not null)""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "product_key",
        "product_key exists in dim_products with the same product_id (when the event has a product)",
        """select e.event_id, e.product_id, e.product_key from {batch} e
        left join @schema.dim_products p on p.product_key = e.product_key
        where (e.product_key is null) <> (e.product_id is null)
        or (e.product_key is not null and (p.product_key is null or p.product_id <> e.product_id))""",
        schema,
        REFERENTIAL,
    )
    _sql(
        spec,
        "event_date_key",
        "event_date_key exists in dim_date",
        """select e.event_id, e.event_date_key from {batch} e
        left join @schema.dim_date d on d.date_key = e.event_date_key where d.date_key is null""",
        schema,
        REFERENTIAL,
    )


def _mart_customer_lifetime_value(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "value_segment", (*VALUE_SEGMENT_MIN, "Low"))
    _between(spec, "value_segment_sort", 1, 4)
    _in_set(spec, "loyalty_segment", LOYALTY_SEGMENTS)
    _between(spec, "order_count", 0)
    _between(spec, "lifetime_revenue", 0)
    _between(spec, "revenue_rank", 1)
    vip, high, medium = VALUE_SEGMENT_MIN["VIP"], VALUE_SEGMENT_MIN["High"], VALUE_SEGMENT_MIN["Medium"]
    _sql(
        spec,
        "value_segment",
        f"value_segment follows lifetime_revenue (VIP >= {vip}, High >= {high}, Medium >= {medium}, else Low) "
        "and value_segment_sort follows value_segment",
        f"""select customer_id, lifetime_revenue, value_segment, value_segment_sort from {{batch}}
        where value_segment <> case when lifetime_revenue >= {vip} then 'VIP' when lifetime_revenue >= {high}
        then 'High' when lifetime_revenue >= {medium} then 'Medium' else 'Low' end
        or value_segment_sort <> case value_segment when 'VIP' then 1 when 'High' then 2
        when 'Medium' then 3 else 4 end""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "order_count",
        "customers without orders have no order dates, no average and zero revenue; others have "
        "first_order_at <= last_order_at",
        """select customer_id, order_count, first_order_at, last_order_at, lifetime_revenue, avg_order_value
        from {batch} where (order_count = 0) <> (first_order_at is null)
        or (order_count = 0) <> (avg_order_value is null) or (order_count = 0 and lifetime_revenue <> 0)
        or first_order_at > last_order_at""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "revenue_rank",
        "revenue_rank is rank() by lifetime_revenue, highest first",
        """select customer_id, lifetime_revenue, revenue_rank from (select customer_id, lifetime_revenue,
        revenue_rank, rank() over (order by lifetime_revenue desc) as expected from {batch}) r
        where revenue_rank <> expected""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "customer_key",
        "customer_key is the customer's current dim_customers version",
        """select m.customer_id, m.customer_key from {batch} m
        left join @schema.dim_customers c on c.customer_key = m.customer_key
        where c.customer_key is null or not c.is_current or c.customer_id <> m.customer_id""",
        schema,
        REFERENTIAL,
    )
    _sql(
        spec,
        "customer_id",
        "every customer of dim_customers has a row, including those who never ordered",
        """select c.customer_id from @schema.dim_customers c left join {batch} m on m.customer_id = c.customer_id
        where c.is_current and m.customer_id is null""",
        schema,
        VOLUME,
    )


def _mart_order_frequency(spec: SuiteSpec, schema: str) -> None:
    spec.add("ExpectTableRowCountToEqual", VOLUME, value=len(FREQUENCY_BUCKETS))
    spec.add(
        "ExpectColumnDistinctValuesToEqualSet",
        ALLOWED_VALUES,
        "frequency_bucket",
        column="frequency_bucket",
        value_set=list(FREQUENCY_BUCKETS),
    )
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "bucket_sort", column="bucket_sort")
    _between(spec, "bucket_sort", 1, len(FREQUENCY_BUCKETS))
    _between(spec, "customer_count", 0)
    _between(spec, "share_of_customers", 0, 1)
    sorts = " ".join(f"when '{b}' then {i}" for i, b in enumerate(FREQUENCY_BUCKETS, start=1))
    _sql(
        spec,
        "bucket_sort",
        "bucket_sort follows frequency_bucket ('0 orders' 1 .. '11+ orders' 6)",
        f"select * from {{batch}} where bucket_sort <> case frequency_bucket {sorts} end",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "share_of_customers",
        "shares add up to 1 (within rounding) when there are customers",
        """select sum(share_of_customers) as total_share, sum(customer_count) as customers from {batch}
        having sum(customer_count) > 0 and abs(sum(share_of_customers) - 1) > 0.0006""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "customer_count",
        "customer counts add up to the customers of mart_customer_lifetime_value",
        """select f.total, c.customers from (select sum(customer_count) as total from {batch}) f
        cross join (select count(*) as customers from @schema.mart_customer_lifetime_value) c
        where f.total <> c.customers""",
        schema,
        CONSISTENCY,
    )


def _mart_product_performance(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "inventory_status", ("healthy", "watch", "slow-moving"))
    _between(spec, "status_sort", 1, 3)
    _in_set(spec, "category", PRODUCT_CATEGORIES)
    for column in (
        "order_count",
        "units_sold",
        "revenue",
        "units_last_90d",
        "revenue_last_90d",
        "median_units_last_90d",
        "share_of_median",
        "days_since_last_sale",
    ):
        _between(spec, column, 0)
    _sql(
        spec,
        "status_sort",
        "status_sort follows inventory_status (slow-moving 1, watch 2, healthy 3)",
        """select product_id, inventory_status, status_sort from {batch} where status_sort <>
        case inventory_status when 'slow-moving' then 1 when 'watch' then 2 else 3 end""",
        schema,
        CONSISTENCY,
    )
    red, orange = SLOW_MOVER_RED_SHARE, SLOW_MOVER_ORANGE_SHARE
    _sql(
        spec,
        "inventory_status",
        f"inventory_status follows the {SLOW_MOVER_WINDOW_DAYS}-day units against the catalog median: "
        f"nothing sold or < {red:.0%} of it slow-moving, < {orange:.0%} watch, else healthy",
        f"""select product_id, units_last_90d, median_units_last_90d, inventory_status from {{batch}}
        where inventory_status <> case when units_last_90d = 0 or units_last_90d < {red} * median_units_last_90d
        then 'slow-moving' when units_last_90d < {orange} * median_units_last_90d then 'watch' else 'healthy' end""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "median_units_last_90d",
        "median_units_last_90d is the median of units_last_90d over the catalog, and share_of_median the ratio",
        """select m.product_id, m.units_last_90d, m.median_units_last_90d, m.share_of_median, c.median
        from {batch} m cross join (select percentile_cont(0.5) within group (order by units_last_90d) as median
        from {batch}) c where m.median_units_last_90d <> c.median
        or m.share_of_median is distinct from round(m.units_last_90d / nullif(c.median, 0)::numeric, 4)""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "units_last_90d",
        "the last 90 days are part of all time (units and revenue)",
        """select product_id, units_sold, units_last_90d, revenue, revenue_last_90d from {batch}
        where units_last_90d > units_sold or revenue_last_90d > revenue""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "revenue",
        "revenue per product reconciles with fact_orders (revenue lines, all time)",
        """select coalesce(m.product_id, f.product_id) as product_id, m.revenue, f.revenue as fact_revenue
        from {batch} m full join (select product_id, sum(line_revenue) as revenue from @schema.fact_orders
        where is_revenue group by product_id) f on f.product_id = m.product_id
        where abs(coalesce(m.revenue, 0) - coalesce(f.revenue, 0)) >= 0.005""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "product_id",
        "every product of dim_products has a row, including unsold ones",
        """select p.product_id from @schema.dim_products p left join {batch} m on m.product_id = p.product_id
        where m.product_id is null""",
        schema,
        VOLUME,
    )


def _fact_order_totals(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "order_status", ORDER_STATUSES)
    _in_set(spec, "payment_method", PAYMENT_METHODS)
    _between(spec, "line_count", 1)
    _between(spec, "order_revenue", 0)
    _sql(
        spec,
        "is_revenue",
        "is_revenue is true exactly when the status is not cancelled or returned",
        """select order_id, order_status, is_revenue from {batch}
        where is_revenue <> (order_status not in ('cancelled', 'returned'))""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "order_revenue",
        "every order of fact_orders has one row with the line count, units and revenue of its lines",
        """select coalesce(t.order_id, f.order_id) as order_id, t.line_count, f.line_count as fact_line_count,
        t.order_revenue, f.order_revenue as fact_order_revenue from {batch} t full join (select order_id,
        count(*) as line_count, sum(quantity) as units, sum(line_revenue) as order_revenue
        from @schema.fact_orders group by order_id) f on f.order_id = t.order_id
        where (t.line_count, t.units, t.order_revenue) is distinct from (f.line_count, f.units, f.order_revenue)""",
        schema,
        CONSISTENCY,
    )


def _daily_sales_rules(spec: SuiteSpec, schema: str, dimension: str, fact_source: str) -> None:
    """Rules shared by the day x product and day x category marts; `fact_source` yields (day key, dimension)."""
    for column in ("orders", "units", "revenue"):
        _between(spec, column, 0)
    _sql(
        spec,
        "date_key",
        "date_key is date_day as YYYYMMDD",
        "select date_day, date_key from {batch} where date_key <> cast(to_char(date_day, 'YYYYMMDD') as integer)",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "orders",
        "orders <= units (every revenue order holds at least one unit)",
        f"select date_key, {dimension}, orders, units from {{batch}} where orders > units",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "revenue",
        f"revenue per day and {dimension} reconciles with fact_orders (revenue lines)",
        f"""select coalesce(m.date_key, f.date_key) as date_key, coalesce(m.{dimension}, f.{dimension}) as
        {dimension}, m.revenue, f.revenue as fact_revenue from {{batch}} m full join ({fact_source}) f
        on f.date_key = m.date_key and f.{dimension} = m.{dimension}
        where abs(coalesce(m.revenue, 0) - coalesce(f.revenue, 0)) >= 0.005""",
        schema,
        CONSISTENCY,
    )


def _mart_daily_product_sales(spec: SuiteSpec, schema: str) -> None:
    _daily_sales_rules(
        spec,
        schema,
        "product_id",
        """select order_date_key as date_key, product_id, coalesce(sum(line_revenue) filter (where is_revenue), 0)
        as revenue from @schema.fact_orders group by order_date_key, product_id""",
    )
    _sql(
        spec,
        "product_id",
        "product_id exists in dim_products",
        """select m.date_key, m.product_id from {batch} m left join @schema.dim_products p
        on p.product_id = m.product_id where p.product_id is null""",
        schema,
        REFERENTIAL,
    )


def _mart_daily_category_sales(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "category", PRODUCT_CATEGORIES)
    _daily_sales_rules(
        spec,
        schema,
        "category",
        """select f.order_date_key as date_key, p.category, coalesce(sum(f.line_revenue) filter
        (where f.is_revenue), 0) as revenue from @schema.fact_orders f join @schema.dim_products p
        on p.product_key = f.product_key group by f.order_date_key, p.category""",
    )


def _mart_daily_sessions(spec: SuiteSpec, schema: str) -> None:
    _in_set(spec, "device_type", DEVICE_TYPES)
    _between(spec, "deepest_step", 1, 5)
    _between(spec, "sessions", 1)
    _sql(
        spec,
        "events",
        "every session has at least one event",
        "select date_key, device_type, deepest_step, sessions, events from {batch} where events < sessions",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "sessions",
        "sessions and events add up to the distinct sessions and the events of fact_events",
        """select m.sessions, m.events, f.sessions as fact_sessions, f.events as fact_events from (select
        coalesce(sum(sessions), 0) as sessions, coalesce(sum(events), 0) as events from {batch}) m cross join
        (select count(distinct session_id) as sessions, count(*) as events from @schema.fact_events) f
        where (m.sessions, m.events) <> (f.sessions, f.events)""",
        schema,
        CONSISTENCY,
    )


def _mart_daily_active_customers(spec: SuiteSpec, schema: str) -> None:
    _between(spec, "active_customers", 0)
    _sql(
        spec,
        "date_key",
        "date_key is date_day as YYYYMMDD",
        "select date_day, date_key from {batch} where date_key <> cast(to_char(date_day, 'YYYYMMDD') as integer)",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "date_day",
        "no day is missing between the first and the last order date",
        """select g.day from (select b.first_day + n as day from (select min(date_day) as first_day,
        max(date_day) as last_day from {batch}) b cross join lateral generate_series(0, b.last_day - b.first_day)
        as n) g left join {batch} d on d.date_day = g.day where d.date_day is null""",
        schema,
        VOLUME,
    )
    _sql(
        spec,
        "active_customers",
        f"the latest day's active customers are the distinct customers of fact_orders in the "
        f"{ACTIVE_CUSTOMER_WINDOW_DAYS} days ending on it",
        f"""select d.date_day, d.active_customers, f.customers as fact_customers from {{batch}} d
        cross join lateral (select count(distinct customer_id) as customers from @schema.fact_orders
        where order_date_key between cast(to_char(d.date_day - {ACTIVE_CUSTOMER_WINDOW_DAYS - 1}, 'YYYYMMDD')
        as integer) and d.date_key) f
        where d.date_day = (select max(date_day) from {{batch}}) and d.active_customers <> f.customers""",
        schema,
        CONSISTENCY,
    )


def _mart_value_segments(spec: SuiteSpec, schema: str) -> None:
    segments = (*VALUE_SEGMENT_MIN, "Low")
    spec.add("ExpectTableRowCountToEqual", VOLUME, value=len(segments))
    spec.add(
        "ExpectColumnDistinctValuesToEqualSet",
        ALLOWED_VALUES,
        "value_segment",
        column="value_segment",
        value_set=list(segments),
    )
    _between(spec, "customers", 0)
    _between(spec, "lifetime_revenue", 0)
    _sql(
        spec,
        "customers",
        "customers and revenue add up to mart_customer_lifetime_value's, segment by segment",
        """select s.value_segment, s.customers, c.customers as clv_customers from {batch} s
        left join (select value_segment, count(*) as customers, sum(lifetime_revenue) as revenue
        from @schema.mart_customer_lifetime_value group by value_segment) c on c.value_segment = s.value_segment
        where (s.customers, s.lifetime_revenue) <> (coalesce(c.customers, 0), coalesce(c.revenue, 0))""",
        schema,
        CONSISTENCY,
    )


def _mart_lifetime_value_bands(spec: SuiteSpec, schema: str) -> None:
    spec.add("ExpectTableRowCountToEqual", VOLUME, value=7)
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "band_sort", column="band_sort")
    _between(spec, "customers", 0)
    _sql(
        spec,
        "min_revenue",
        "bands follow each other without gaps or overlaps, from 0 to an open top band",
        """select value_band, band_sort, min_revenue, max_revenue, next_min from (select *,
        lead(min_revenue) over (order by band_sort) as next_min, row_number() over (order by band_sort) as n
        from {batch}) b where (n = 1 and min_revenue <> 0) or max_revenue is distinct from next_min""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "customers",
        "every customer with a revenue order is in one band",
        """select b.customers, c.buyers from (select sum(customers) as customers from {batch}) b
        cross join (select count(*) as buyers from @schema.mart_customer_lifetime_value where order_count > 0) c
        where b.customers <> c.buyers""",
        schema,
        CONSISTENCY,
    )


def _mart_hourly_traffic(spec: SuiteSpec, schema: str) -> None:
    spec.add("ExpectTableRowCountToEqual", VOLUME, value=24)
    spec.add(
        "ExpectColumnDistinctValuesToEqualSet",
        ALLOWED_VALUES,
        "event_hour",
        column="event_hour",
        value_set=list(range(24)),
    )
    _between(spec, "events", 0)
    _sql(
        spec,
        "events",
        "events = page_views + product_views + add_to_carts + checkouts + purchases",
        """select * from {batch}
        where events <> page_views + product_views + add_to_carts + checkouts + purchases""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "sessions",
        "visitors <= sessions <= events in every hour",
        "select * from {batch} where visitors > sessions or sessions > events",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "events",
        "hourly events add up to the events of fact_events",
        """select t.total, e.events from (select coalesce(sum(events), 0) as total from {batch}) t
        cross join (select count(*) as events from @schema.fact_events) e where t.total <> e.events""",
        schema,
        CONSISTENCY,
    )


def _mart_daily_revenue(spec: SuiteSpec, schema: str) -> None:
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "date_key", column="date_key")
    for column in ("orders", "units", "customers", "revenue"):
        _between(spec, column, 0)
    _sql(
        spec,
        "date_key",
        "date_key is date_day as YYYYMMDD",
        "select date_day, date_key from {batch} where date_key <> cast(to_char(date_day, 'YYYYMMDD') as integer)",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "orders",
        "customers <= orders <= units, and days without orders have no average order value",
        """select * from {batch} where customers > orders or orders > units
        or (orders = 0) <> (avg_order_value is null)""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "revenue",
        "daily revenue reconciles with fact_orders (line revenue of revenue orders by UTC order date)",
        """select coalesce(d.date_day, f.day) as date_day, d.revenue, f.revenue as fact_revenue from {batch} d
        full join (select cast(ordered_at at time zone 'UTC' as date) as day, sum(line_revenue) as revenue
        from @schema.fact_orders where is_revenue group by 1) f on f.day = d.date_day
        where abs(coalesce(d.revenue, 0) - coalesce(f.revenue, 0)) >= 0.005""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "date_day",
        "no day is missing between the first and the last order date",
        """select g.day from (select b.first_day + n as day from (select min(date_day) as first_day,
        max(date_day) as last_day from {batch}) b cross join lateral generate_series(0, b.last_day - b.first_day)
        as n) g left join {batch} d on d.date_day = g.day where d.date_day is null""",
        schema,
        VOLUME,
    )


def _mart_monthly_revenue(spec: SuiteSpec, schema: str) -> None:
    for column in ("orders", "units", "customers", "revenue"):
        _between(spec, column, 0)
    _sql(
        spec,
        "month_start",
        "month_start is the first day of a month",
        "select month_start from {batch} where extract(day from month_start) <> 1",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "prev_month_revenue",
        "prev_month_revenue is the previous month's revenue, and the first month has no growth",
        """select month_start, revenue, prev_month_revenue, mom_growth_pct from (select *,
        lag(revenue) over (order by month_start) as expected_prev,
        row_number() over (order by month_start) as n from {batch}) m
        where prev_month_revenue is distinct from expected_prev or (n = 1 and mom_growth_pct is not null)""",
        schema,
        CONSISTENCY,
    )
    _sql(
        spec,
        "revenue",
        "monthly revenue reconciles with mart_daily_revenue",
        """select coalesce(m.month_start, d.month_start) as month_start, m.revenue, d.revenue as daily_revenue
        from {batch} m full join (select cast(date_trunc('month', date_day) as date) as month_start,
        sum(revenue) as revenue from @schema.mart_daily_revenue group by 1) d on d.month_start = m.month_start
        where abs(coalesce(m.revenue, 0) - coalesce(d.revenue, 0)) >= 0.005""",
        schema,
        CONSISTENCY,
    )


def _names(spec: str) -> tuple[str, ...]:
    """Split 'a b c' into column names."""
    return tuple(spec.split())


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    """Parse 'name type; name type; ...' into (name, type) pairs (types contain no spaces)."""
    return tuple(tuple(item.split()) for item in (s.strip() for s in spec.split(";")) if item)  # type: ignore[misc]


MARTS: dict[str, MartSpec] = {
    m.table: m
    for m in (
        MartSpec(
            "dim_date",
            _cols(
                "date_key integer; date_day date; year integer; quarter integer; month integer; month_name text;"
                "month_start date; week_of_year integer; day_of_month integer; day_of_week integer;"
                "day_name text; is_weekend boolean"
            ),
            key="date_key",
            not_null=_names(
                "date_key date_day year quarter month month_name month_start week_of_year "
                "day_of_month day_of_week day_name is_weekend"
            ),
            rules=_dim_date,
        ),
        MartSpec(
            "dim_products",
            _cols(
                "product_key text; product_id integer; title text; category text; price numeric(10,2);"
                "rating_rate numeric(3,1); rating_count integer; image_url text; description text"
            ),
            key="product_key",
            not_null=_names("product_key product_id title category price"),
            rules=_dim_products,
        ),
        MartSpec(
            "dim_customers",
            _cols(
                "customer_key text; customer_id bigint; first_name text; last_name text; full_name text;"
                "email_hash text; email_masked text; phone_hash text; phone_masked text; city text; country text;"
                "loyalty_segment text;"
                "registered_at timestamptz; valid_from timestamptz; valid_to timestamptz; is_current boolean;"
                "version_number integer; region text"
            ),
            key="customer_key",
            not_null=_names(
                "customer_key customer_id email_hash email_masked loyalty_segment registered_at valid_from valid_to "
                "is_current version_number region"
            ),
            rules=_dim_customers,
        ),
        MartSpec(
            "fact_orders",
            _cols(
                "order_line_key text; order_item_id bigint; order_id bigint; customer_id bigint;"
                "customer_key text; product_key text; product_id integer; order_date_key integer;"
                "ordered_at timestamptz; quantity integer; unit_price numeric(10,2); line_revenue numeric(12,2);"
                "order_status text; payment_method text; is_revenue boolean; order_updated_at timestamptz"
            ),
            key="order_line_key",
            not_null=_names(
                "order_line_key order_item_id order_id customer_id customer_key product_key "
                "product_id order_date_key ordered_at quantity unit_price line_revenue "
                "order_status payment_method is_revenue"
            ),
            rules=_fact_orders,
        ),
        MartSpec(
            "fact_order_totals",
            _cols(
                "order_id bigint; customer_id bigint; customer_key text; order_date_key integer;"
                "ordered_at timestamptz; order_status text; payment_method text; is_revenue boolean;"
                "line_count integer; units integer; order_revenue numeric(12,2); order_updated_at timestamptz;"
                "processed_at timestamptz"
            ),
            key="order_id",
            not_null=_names(
                "order_id customer_id customer_key order_date_key ordered_at order_status is_revenue "
                "line_count units order_revenue order_updated_at processed_at"
            ),
            rules=_fact_order_totals,
        ),
        MartSpec(
            "fact_events",
            _cols(
                "event_id text; session_id text; visitor_id text; customer_id bigint; is_anonymous boolean;"
                "event_type text; funnel_step integer; product_key text; product_id integer; order_id bigint;"
                "device_type text; referrer text; event_at timestamptz; event_date_key integer; event_hour integer"
            ),
            key="event_id",
            not_null=_names(
                "event_id session_id visitor_id is_anonymous event_type funnel_step device_type "
                "referrer event_at event_date_key event_hour"
            ),
            rules=_fact_events,
        ),
        MartSpec(
            "mart_customer_lifetime_value",
            _cols(
                "customer_id bigint; customer_key text; full_name text; email_hash text; email_masked text; city text;"
                "country text;"
                "loyalty_segment text; registered_at timestamptz; first_order_at timestamptz;"
                "last_order_at timestamptz; order_count integer; lifetime_revenue numeric(12,2);"
                "avg_order_value numeric(12,2); value_segment text; value_segment_sort integer; revenue_rank integer;"
                "region text"
            ),
            key="customer_id",
            not_null=_names(
                "customer_id customer_key order_count lifetime_revenue value_segment value_segment_sort revenue_rank "
                "region"
            ),
            rules=_mart_customer_lifetime_value,
        ),
        MartSpec(
            "mart_value_segments",
            _cols("value_segment text; value_segment_sort integer; customers integer; lifetime_revenue numeric(14,2)"),
            key="value_segment",
            not_null=_names("value_segment value_segment_sort customers lifetime_revenue"),
            rules=_mart_value_segments,
        ),
        MartSpec(
            "mart_lifetime_value_bands",
            _cols(
                "value_band text; band_sort integer; min_revenue numeric(12,2); max_revenue numeric(12,2);"
                "customers integer; lifetime_revenue numeric(14,2)"
            ),
            key="value_band",
            not_null=_names("value_band band_sort min_revenue customers lifetime_revenue"),
            rules=_mart_lifetime_value_bands,
        ),
        MartSpec(
            "mart_order_frequency",
            _cols(
                "frequency_bucket text; bucket_sort integer; customer_count integer; share_of_customers numeric(5,4)"
            ),
            key="frequency_bucket",
            not_null=_names("frequency_bucket bucket_sort customer_count share_of_customers"),
            rules=_mart_order_frequency,
        ),
        MartSpec(
            "mart_product_performance",
            _cols(
                "product_id integer; product_key text; title text; category text; price numeric(10,2);"
                "rating_rate numeric(3,1); rating_count integer; order_count integer; units_sold integer;"
                "revenue numeric(12,2); avg_item_value numeric(12,2); last_sold_at timestamptz;"
                "days_since_last_sale integer; units_last_90d integer; revenue_last_90d numeric(12,2);"
                "median_units_last_90d numeric(12,1); share_of_median numeric(8,4);"
                "inventory_status text; status_sort integer"
            ),
            key="product_id",
            not_null=_names(
                "product_id product_key order_count units_sold revenue units_last_90d "
                "revenue_last_90d median_units_last_90d inventory_status status_sort"
            ),
            rules=_mart_product_performance,
        ),
        MartSpec(
            "mart_hourly_traffic",
            _cols(
                "event_hour integer; events bigint; sessions bigint; visitors bigint; page_views bigint;"
                "product_views bigint; add_to_carts bigint; checkouts bigint; purchases bigint"
            ),
            key="event_hour",
            not_null=_names(
                "event_hour events sessions visitors page_views product_views add_to_carts checkouts purchases"
            ),
            rules=_mart_hourly_traffic,
        ),
        MartSpec(
            "mart_daily_sessions",
            _cols(
                "date_day date; date_key integer; device_type text; deepest_step integer; sessions integer;"
                "events integer"
            ),
            key="date_key",
            unique=("date_key", "device_type", "deepest_step"),
            not_null=_names("date_day date_key device_type deepest_step sessions events"),
            rules=_mart_daily_sessions,
        ),
        MartSpec(
            "mart_daily_revenue",
            _cols(
                "date_day date; date_key integer; orders integer; units integer; revenue numeric(12,2);"
                "customers integer; avg_order_value numeric(12,2)"
            ),
            key="date_day",
            not_null=_names("date_day date_key orders units revenue customers"),
            rules=_mart_daily_revenue,
        ),
        MartSpec(
            "mart_daily_active_customers",
            _cols("date_day date; date_key integer; active_customers integer"),
            key="date_day",
            not_null=_names("date_day date_key active_customers"),
            rules=_mart_daily_active_customers,
        ),
        MartSpec(
            "mart_daily_product_sales",
            _cols(
                "date_day date; date_key integer; product_id integer; orders integer; units integer;"
                "revenue numeric(12,2); last_sold_at timestamptz; processed_at timestamptz"
            ),
            key="date_key",
            unique=("date_key", "product_id"),
            not_null=_names("date_day date_key product_id orders units revenue processed_at"),
            rules=_mart_daily_product_sales,
        ),
        MartSpec(
            "mart_daily_category_sales",
            _cols(
                "date_day date; date_key integer; category text; orders integer; units integer;"
                "revenue numeric(12,2); processed_at timestamptz"
            ),
            key="date_key",
            unique=("date_key", "category"),
            not_null=_names("date_day date_key category orders units revenue processed_at"),
            rules=_mart_daily_category_sales,
        ),
        MartSpec(
            "mart_monthly_revenue",
            _cols(
                "month_start date; orders integer; units integer; revenue numeric(12,2); customers integer;"
                "avg_order_value numeric(12,2); prev_month_revenue numeric(12,2); mom_growth_pct numeric(8,2)"
            ),
            key="month_start",
            not_null=_names("month_start orders units revenue customers"),
            rules=_mart_monthly_revenue,
        ),
    )
}


def mart_suite_name(table: str) -> str:
    """Name of a mart's suite (`marts.<table>`)."""
    return f"marts.{table}"


def build_mart_suite_spec(table: str, schema: str = MARTS_SCHEMA) -> SuiteSpec:
    """The expectations of one mart table in `schema` (cheap; no GX import)."""
    try:
        mart = MARTS[table]
    except KeyError:
        raise KeyError(f"no quality suite for mart {table!r}; known: {', '.join(MARTS)}") from None
    spec = SuiteSpec(name=mart_suite_name(table))
    spec.add("ExpectTableColumnsToMatchOrderedList", SCHEMA, column_list=mart.column_names)
    for name, pg_type in mart.columns:
        spec.add("ExpectColumnTypeToBe", SCHEMA, name, column=name, type_=gx_type_name(pg_type))
    for name in mart.not_null:
        spec.add("ExpectColumnValuesToNotBeNull", COMPLETENESS, name, column=name)
    if mart.unique:
        spec.add("ExpectCompoundColumnsToBeUnique", UNIQUENESS, mart.key, column_list=list(mart.unique))
    else:
        spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, mart.key, column=mart.key)
    mart.rules(spec, schema)
    return spec
