select
    fe.device_type,
    count(distinct fe.session_id) as sessions
from marts.fact_events as fe
group by fe.device_type
order by count(distinct fe.session_id) desc, fe.device_type
