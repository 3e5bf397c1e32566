with latest_order as (
    -- mart_daily_revenue spans the first to the last order date of any status
    select max(dr.date_day) as last_date
    from marts.mart_daily_revenue as dr
),

complete_months as (
    -- a month counts once the data reaches its last day, so a month still in progress is never
    -- compared with a full one
    select mr.month_start
    from marts.mart_monthly_revenue as mr
    cross join latest_order as lo
    where (mr.month_start + interval '1 month' - interval '1 day')::date <= lo.last_date
),

chosen_month as (
    select
        coalesce(
            (select max(cm.month_start) from complete_months as cm),
            (select max(mr.month_start) from marts.mart_monthly_revenue as mr)
        ) as month_start
)

select
    mr.month_start,
    mr.revenue,
    (mr.revenue - mr.prev_month_revenue) / nullif(mr.prev_month_revenue, 0) as mom_growth
from marts.mart_monthly_revenue as mr
cross join chosen_month as cm
where mr.month_start between (cm.month_start - interval '1 month')::date and cm.month_start
order by mr.month_start
