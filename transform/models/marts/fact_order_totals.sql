{#
    Orders (grain: one row per order): the totals of the order's lines in fact_orders, with the
    order's attributes. Incremental like fact_orders: a run rewrites only the orders whose row would
    differ from the stored one (new orders, a status change, a line added or changed, a late customer
    version), so the table equals a full refresh. Rewritten rows carry the run's start time in
    processed_at; the daily marts recompute the days of the orders processed after their own last
    run (see docs/transform.md).
#}
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_date_key', 'customer_id']},
            {'columns': ['customer_id']},
            {'columns': ['processed_at']},
        ]
    )
}}

with

order_lines as (

    select * from {{ ref('fact_orders') }}

),

-- Order attributes are the same on every line of an order: grouping by them keeps one row per
-- order, and the primary key test would fail if lines ever disagreed.
order_totals as (

    select
        order_id,
        customer_id,
        customer_key,
        order_date_key,
        ordered_at,
        order_status,
        payment_method,
        is_revenue,
        count(*) as line_count,
        sum(quantity) as units,
        sum(line_revenue) as order_revenue,
        max(order_updated_at) as order_updated_at

    from order_lines
    group by
        order_id,
        customer_id,
        customer_key,
        order_date_key,
        ordered_at,
        order_status,
        payment_method,
        is_revenue

),

{% if is_incremental() %}

orders_to_process as (

    select order_totals.order_id

    from order_totals
    left join {{ this }} as stored_orders
        on order_totals.order_id = stored_orders.order_id
    where
        stored_orders.order_id is null
        or (
            order_totals.customer_id,
            order_totals.customer_key,
            order_totals.order_date_key,
            order_totals.ordered_at,
            order_totals.order_status,
            order_totals.payment_method,
            order_totals.is_revenue,
            order_totals.line_count,
            order_totals.units,
            order_totals.order_revenue,
            order_totals.order_updated_at
        ) is distinct from (
            stored_orders.customer_id,
            stored_orders.customer_key,
            stored_orders.order_date_key,
            stored_orders.ordered_at,
            stored_orders.order_status,
            stored_orders.payment_method,
            stored_orders.is_revenue,
            stored_orders.line_count,
            stored_orders.units,
            stored_orders.order_revenue,
            stored_orders.order_updated_at
        )

),

{% endif %}

final as (

    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(customer_key as text) as customer_key,
        cast(order_date_key as integer) as order_date_key,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(order_status as text) as order_status,
        cast(payment_method as text) as payment_method,
        cast(is_revenue as boolean) as is_revenue,
        cast(line_count as integer) as line_count,
        cast(units as integer) as units,
        cast(order_revenue as numeric(12, 2)) as order_revenue,
        cast(order_updated_at as timestamptz) as order_updated_at,
        cast({{ run_timestamp() }} as timestamptz) as processed_at

    from order_totals
    {% if is_incremental() %}
    where order_id in (select orders_to_process.order_id from orders_to_process)
    {% endif %}

)

select * from final
