with

dates as (

    select * from {{ ref('dim_date') }}

),

orders as (

    select * from {{ ref('fact_order_totals') }}

),

bounds as (

    select
        min(order_date_key) as first_date_key,
        max(order_date_key) as last_date_key

    from orders

),

-- Every month from the first to the last order month, so a month without revenue is a zero row
-- and the previous-month comparison never skips a month.
months as (

    select distinct dates.month_start

    from dates
    inner join bounds
        on dates.date_key between bounds.first_date_key and bounds.last_date_key

),

monthly as (

    select
        dates.month_start,
        count(*) as orders,
        sum(orders.units) as units,
        sum(orders.order_revenue) as revenue,
        count(distinct orders.customer_id) as customers

    from orders
    inner join dates
        on orders.order_date_key = dates.date_key
    where orders.is_revenue
    group by dates.month_start

),

filled as (

    select
        months.month_start,
        coalesce(monthly.orders, 0) as orders,
        coalesce(monthly.units, 0) as units,
        coalesce(monthly.revenue, 0) as revenue,
        coalesce(monthly.customers, 0) as customers,
        lag(coalesce(monthly.revenue, 0)) over (order by months.month_start) as prev_month_revenue

    from months
    left join monthly
        on months.month_start = monthly.month_start

),

growth as (

    select
        *,
        round(100 * (revenue - prev_month_revenue) / nullif(prev_month_revenue, 0), 2) as mom_growth

    from filled

),

final as (

    select
        cast(month_start as date) as month_start,
        cast(orders as integer) as orders,
        cast(units as integer) as units,
        cast(revenue as numeric(12, 2)) as revenue,
        cast(customers as integer) as customers,
        cast(round(revenue / nullif(orders, 0), 2) as numeric(12, 2)) as avg_order_value,
        cast(prev_month_revenue as numeric(12, 2)) as prev_month_revenue,
        -- Null for the first month, after a month without revenue, and for growth beyond what
        -- numeric(8,2) holds (a near-empty first month followed by a full one).
        cast(
            case when abs(mom_growth) < 1000000 then mom_growth end as numeric(8, 2)
        ) as mom_growth_pct

    from growth

)

select * from final
