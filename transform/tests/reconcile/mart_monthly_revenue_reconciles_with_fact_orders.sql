-- Revenue orders, units, revenue and customers per UTC month equal what fact_orders' lines give.
with

lines as (

    select
        cast(date_trunc('month', ordered_at at time zone 'UTC') as date) as month_start,
        count(distinct order_id) as orders,
        sum(quantity) as units,
        sum(line_revenue) as revenue,
        count(distinct customer_id) as customers

    from {{ ref('fact_orders') }}
    where is_revenue
    group by cast(date_trunc('month', ordered_at at time zone 'UTC') as date)

),

monthly as (

    select * from {{ ref('mart_monthly_revenue') }}

)

select
    coalesce(monthly.month_start, lines.month_start) as month_start,
    lines.revenue as fact_revenue,
    monthly.revenue

from monthly
full outer join lines
    on monthly.month_start = lines.month_start
where
    monthly.month_start is null
    or (coalesce(lines.orders, 0), coalesce(lines.units, 0), coalesce(lines.revenue, 0), coalesce(lines.customers, 0))
    is distinct from (monthly.orders, monthly.units, monthly.revenue, monthly.customers)
