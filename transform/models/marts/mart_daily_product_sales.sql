{#
    Sales per UTC day and product (grain: one row per day and product with at least one order line
    that day, of any status). The figures count revenue orders only, so a product whose lines of the
    day were all cancelled or returned has a row of zeros.

    Incremental by whole days: a run recomputes the days of the orders that fact_order_totals
    (re)processed after this table's last run (processed_at), from those days' lines in fact_orders
    (index on order_date_key), and delete+insert on date_key replaces every row of those days.
    Order lines are never deleted, so a recomputed day always has rows again.
#}
-- Referenced only in incremental runs; declared so dbt always builds them first.
-- depends_on: {{ ref('fact_order_totals') }}
{{
    config(
        materialized='incremental',
        unique_key='date_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['product_id', 'date_key']},
        ]
    )
}}

with

{% if is_incremental() %}

last_run as (

    select coalesce(max(processed_at), cast('-infinity' as timestamptz)) as processed_at
    from {{ this }}

),

days_to_process as (

    select distinct order_totals.order_date_key

    from {{ ref('fact_order_totals') }} as order_totals
    inner join last_run
        on order_totals.processed_at > last_run.processed_at

),

-- One index lookup per day: the planner cannot know how few days there are, and with a plain
-- `in (...)` or join it scanned every line of fact_orders. `offset 0` keeps the lateral subquery
-- from being flattened into such a join (it skips no row, so AM09 does not apply).
order_lines as (

    select day_lines.*

    from days_to_process
    cross join lateral (
        select fact_lines.* from {{ ref('fact_orders') }} as fact_lines
        where fact_lines.order_date_key = days_to_process.order_date_key
        offset 0  -- noqa: AM09
    ) as day_lines

),

{% else %}

order_lines as (

    select * from {{ ref('fact_orders') }}

),

{% endif %}

daily as (

    select
        order_date_key,
        product_id,
        count(distinct order_id) filter (where is_revenue) as orders,
        coalesce(sum(quantity) filter (where is_revenue), 0) as units,
        coalesce(sum(line_revenue) filter (where is_revenue), 0) as revenue,
        max(ordered_at) filter (where is_revenue) as last_sold_at

    from order_lines
    group by order_date_key, product_id

),

final as (

    select
        cast(to_date(cast(order_date_key as text), 'YYYYMMDD') as date) as date_day,
        cast(order_date_key as integer) as date_key,
        cast(product_id as integer) as product_id,
        cast(orders as integer) as orders,
        cast(units as integer) as units,
        cast(revenue as numeric(12, 2)) as revenue,
        cast(last_sold_at as timestamptz) as last_sold_at,
        cast({{ run_timestamp() }} as timestamptz) as processed_at

    from daily

)

select * from final
