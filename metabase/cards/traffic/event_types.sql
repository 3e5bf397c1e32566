select
    fe.event_type,
    count(fe.event_id) as events
from marts.fact_events as fe
group by fe.event_type, fe.funnel_step
order by fe.funnel_step, fe.event_type
