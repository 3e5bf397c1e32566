{{
    config(
        indexes=[
            {'columns': ['date_key'], 'unique': true},
        ]
    )
}}

with

dates as (

    select * from {{ ref('dim_date') }}

),

-- Order grain: a day's orders are counted without a distinct over its lines.
orders as (

    select * from {{ ref('fact_order_totals') }}

),

-- Every day from the first to the last order date (any status): days without revenue show zeros.
bounds as (

    select
        min(order_date_key) as first_date_key,
        max(order_date_key) as last_date_key

    from orders

),

daily as (

    select
        order_date_key,
        count(*) as orders,
        sum(units) as units,
        sum(order_revenue) as revenue,
        count(distinct customer_id) as customers

    from orders
    where is_revenue
    group by order_date_key

),

final as (

    select
        dates.date_day,
        dates.date_key,
        cast(coalesce(daily.orders, 0) as integer) as orders,
        cast(coalesce(daily.units, 0) as integer) as units,
        cast(coalesce(daily.revenue, 0) as numeric(12, 2)) as revenue,
        cast(coalesce(daily.customers, 0) as integer) as customers,
        cast(round(daily.revenue / nullif(daily.orders, 0), 2) as numeric(12, 2)) as avg_order_value

    from dates
    inner join bounds
        on dates.date_key between bounds.first_date_key and bounds.last_date_key
    left join daily
        on dates.date_key = daily.order_date_key

)

select * from final
