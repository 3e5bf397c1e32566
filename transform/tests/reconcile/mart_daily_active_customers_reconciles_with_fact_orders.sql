-- Active customers equal a distinct count over fact_orders' lines in the window ending on the
-- day, checked on the latest day (what the Executive card shows) and the first day of each month
-- (a check of every day would cost 30 scans of the window per day).
with

checked_days as (

    select active.date_day, active.active_customers
    from {{ ref('mart_daily_active_customers') }} as active
    where
        extract(day from active.date_day) = 1
        or active.date_day = (select max(latest.date_day) from {{ ref('mart_daily_active_customers') }} as latest)

),

counted as (

    select
        checked_days.date_day,
        checked_days.active_customers,
        count(distinct fact_orders.customer_id) as fact_customers

    from checked_days
    left join {{ ref('fact_orders') }} as fact_orders
        on
            fact_orders.order_date_key between cast(to_char(checked_days.date_day - {{ var('active_customer_window_days') - 1 }}, 'YYYYMMDD') as integer)
            and cast(to_char(checked_days.date_day, 'YYYYMMDD') as integer)
    group by checked_days.date_day, checked_days.active_customers

)

select * from counted
where active_customers <> fact_customers
