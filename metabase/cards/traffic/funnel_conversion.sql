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

reached as (
    -- a session reaches every step up to its deepest one
    select
        s.funnel_step,
        s.step_name,
        coalesce(sum(ds.sessions), 0) as sessions
    from steps as s
    left join marts.mart_daily_sessions as ds on s.funnel_step <= ds.deepest_step
    group by s.funnel_step, s.step_name
)

select
    r.step_name,
    r.sessions,
    r.sessions::numeric / nullif(max(r.sessions) over (), 0) as share_of_sessions
from reached as r
order by r.funnel_step
