with latest_month as (
    select max(mr.month_start) as month_start
    from marts.mart_monthly_revenue as mr
)

select
    mr.month_start,
    mr.revenue
from marts.mart_monthly_revenue as mr
cross join latest_month as lm
where mr.month_start > (lm.month_start - interval '12 months')::date
order by mr.month_start
