select
    ds.device_type,
    sum(ds.sessions) as sessions
from marts.mart_daily_sessions as ds
group by ds.device_type
order by sum(ds.sessions) desc, ds.device_type
