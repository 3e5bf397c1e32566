{#
    Customers with at least one order of any status in the 30 days (var active_customer_window_days)
    ending on each UTC day, every day from the first to the last order date. A distinct count over a moving window cannot be
    added up from daily counts, so it is computed here once per build: each customer's order days
    become spans [order day, order day + window - 1]; overlapping spans merge (gaps and islands), so a
    customer counts once per day; a running sum of span starts and ends gives every day's count.
#}
{{
    config(
        indexes=[
            {'columns': ['date_key'], 'unique': true},
        ]
    )
}}

{%- set window_days = var('active_customer_window_days') %}

with

orders as (

    select * from {{ ref('fact_order_totals') }}

),

customer_days as (

    select distinct
        customer_id,
        to_date(cast(order_date_key as text), 'YYYYMMDD') as order_day

    from orders

),

with_previous as (

    select
        customer_id,
        order_day,
        lag(order_day) over (partition by customer_id order by order_day) as previous_day

    from customer_days

),

-- An order day starts a new span unless the previous one's window still covers it.
islands as (

    select
        customer_id,
        order_day,
        sum(
            case when previous_day is null or order_day > previous_day + ({{ window_days }} - 1) then 1 else 0 end
        ) over (partition by customer_id order by order_day) as island

    from with_previous

),

spans as (

    select
        customer_id,
        min(order_day) as active_from,
        max(order_day) + ({{ window_days }} - 1) as active_to

    from islands
    group by customer_id, island

),

changes as (

    select
        active_from as change_day,
        1 as delta

    from spans

    union all

    select
        active_to + 1 as change_day,
        -1 as delta

    from spans

),

daily_changes as (

    select
        change_day,
        sum(delta) as delta

    from changes
    group by change_day

),

bounds as (

    select
        min(order_day) as first_day,
        max(order_day) as last_day

    from customer_days

),

days as (

    select bounds.first_day + day_offset.n as date_day
    from bounds
    cross join lateral generate_series(0, bounds.last_day - bounds.first_day) as day_offset (n)

),

final as (

    select
        cast(days.date_day as date) as date_day,
        cast({{ date_key('days.date_day') }} as integer) as date_key,
        cast(
            sum(coalesce(daily_changes.delta, 0)) over (order by days.date_day rows unbounded preceding)
            as integer
        ) as active_customers

    from days
    left join daily_changes
        on days.date_day = daily_changes.change_day

)

select * from final
