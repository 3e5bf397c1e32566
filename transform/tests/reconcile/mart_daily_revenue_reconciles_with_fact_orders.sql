-- Revenue orders, units, revenue and customers per UTC day equal what fact_orders' lines give;
-- days without revenue are zero rows.
with

lines as (

    select
        order_date_key,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_revenue) as revenue,
        count(distinct customer_id) as customers

    from {{ ref('fact_orders') }}
    where is_revenue
    group by order_date_key

),

daily as (

    select * from {{ ref('mart_daily_revenue') }}

)

select
    coalesce(daily.date_key, lines.order_date_key) as date_key,
    lines.revenue as fact_revenue,
    daily.revenue

from daily
full outer join lines
    on daily.date_key = lines.order_date_key
where
    daily.date_key is null
    or (coalesce(lines.orders, 0), coalesce(lines.units, 0), coalesce(lines.revenue, 0), coalesce(lines.customers, 0))
    is distinct from (daily.orders, daily.units, daily.revenue, daily.customers)
