with latest_day as (
    select max(dac.date_day) as date_day
    from marts.mart_daily_active_customers as dac
)

-- one row even when there are no orders yet: nobody is active
select coalesce(max(dac.active_customers), 0) as active_customers
from latest_day as ld
left join marts.mart_daily_active_customers as dac on ld.date_day = dac.date_day
