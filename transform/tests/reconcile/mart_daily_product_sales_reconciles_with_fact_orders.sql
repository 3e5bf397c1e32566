-- One row per UTC day and product with order lines (any status), holding the revenue orders, units,
-- revenue and last sale of fact_orders' lines.
with

lines as (

    select
        order_date_key,
        product_id,
        count(distinct order_id) filter (where is_revenue) as orders,
        coalesce(sum(quantity) filter (where is_revenue), 0) as units,
        coalesce(sum(line_revenue) filter (where is_revenue), 0) as revenue,
        max(ordered_at) filter (where is_revenue) as last_sold_at

    from {{ ref('fact_orders') }}
    group by order_date_key, product_id

),

daily as (

    select * from {{ ref('mart_daily_product_sales') }}

)

select
    coalesce(daily.date_key, lines.order_date_key) as date_key,
    coalesce(daily.product_id, lines.product_id) as product_id,
    lines.revenue as fact_revenue,
    daily.revenue

from daily
full outer join lines
    on
        daily.date_key = lines.order_date_key
        and daily.product_id = lines.product_id
where
    (lines.orders, lines.units, lines.revenue, lines.last_sold_at)
    is distinct from (daily.orders, daily.units, daily.revenue, daily.last_sold_at)
