-- One row per UTC day and current product category with order lines (any status), holding the
-- distinct revenue orders, units and revenue of fact_orders' lines.
with

lines as (

    select
        fact_orders.order_date_key,
        dim_products.category,
        count(distinct fact_orders.order_id) filter (where fact_orders.is_revenue) as orders,
        coalesce(sum(fact_orders.quantity) filter (where fact_orders.is_revenue), 0) as units,
        coalesce(sum(fact_orders.line_revenue) filter (where fact_orders.is_revenue), 0) as revenue

    from {{ ref('fact_orders') }} as fact_orders
    inner join {{ ref('dim_products') }} as dim_products
        on fact_orders.product_key = dim_products.product_key
    group by fact_orders.order_date_key, dim_products.category

),

daily as (

    select * from {{ ref('mart_daily_category_sales') }}

)

select
    coalesce(daily.date_key, lines.order_date_key) as date_key,
    coalesce(daily.category, lines.category) as category,
    lines.revenue as fact_revenue,
    daily.revenue

from daily
full outer join lines
    on
        daily.date_key = lines.order_date_key
        and daily.category = lines.category
where
    (lines.orders, lines.units, lines.revenue) is distinct from (daily.orders, daily.units, daily.revenue)
