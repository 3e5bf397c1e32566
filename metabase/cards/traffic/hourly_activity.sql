select
    ht.event_hour,
    ht.events,
    ht.sessions
from marts.mart_hourly_traffic as ht
order by ht.event_hour
