-- Every order of fact_orders has exactly one row in fact_order_totals, holding the totals and
-- attributes of its lines; fact_order_totals has no other orders.
with

lines as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(line_revenue) as order_revenue,
        min(customer_key) as customer_key,
        min(order_date_key) as order_date_key,
        min(order_status) as order_status,
        bool_and(is_revenue) as is_revenue,
        max(order_updated_at) as order_updated_at

    from {{ ref('fact_orders') }}
    group by order_id

),

totals as (

    select * from {{ ref('fact_order_totals') }}

)

select
    coalesce(lines.order_id, totals.order_id) as order_id,
    lines.line_count as fact_line_count,
    totals.line_count,
    lines.order_revenue as fact_order_revenue,
    totals.order_revenue

from lines
full outer join totals
    on lines.order_id = totals.order_id
where
    (
        lines.line_count, lines.units, lines.order_revenue, lines.customer_key, lines.order_date_key,
        lines.order_status, lines.is_revenue, lines.order_updated_at
    ) is distinct from (
        totals.line_count, totals.units, totals.order_revenue, totals.customer_key, totals.order_date_key,
        totals.order_status, totals.is_revenue, totals.order_updated_at
    )
