{#
    Sales per UTC day and product category (grain: one row per day and category with at least one
    order line that day, of any status), by the product's current category in dim_products. Revenue
    orders only; `orders` counts each order once per category however many of its products belong
    to it, which is why this is built from order lines and not by adding up mart_daily_product_sales.

    Incremental by whole days, like mart_daily_product_sales, plus the days on which a product that
    has since moved to another category sold: there the stored rows no longer add up to the product
    sales grouped by the current categories.
#}
-- Referenced only in incremental runs; declared so dbt always builds them first.
-- depends_on: {{ ref('fact_order_totals') }}
-- depends_on: {{ ref('mart_daily_product_sales') }}
{{
    config(
        materialized='incremental',
        unique_key='date_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['category', 'date_key']},
        ]
    )
}}

with

products as (

    select * from {{ ref('dim_products') }}

),

{% if is_incremental() %}

last_run as (

    select coalesce(max(processed_at), cast('-infinity' as timestamptz)) as processed_at
    from {{ this }}

),

days_of_processed_orders as (

    select distinct order_totals.order_date_key as date_key

    from {{ ref('fact_order_totals') }} as order_totals
    inner join last_run
        on order_totals.processed_at > last_run.processed_at

),

regrouped as (

    select
        product_sales.date_key,
        products.category,
        sum(product_sales.units) as units,
        sum(product_sales.revenue) as revenue

    from {{ ref('mart_daily_product_sales') }} as product_sales
    inner join products
        on product_sales.product_id = products.product_id
    group by product_sales.date_key, products.category

),

days_of_moved_products as (

    select coalesce(regrouped.date_key, stored_rows.date_key) as date_key

    from regrouped
    full outer join {{ this }} as stored_rows
        on
            regrouped.date_key = stored_rows.date_key
            and regrouped.category = stored_rows.category
    where
        regrouped.date_key is null
        or stored_rows.date_key is null
        or regrouped.units <> stored_rows.units
        or regrouped.revenue <> stored_rows.revenue

),

days_to_process as (

    select days_of_processed_orders.date_key from days_of_processed_orders
    union
    select days_of_moved_products.date_key from days_of_moved_products

),

-- One index lookup per day: the planner cannot know how few days there are, and with a plain
-- `in (...)` or join it scanned every line of fact_orders. `offset 0` keeps the lateral subquery
-- from being flattened into such a join (it skips no row, so AM09 does not apply).
order_lines as (

    select day_lines.*

    from days_to_process
    cross join lateral (
        select fact_lines.* from {{ ref('fact_orders') }} as fact_lines
        where fact_lines.order_date_key = days_to_process.date_key
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
        order_lines.order_date_key,
        products.category,
        count(distinct order_lines.order_id) filter (where order_lines.is_revenue) as orders,
        coalesce(sum(order_lines.quantity) filter (where order_lines.is_revenue), 0) as units,
        coalesce(sum(order_lines.line_revenue) filter (where order_lines.is_revenue), 0) as revenue

    from order_lines
    inner join products
        on order_lines.product_key = products.product_key
    group by order_lines.order_date_key, products.category

),

final as (

    select
        cast(to_date(cast(order_date_key as text), 'YYYYMMDD') as date) as date_day,
        cast(order_date_key as integer) as date_key,
        cast(category as text) as category,
        cast(orders as integer) as orders,
        cast(units as integer) as units,
        cast(revenue as numeric(12, 2)) as revenue,
        cast({{ run_timestamp() }} as timestamptz) as processed_at

    from daily

)

select * from final
