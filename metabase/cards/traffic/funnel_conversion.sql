with steps as (
    select
        s.funnel_step,
        s.step_name
    from (
        values
        (1, 'Page view'),
        (2, 'Product view'),
        (3, 'Add to cart'),
        (4, 'Checkout'),
        (5, 'Purchase')
    ) as s (funnel_step, step_name)
),

session_depth as (
    select
        fe.session_id,
        max(fe.funnel_step) as deepest_step
    from marts.fact_events as fe
    group by fe.session_id
),

reached as (
    select
        s.funnel_step,
        s.step_name,
        count(sd.session_id) as sessions
    from steps as s
    left join session_depth as sd on s.funnel_step <= sd.deepest_step
    group by s.funnel_step, s.step_name
)

select
    r.step_name,
    r.sessions,
    r.sessions::numeric / nullif(max(r.sessions) over (), 0) as share_of_sessions
from reached as r
order by r.funnel_step
