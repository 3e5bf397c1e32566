with latest_day as (
    select max(dr.date_day) as date_day
    from marts.mart_daily_revenue as dr
),

calendar as (
    -- every day of the window, so days without orders show as zero instead of being skipped
    select gs.day::date as date_day
    from latest_day as ld
    cross join generate_series((ld.date_day - 89)::timestamp, ld.date_day::timestamp, interval '1 day') as gs (day)
)

select
    c.date_day,
    coalesce(dr.orders, 0) as orders
from calendar as c
left join marts.mart_daily_revenue as dr on c.date_day = dr.date_day
order by c.date_day
