with revenue_lines as (
    select fo.line_revenue
    from marts.fact_orders as fo
    where fo.is_revenue
)

select coalesce(sum(rl.line_revenue), 0)::numeric(14, 2) as total_revenue
from revenue_lines as rl
